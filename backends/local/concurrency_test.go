package local_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

// TestConcurrentCryptoWhileClockActs runs Encrypt, Decrypt, GenerateDataKey and
// ReEncrypt on several goroutines (they share the service's read lock) while the
// clock rotates one key and deletes another (which takes the write lock). Run
// with -race. Every call either succeeds with the right plaintext or, for the
// deleted key, fails with a typed error; blobs of every backing-key version stay
// readable after the rotations.
func TestConcurrentCryptoWhileClockActs(t *testing.T) {
	f := newFixture(t)
	rot := f.key(f.a, nil).Arn
	gone := f.key(f.a, nil).Arn
	mustOK(t, f.a.EnableKeyRotation(bg, &local.EnableKeyRotationInput{KeyID: rot, RotationPeriodInDays: 90}))
	ec := map[string]string{"k": "v"}
	pt := []byte("thirty-two bytes of data key....")
	goneBlob := f.encrypt(f.a, gone, pt, ec)
	if _, err := f.a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: gone, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		blobs [][]byte
		errs  []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for g := range 4 {
		wg.Go(func() {
			for i := range 150 {
				switch (g + i) % 4 {
				case 0:
					out, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: rot, Plaintext: pt, EncryptionContext: ec})
					if err != nil {
						fail(err)
						continue
					}
					mu.Lock()
					blobs = append(blobs, out.CiphertextBlob)
					mu.Unlock()
				case 1:
					out, err := f.a.GenerateDataKey(bg, &backends.GenerateDataKeyInput{KeyID: rot, EncryptionContext: ec})
					if err != nil {
						fail(err)
						continue
					}
					dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
					if err != nil || !bytes.Equal(dec.Plaintext, out.Plaintext) {
						fail(errors.Join(errors.New("generated data key does not decrypt"), err))
					}
				case 2:
					_, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: goneBlob, SourceEncryptionContext: ec,
						DestinationKeyID: rot, DestinationEncryptionContext: ec})
					// Pending deletion, then deleted: never a success, always typed.
					if !errors.Is(err, backends.ErrInvalidState) && !errors.Is(err, backends.ErrNotFound) {
						fail(errors.Join(errors.New("ReEncrypt from a key being deleted"), err))
					}
				case 3:
					if _, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: rot}); err != nil {
						fail(err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 40 {
			f.clock.Advance(30 * day) // a rotation every three steps; the deletion after the first
		}
	})
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	md, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: rot})
	mustOK(t, err)
	if md.CurrentVersion < 10 {
		t.Fatalf("key rotated to version %d only", md.CurrentVersion)
	}
	for i, b := range blobs {
		dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: b, EncryptionContext: ec})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: goneBlob, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Decrypt of a blob of the deleted key")
}

// TestClosedServiceReadCalls: after Close the read-locked calls fail too.
func TestClosedServiceReadCalls(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil).Arn
	blob := f.encrypt(f.a, k, []byte("x"), nil)
	mustOK(t, f.svc.Close())
	_, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: k, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInternal, "Encrypt after Close")
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob})
	kmstest.WantKind(t, err, backends.ErrInternal, "Decrypt after Close")
}
