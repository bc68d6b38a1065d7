package backends

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKeyRefForms(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	const mrk = "mrk-1234abcd12ab34cd56ef1234567890ab"
	tests := []struct {
		in                         string
		form                       RefForm
		keyID, alias, acct, region string
		partition, scheme          string
	}{
		{in: id, form: FormKeyID, keyID: id},
		{in: mrk, form: FormKeyID, keyID: mrk},
		{in: "arn:aws:kms:us-east-1:111122223333:key/" + id, form: FormKeyARN, keyID: id, acct: "111122223333", region: "us-east-1", partition: "aws"},
		{in: "arn:aws-cn:kms:cn-north-1:111122223333:key/" + mrk, form: FormKeyARN, keyID: mrk, acct: "111122223333", region: "cn-north-1", partition: "aws-cn"},
		{in: "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/" + id, form: FormKeyARN, keyID: id, acct: "111122223333", region: "us-gov-west-1", partition: "aws-us-gov"},
		{in: "alias/ExampleAlias", form: FormAliasName, alias: "alias/ExampleAlias"},
		{in: "alias/aws/s3", form: FormAliasName, alias: "alias/aws/s3"},
		{in: "alias/a_b-c/d", form: FormAliasName, alias: "alias/a_b-c/d"},
		{in: "arn:aws:kms:eu-west-2:444455556666:alias/orders", form: FormAliasARN, alias: "alias/orders", acct: "444455556666", region: "eu-west-2", partition: "aws"},
		{in: "vault://transit/orders", form: FormURI, scheme: "vault"},
		{in: "VAULT://transit/orders", form: FormURI, scheme: "vault"},
		{in: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", form: FormURI, scheme: "gcpkms"},
		{in: "pkcs11:token=t;object=o", form: FormURI, scheme: "pkcs11"},
		{in: "awskms:///alias/x?region=us-west-2", form: FormURI, scheme: "awskms"},
	}
	for _, tt := range tests {
		ref, err := ParseKeyRef(tt.in)
		if err != nil {
			t.Errorf("ParseKeyRef(%q): unexpected error %v", tt.in, err)
			continue
		}
		if ref.Form != tt.form || ref.KeyID != tt.keyID || ref.Alias != tt.alias || ref.Account != tt.acct ||
			ref.Region != tt.region || ref.Partition != tt.partition || ref.Scheme != tt.scheme || ref.Raw != tt.in {
			t.Errorf("ParseKeyRef(%q) = %+v; want form %v keyID %q alias %q account %q region %q partition %q scheme %q",
				tt.in, ref, tt.form, tt.keyID, tt.alias, tt.acct, tt.region, tt.partition, tt.scheme)
		}
		if ref.IsAWS() != (tt.form != FormURI) {
			t.Errorf("ParseKeyRef(%q).IsAWS() = %v", tt.in, ref.IsAWS())
		}
		if ref.IsARN() != (tt.form == FormKeyARN || tt.form == FormAliasARN) {
			t.Errorf("ParseKeyRef(%q).IsARN() = %v", tt.in, ref.IsARN())
		}
		if ref.MultiRegion() != strings.HasPrefix(tt.keyID, "mrk-") {
			t.Errorf("ParseKeyRef(%q).MultiRegion() = %v", tt.in, ref.MultiRegion())
		}
	}
}

func TestParseKeyRefRejects(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	bad := []string{
		"",
		"1234ABCD-12AB-34CD-56EF-1234567890AB", // AWS key IDs are lower case
		"1234abcd12ab34cd56ef1234567890ab",     // no dashes
		"1234abcd-12ab-34cd-56ef-1234567890a",  // short
		"1234abcd-12ab-34cd-56ef-1234567890abc",
		"1234abcg-12ab-34cd-56ef-1234567890ab",
		"mrk-1234",
		"mrk-1234abcd12ab34cd56ef1234567890aZ",
		"alias/",
		"alias/has space",
		"alias/emoji\u2603",
		"alias/" + strings.Repeat("a", 251),
		"orders",
		"c:\\keys\\orders",
		"arn:aws:kms:us-east-1:111122223333",
		"arn:aws:kms:us-east-1:111122223333:key/",
		"arn:aws:kms:us-east-1:111122223333:key/not-a-key",
		"arn:aws:kms:us-east-1:11112222333:key/" + id,   // 11-digit account
		"arn:aws:kms:us-east-1:1111222233334:key/" + id, // 13-digit account
		"arn:aws:kms::111122223333:key/" + id,           // no region
		"arn:aws:kms:US-EAST-1:111122223333:key/" + id,
		"arn:aws:s3:us-east-1:111122223333:key/" + id,
		"arn:aws:kms:us-east-1:111122223333:grant/" + id,
		"arn:notapartition:kms:us-east-1:111122223333:key/" + id,
		"arn:aws:kms:us-east-1:111122223333:alias/",
		"arn:aws:kms:us-east-1:111122223333:alias/bad name",
		"1:foo",
		"://x",
		strings.Repeat("a", 2049),
	}
	for _, s := range bad {
		ref, err := ParseKeyRef(s)
		if err == nil {
			t.Errorf("ParseKeyRef(%q) = %+v; want an error", truncate(s, 60), ref)
			continue
		}
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("ParseKeyRef(%q) error %v does not match ErrNotFound", truncate(s, 60), err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Errorf("ParseKeyRef(%q) error %v is not a *Error with a message", truncate(s, 60), err)
		}
	}
}

func TestARNBuilders(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	k := KeyARN("aws", "us-east-1", "111122223333", id)
	if ref, err := ParseKeyRef(k); err != nil || ref.Form != FormKeyARN || ref.KeyID != id {
		t.Errorf("KeyARN round trip: %q -> %+v, %v", k, ref, err)
	}
	a := AliasARN("aws", "us-east-1", "111122223333", "alias/x")
	if ref, err := ParseKeyRef(a); err != nil || ref.Form != FormAliasARN || ref.Alias != "alias/x" {
		t.Errorf("AliasARN round trip: %q -> %+v, %v", a, ref, err)
	}
}

// FuzzParseKeyRef checks that ParseKeyRef never panics, that what it accepts is
// self-consistent, and that an accepted ARN rebuilds to the same string.
func FuzzParseKeyRef(f *testing.F) {
	for _, s := range []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab",
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111122223333:alias/x", "alias/x", "vault://transit/k", "pkcs11:token=a;object=b", "", "arn:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseKeyRef(s)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("error %v does not match ErrNotFound", err)
			}
			return
		}
		if ref.Raw != s {
			t.Fatalf("Raw = %q, want %q", ref.Raw, s)
		}
		switch ref.Form {
		case FormKeyID:
			if ref.KeyID != s {
				t.Fatalf("key ID %q != input", ref.KeyID)
			}
		case FormAliasName:
			if ref.Alias != s {
				t.Fatalf("alias %q != input", ref.Alias)
			}
		case FormKeyARN:
			if got := KeyARN(ref.Partition, ref.Region, ref.Account, ref.KeyID); got != s {
				t.Fatalf("KeyARN rebuilds %q from %q", got, s)
			}
		case FormAliasARN:
			if got := AliasARN(ref.Partition, ref.Region, ref.Account, ref.Alias); got != s {
				t.Fatalf("AliasARN rebuilds %q from %q", got, s)
			}
		case FormURI:
			if ref.URI == nil || ref.Scheme == "" || strings.ToLower(ref.URI.Scheme) != ref.Scheme {
				t.Fatalf("URI form without a consistent scheme: %+v", ref)
			}
		default:
			t.Fatalf("unknown form %v", ref.Form)
		}
	})
}

func TestMRKMatch(t *testing.T) {
	east := "arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
	west := "arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{east, east, true},
		{east, west, true},
		{east, strings.Replace(west, "111122223333", "444455556666", 1), false},
		{east, strings.Replace(west, "arn:aws:", "arn:aws-cn:", 1), false},
		{east, strings.Replace(west, "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdee", 1), false},
		{east, "mrk-0123456789abcdef0123456789abcdef", false},
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"arn:aws:kms:us-east-1:111122223333:alias/mrk-x", "arn:aws:kms:us-west-2:111122223333:alias/mrk-x", false},
		{"alias/a", "alias/a", true},
		{"junk", "junk2", false},
	} {
		if got := MRKMatch(tc.a, tc.b); got != tc.want {
			t.Errorf("MRKMatch(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}
