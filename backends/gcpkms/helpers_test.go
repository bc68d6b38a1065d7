package gcpkms_test

import (
	"context"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/internal/gcpkmstest"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

const (
	project  = "keyport-test"
	location = "europe-west1"
	keyRing  = "projects/" + project + "/locations/" + location + "/keyRings/keyport"
)

// env is a test server, an admin client of it, and a Backend over a client of its own.
type env struct {
	srv   *gcpkmstest.Server
	admin *kms.KeyManagementClient
	b     *gcpkms.Backend
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	srv := gcpkmstest.Start(t)
	admin, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/" + project + "/locations/" + location, KeyRingId: "keyport"}); err != nil {
		t.Fatal(err)
	}
	b, err := gcpkms.New(ctx, gcpkms.Options{ClientOptions: srv.ClientOptions("")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &env{srv: srv, admin: admin, b: b}
}

// key creates a symmetric key and returns its canonical URI.
func (e *env) key(t testing.TB, id string, level kmspb.ProtectionLevel) string {
	t.Helper()
	ck, err := e.admin.CreateCryptoKey(context.Background(), &kmspb.CreateCryptoKeyRequest{
		Parent: keyRing, CryptoKeyId: id,
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{ProtectionLevel: level, Algorithm: kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return "gcpkms://" + ck.GetName()
}

func name(uri string) string { return uri[len("gcpkms://"):] }

// setState sets version n of key to ENABLED or DISABLED.
func (e *env) setState(t testing.TB, key string, n string, st kmspb.CryptoKeyVersion_CryptoKeyVersionState) {
	t.Helper()
	_, err := e.admin.UpdateCryptoKeyVersion(context.Background(), &kmspb.UpdateCryptoKeyVersionRequest{
		CryptoKeyVersion: &kmspb.CryptoKeyVersion{Name: name(key) + "/cryptoKeyVersions/" + n, State: st},
		UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"state"}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) scheduleDestroy(t testing.TB, key, n string) {
	t.Helper()
	if _, err := e.admin.DestroyCryptoKeyVersion(context.Background(), &kmspb.DestroyCryptoKeyVersionRequest{Name: name(key) + "/cryptoKeyVersions/" + n}); err != nil {
		t.Fatal(err)
	}
}

// rotate makes a new version of key and makes it primary, as a rotation does.
func (e *env) rotate(ctx context.Context, key string) error {
	v, err := e.admin.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: name(key), CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
	if err != nil {
		return err
	}
	id := v.GetName()[len(name(key)+"/cryptoKeyVersions/"):]
	_, err = e.admin.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: name(key), CryptoKeyVersionId: id})
	return err
}
