package vault

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/internal/vaulttest"
)

// startOwnVault starts a Vault of the test's own from the vaultdev binary that
// scripts/components/vault.sh built, for tests that change the whole server (seal
// it), and returns its address, root token and unseal key.
func startOwnVault(t *testing.T) (addr, token, unsealKey string) {
	t.Helper()
	bin := testenv.Require(t, "KEYPORT_VAULTDEV_BIN", "the vaultdev binary")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "unseal.key")
	token = vaulttest.Name("root-")
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-token", token, "-unseal-key-file", keyFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "vaultdev.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "vaultdev ready addr="); ok {
				ready <- a
			}
		}
	}()
	select {
	case addr = <-ready:
	case <-time.After(60 * time.Second):
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("vaultdev did not get ready in 60s:\n%s", log)
	}
	k, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return addr, token, string(k)
}

func TestSealedVault(t *testing.T) {
	addr, token, unsealKey := startOwnVault(t)
	root := vaulttest.Client(t, addr, token)
	ctx := context.Background()
	if _, err := root.Logical().Write("transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Client: root})
	if err != nil {
		t.Fatal(err)
	}
	key := "vault://transit/k"
	blob := mustEncrypt(t, b, key, []byte("x"), nil) // also caches the key's metadata

	if err := root.Sys().SealWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrKeyUnavailable, "encrypt while sealed")
	if !backends.IsRetryable(err) {
		t.Fatal("a sealed Vault is not reported as retryable")
	}
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: blob})
	kmstest.WantKind(t, err, backends.ErrKeyUnavailable, "decrypt while sealed")
	_, err = b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	kmstest.WantKind(t, err, backends.ErrKeyUnavailable, "describe while sealed")

	if st, err := root.Sys().UnsealWithContext(ctx, unsealKey); err != nil || st.Sealed {
		t.Fatalf("unsealing: %+v, %v", st, err)
	}
	if got := mustDecrypt(t, b, key, blob, nil); string(got) != "x" {
		t.Fatal("the blob does not decrypt after unsealing")
	}
}
