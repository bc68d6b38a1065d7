package policy

import (
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		ok   bool
	}{
		{"kms:*", "kms:encrypt", true}, {"*", "", true}, {"kms:re*", "kms:reencryptfrom", true},
		{"kms:re*from", "kms:reencryptfrom", true}, {"kms:re*from", "kms:reencryptto", false},
		{"kms:?ecrypt", "kms:decrypt", true}, {"kms:?ecrypt", "kms:ecrypt", false},
		{"kms:decrypt", "kms:decrypt2", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
	} {
		if Glob(tc.p, tc.s) != tc.ok {
			t.Errorf("Glob(%q, %q) = %v", tc.p, tc.s, !tc.ok)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, err := Parse(Default("aws", "111122223333"))
	if err != nil {
		t.Fatal(err)
	}
	own := Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:role/x"}
	other := Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:root"}
	for _, a := range []string{"kms:Encrypt", "kms:PutKeyPolicy", "kms:ReEncryptFrom"} {
		if !p.Allows(Request{Caller: own, Action: a}) {
			t.Errorf("owner may not %s", a)
		}
		if p.Evaluate(Request{Caller: other, Action: a}) != NotApplicable {
			t.Errorf("other account may %s", a)
		}
	}
}

func TestParseSingleStatementObject(t *testing.T) {
	p, err := Parse(`{"Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":"kms:Decrypt","Resource":"*"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allows(Request{Caller: Caller{Account: "111122223333"}, Action: "kms:Decrypt"}) {
		t.Fatal("single statement object not honoured")
	}
	for _, bad := range []string{"", strings.Repeat(" ", MaxSize+1), `{"Version":"2099-01-01","Statement":[]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"me","Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":"1.2.3.4"}}}]}`,
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%.60q) accepted", bad)
		}
	}
}

func TestNormalizePrincipal(t *testing.T) {
	for in, want := range map[string]string{
		"111122223333":                     "acct:111122223333",
		"arn:aws:iam::111122223333:root":   "acct:111122223333",
		"arn:aws:iam::111122223333:role/x": "arn:aws:iam::111122223333:role/x",
	} {
		if got, ok := NormalizePrincipal(in); !ok || got != want {
			t.Errorf("NormalizePrincipal(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := NormalizePrincipal("bob"); ok {
		t.Error("bob accepted")
	}
}

// FuzzParsePolicy: Parse never panics, and what it accepts evaluates without panic.
func FuzzParsePolicy(f *testing.F) {
	f.Add(Default("aws", "111122223333"))
	f.Add(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":["kms:*"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:a":"b"}}}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		p.Evaluate(Request{Caller: Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root"}, Action: "kms:Decrypt", EncryptionContext: map[string]string{"a": "b"}})
	})
}
