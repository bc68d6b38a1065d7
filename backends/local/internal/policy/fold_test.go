package policy

import (
	"strings"
	"testing"
)

// FuzzGlobFold: matching an ASCII action case-insensitively gives what matching
// its lower-cased copy gives, for every pattern as Parse stores it (lower case).
func FuzzGlobFold(f *testing.F) {
	for _, s := range [][2]string{{"kms:*", "kms:Decrypt"}, {"kms:re*from", "KMS:ReEncryptFrom"}, {"kms:?ecrypt", "kms:Encrypt"},
		{"*", ""}, {"kms:decrypt", "kms:DecryptX"}, {"a*b*c", "AxxByyC"}, {"kms:*", "kms"}, {"kms:*", "KMs:"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		pattern = strings.ToLower(pattern)
		if !isASCII(s) {
			return
		}
		want := Glob(pattern, strings.ToLower(s))
		if got := globFold(pattern, s); got != want {
			t.Fatalf("globFold(%q, %q) = %v, Glob of the lower-cased action %v", pattern, s, got, want)
		}
		st := statement{actions: []string{pattern}}
		if got := st.matchAction(s); got != want {
			t.Fatalf("matchAction(%q) with pattern %q = %v, want %v", s, pattern, got, want)
		}
	})
}

func TestMatchActionNonASCII(t *testing.T) {
	st := statement{actions: []string{strings.ToLower("kms:Éncrypt")}}
	if !st.matchAction("kms:Éncrypt") || !st.matchAction("KMS:éncrypt") || st.matchAction("kms:Encrypt") {
		t.Fatal("non-ASCII actions are not matched through strings.ToLower")
	}
}

func TestEvaluateDefaultAllocs(t *testing.T) {
	p, err := Parse(Default("aws", "111122223333"))
	if err != nil {
		t.Fatal(err)
	}
	r := Request{Caller: Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root"}, Action: "kms:Decrypt",
		EncryptionContext: map[string]string{"a": "b"}}
	if n := testing.AllocsPerRun(100, func() {
		if !p.Allows(r) {
			t.Fatal("default policy denies its owner")
		}
	}); n != 0 {
		t.Errorf("evaluating the default policy allocates %v times", n)
	}
}
