package kmsapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/kmsapi"
)

// TestServeTLS serves the API over HTTPS with a self-signed certificate that the
// SDK trusts through its PEM, and refuses clients that do not trust it.
func TestServeTLS(t *testing.T) {
	cfg, certPEM, err := kmsapi.SelfSignedTLS(time.Hour)
	mustOK(t, err)
	srv, err := kmsapi.New(kmsapi.Options{Services: []*local.Service{local.New()}, Principals: testPrincipals()})
	mustOK(t, err)
	addr := serve(t, srv, cfg)

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("the certificate PEM does not parse")
	}
	url := "https://" + addr
	client := kms.NewFromConfig(aws.Config{
		Region:      east,
		Credentials: credentials.NewStaticCredentialsProvider(akidA, secretFor+akidA, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(url); o.RetryMaxAttempts = 1 })
	k, err := client.CreateKey(context.Background(), &kms.CreateKeyInput{})
	mustOK(t, err)
	if _, err := client.Encrypt(context.Background(), &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("Encrypt over TLS: %v", err)
	}
	if _, err := http.Get(url + kmsapi.HealthPath); err == nil {
		t.Fatal("a client that does not trust the self-signed certificate connected")
	}
}

// TestLoadTLS serves with a certificate and key read from PEM files.
func TestLoadTLS(t *testing.T) {
	made, certPEM, err := kmsapi.SelfSignedTLS(time.Hour, "kms.test")
	mustOK(t, err)
	der, err := x509.MarshalECPrivateKey(made.Certificates[0].PrivateKey.(*ecdsa.PrivateKey))
	mustOK(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	mustOK(t, os.WriteFile(certFile, certPEM, 0o600))
	mustOK(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	cfg, err := kmsapi.LoadTLS(certFile, keyFile)
	mustOK(t, err)
	if len(cfg.Certificates) != 1 || !bytes.Equal(cfg.Certificates[0].Certificate[0], made.Certificates[0].Certificate[0]) || cfg.MinVersion < tls.VersionTLS12 {
		t.Fatal("LoadTLS did not load the certificate written")
	}
	if _, err := kmsapi.LoadTLS(certFile, filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("LoadTLS without a key file: no error")
	}
}

// TestGracefulShutdown cancels the server while a request is in flight: the
// request completes, Serve returns nil, and later connections are refused.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kmsapi.Serve(ctx, ln, slow, nil, 10*time.Second) }()
	url := "http://" + ln.Addr().String() + "/"
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if s := <-got; s != "done" {
		t.Fatalf("the request in flight got %q, want it completed", s)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after a graceful shutdown: %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("a connection was accepted after the shutdown")
	}
}

// TestShutdownGraceExpires returns an error when a request outlives the grace
// period.
func TestShutdownGraceExpires(t *testing.T) {
	started := make(chan struct{})
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kmsapi.Serve(ctx, ln, stuck, nil, 50*time.Millisecond) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve with a stuck request: %v, want the grace period's deadline", err)
	}
}
