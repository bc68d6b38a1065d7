package envelope_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// FuzzDecrypt feeds arbitrary bytes to the streaming decryptor (and Decrypt):
// no panic, typed errors, and plaintext only when authentic: on an error at most
// a proper prefix of the one plaintext any authentic message here carries.
func FuzzDecrypt(f *testing.F) {
	kr := aesKeyring(f, "k1", 1)
	pt := randBytes(42, 100)
	var seed []byte
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, F := range []int{16, 100, 4096} {
			msg, err := envelope.Encrypt(context.Background(), pt, envelope.EncryptOptions{Keyring: kr, Suite: s, FrameLength: F, EncryptionContext: map[string]string{"a": "b"}})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(msg)
			seed = msg
		}
	}
	// A Result that already describes a message, copied into each run.
	reused := new(envelope.Result)
	if _, err := envelope.AppendDecryptInto(context.Background(), nil, seed, envelope.DecryptOptions{Keyring: kr}, reused); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		o := envelope.DecryptOptions{Keyring: kr, MaxEncryptedDataKeys: 4, Workers: 1 + len(msg)%2}
		if len(msg)%3 == 0 { // the caller's context, matched against the header's bytes
			o.EncryptionContext = map[string]string{"a": "b"}
		}
		out, err := streamDecrypt(msg, o)
		if err != nil {
			if backends.KindOf(err) == nil {
				t.Fatalf("untyped error %v", err)
			}
			if len(out) >= len(pt) || !bytes.HasPrefix(pt, out) {
				t.Fatalf("error %v after releasing %d bytes that are not an authentic proper prefix", err, len(out))
			}
		} else if !bytes.Equal(out, pt) {
			t.Fatal("decrypted to something else than the authentic plaintext")
		}
		bpt, _, berr := envelope.Decrypt(context.Background(), msg, o)
		if (berr == nil) != (err == nil) {
			t.Fatalf("Decrypt and the streaming decryptor disagree: %v / %v", berr, err)
		}
		if berr != nil && bpt != nil {
			t.Fatal("Decrypt returned plaintext with an error")
		}
		// Into a Result that described another message: the same answer, and
		// nothing of the other message left after an error.
		res := *reused
		ipt, ierr := envelope.AppendDecryptInto(context.Background(), nil, msg, o, &res)
		if (ierr == nil) != (berr == nil) || !bytes.Equal(ipt, bpt) {
			t.Fatalf("AppendDecryptInto and Decrypt disagree: %v / %v", ierr, berr)
		}
		if ierr != nil && (res.Header != nil || res.EncryptionContext != nil) {
			t.Fatal("a failed AppendDecryptInto left a description in its Result")
		}
	})
}
