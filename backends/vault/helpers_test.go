package vault

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/vaulttest"
)

// devVault is the Vault dev server scripts/test.sh starts, with a Transit mount of
// the test's own.
type devVault struct {
	t     testing.TB
	addr  string
	root  *api.Client // root token
	mount string
	b     *Backend // over root, the mount's keys are its own
}

// newDevVault connects to the dev server and mounts a fresh Transit engine that it
// unmounts when the test ends.
func newDevVault(t testing.TB) *devVault {
	t.Helper()
	root, mount := vaulttest.Transit(t, "kp-")
	b, err := New(Options{Client: root})
	if err != nil {
		t.Fatal(err)
	}
	return &devVault{t: t, addr: root.Address(), root: root, mount: mount, b: b}
}

// key creates a Transit key with the given parameters and returns its URI.
func (v *devVault) key(name string, params map[string]any) string {
	v.t.Helper()
	if _, err := v.root.Logical().WriteWithContext(context.Background(), v.mount+"/keys/"+name, params); err != nil {
		v.t.Fatalf("creating key %s: %v", name, err)
	}
	return "vault://" + v.mount + "/" + name
}

// write is a root write to path that must succeed.
func (v *devVault) write(path string, data map[string]any) *api.Secret {
	v.t.Helper()
	s, err := v.root.Logical().WriteWithContext(context.Background(), path, data)
	if err != nil {
		v.t.Fatalf("write %s: %v", path, err)
	}
	return s
}

// exists reports whether the mount has a key of that name, asking Vault directly.
func (v *devVault) exists(name string) bool {
	v.t.Helper()
	s, err := v.root.Logical().ReadWithContext(context.Background(), v.mount+"/keys/"+name)
	if err != nil {
		v.t.Fatalf("reading key %s: %v", name, err)
	}
	return s != nil
}

// tokenWith creates a token with a policy of the given HCL rules and returns a
// backend that uses it.
func (v *devVault) tokenWith(rules string) *Backend {
	v.t.Helper()
	ctx := context.Background()
	pol := vaulttest.Name("pol-")
	if err := v.root.Sys().PutPolicyWithContext(ctx, pol, rules); err != nil {
		v.t.Fatal(err)
	}
	s, err := v.root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{pol}, NoDefaultPolicy: true})
	if err != nil {
		v.t.Fatal(err)
	}
	c, err := v.root.Clone()
	if err != nil {
		v.t.Fatal(err)
	}
	c.SetToken(s.Auth.ClientToken)
	b, err := New(Options{Client: c})
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

func mustEncrypt(t testing.TB, b *Backend, key string, pt []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Encrypt under %s: %v", key, err)
	}
	return out.CiphertextBlob
}

func mustDecrypt(t testing.TB, b *Backend, key string, blob []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := b.Decrypt(context.Background(), &backends.DecryptInput{KeyID: key, CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Decrypt under %s: %v", key, err)
	}
	return out.Plaintext
}
