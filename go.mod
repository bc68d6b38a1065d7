module github.com/keyport/keyport

go 1.26.8
