package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/internal/azurekvtest"
	"github.com/keyport/keyport/internal/gcpkmstest"
)

const (
	gcpRing   = "projects/keyport-test/locations/europe-west1/keyRings/cli"
	azVault   = "keyport-test.vault.azure.net"
	azHSM     = "keyport-hsm.managedhsm.azure.net"
	gcpPrefix = "gcpkms://" + gcpRing + "/cryptoKeys/"
	azPrefix  = "azurekv://" + azVault + "/keys/"
)

// clouds are the loopback Cloud KMS and Key Vault servers, with admin clients
// of the test's own. For the rest of the test the command's Cloud KMS and Key
// Vault key URLs go to them.
type clouds struct {
	gcp      *gcpkmstest.Server
	gcpAdmin *kms.KeyManagementClient
	az       *azurekvtest.Server
	azAdmin  *azkeys.Client
}

func startClouds(t *testing.T) *clouds {
	t.Helper()
	ctx := context.Background()
	c := &clouds{gcp: gcpkmstest.Start(t), az: azurekvtest.Start(t)}
	var err error
	if c.gcpAdmin, err = kms.NewKeyManagementClient(ctx, c.gcp.ClientOptions("")...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.gcpAdmin.Close() })
	if _, err := c.gcpAdmin.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/keyport-test/locations/europe-west1", KeyRingId: "cli"}); err != nil {
		t.Fatal(err)
	}
	c.az.AddVault(azHSM)
	if c.azAdmin, err = azkeys.NewClient(c.az.AddVault(azVault), c.az.NewCredential(), c.az.ClientOptions(-1)); err != nil {
		t.Fatal(err)
	}

	// The drivers open as package keyport's openers open them, with the
	// servers' client options; the Key Vault adapter takes a credential of its
	// own, as it does from the environment.
	var openers []*gcpkms.Opener
	oldFront, oldAccess := newURLFront, azureAccess
	newURLFront = func() *backends.Front {
		f := new(backends.Front)
		g := &gcpkms.Opener{Options: gcpkms.Options{ClientOptions: c.gcp.ClientOptions("")}}
		openers = append(openers, g)
		a := &azurekv.Opener{Options: azurekv.Options{Credential: c.az.NewCredential(), ClientOptions: c.az.ClientOptions(-1)}}
		if err := g.Register(f); err != nil {
			t.Fatal(err)
		}
		if err := a.Register(f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	azureAccess = func() (azcore.TokenCredential, *azkeys.ClientOptions, error) {
		return c.az.NewCredential(), c.az.ClientOptions(-1), nil
	}
	t.Cleanup(func() {
		newURLFront, azureAccess = oldFront, oldAccess
		for _, o := range openers {
			o.Close()
		}
	})
	return c
}

// mustJSON runs the tool with --output json and decodes its result into v.
func (w *world) mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := w.must(t, nil, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("keyport %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs the tool and fails the test unless it exits with code and its
// stderr holds every one of want.
func (w *world) fails(t *testing.T, code int, want []string, args ...string) {
	t.Helper()
	got, out, errs := w.kp(t, nil, args...)
	if got != code {
		t.Fatalf("keyport %s: exit %d, want %d\nstdout %q\nstderr %q", strings.Join(args, " "), got, code, out, errs)
	}
	for _, s := range want {
		if !strings.Contains(errs, s) {
			t.Fatalf("keyport %s: stderr %q does not say %q", strings.Join(args, " "), errs, s)
		}
	}
}

func (w *world) describe(t *testing.T, key string) awsKeyMetadata {
	t.Helper()
	var r keyMetadataResult
	w.mustJSON(t, &r, "keys", "describe", key)
	return r.KeyMetadata
}

// blob encrypts a plaintext under key with encrypt-blob and returns the
// ciphertext blob (base64) and the plaintext (base64).
func (w *world) blob(t *testing.T, key string) (blob, plaintext string) {
	t.Helper()
	plaintext = base64.StdEncoding.EncodeToString(randBytes(32))
	var r struct{ CiphertextBlob, KeyId string }
	w.mustJSON(t, &r, "encrypt-blob", "--key", key, "--plaintext", plaintext)
	if r.KeyId != key || r.CiphertextBlob == "" {
		t.Fatalf("encrypt-blob under %s: KeyId %q, %d bytes of blob", key, r.KeyId, len(r.CiphertextBlob))
	}
	return r.CiphertextBlob, plaintext
}

// opens reports whether blob decrypts (under key) to plaintext; a failure
// must be a DisabledException.
func (w *world) opens(t *testing.T, key, blob, plaintext string) bool {
	t.Helper()
	code, out, errs := w.kp(t, nil, "decrypt-blob", "--key", key, "--ciphertext-blob", blob, "--output", "json")
	if code != ExitOK {
		if !strings.Contains(errs, "DisabledException") {
			t.Fatalf("decrypt-blob: exit %d, stderr %q, want DisabledException", code, errs)
		}
		return false
	}
	var r struct{ Plaintext, KeyId string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Plaintext != plaintext || r.KeyId != key {
		t.Fatalf("decrypt-blob: %v, KeyId %q, same plaintext %v", err, r.KeyId, r.Plaintext == plaintext)
	}
	return true
}

type listResult struct {
	Keys []keyEntry `json:"Keys"`
}

func (l listResult) entry(arn string) *keyEntry {
	for i := range l.Keys {
		if l.Keys[i].KeyArn == arn {
			return &l.Keys[i]
		}
	}
	return nil
}

// within fails unless the RFC 3339 date is d from now, give or take a minute.
func within(t *testing.T, date string, d time.Duration) {
	t.Helper()
	got, err := time.Parse(time.RFC3339, date)
	if err != nil {
		t.Fatalf("date %q: %v", date, err)
	}
	if off := time.Until(got) - d; off < -time.Minute || off > time.Minute {
		t.Fatalf("date %s is %s from now, want %s", date, time.Until(got).Round(time.Second), d)
	}
}

// gcpStates returns the states of the CryptoKey's versions, in order.
func (c *clouds) gcpStates(t *testing.T, key string) []string {
	t.Helper()
	it := c.gcpAdmin.ListCryptoKeyVersions(context.Background(), &kmspb.ListCryptoKeyVersionsRequest{Parent: strings.TrimPrefix(key, "gcpkms://")})
	var states []string
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return states
		}
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, v.GetState().String())
	}
}

func TestKeysGCPKMS(t *testing.T) {
	w := newWorld(t)
	c := startClouds(t)
	orders := gcpPrefix + "orders"
	unsupported := []string{"UnsupportedOperationException", "unsupported by this service", "Google Cloud KMS"}

	// create: a symmetric key, SOFTWARE unless --key-type HSM.
	var created keyMetadataResult
	w.mustJSON(t, &created, "keys", "create", orders)
	if md := created.KeyMetadata; md.Arn != orders || md.KeyState != backends.KeyStateEnabled || !md.Enabled ||
		md.KeySpec != "GOOGLE_SYMMETRIC_ENCRYPTION" || md.CurrentVersion != 1 || !strings.Contains(md.Description, "protection level SOFTWARE") {
		t.Fatalf("keys create: %+v", md)
	}
	if arn := strings.TrimSpace(w.must(t, nil, "keys", "create", gcpPrefix+"vault-hsm", "--key-type", "hsm")); arn != gcpPrefix+"vault-hsm" {
		t.Fatalf("keys create printed %q", arn)
	}
	if md := w.describe(t, gcpPrefix+"vault-hsm"); !strings.Contains(md.Description, "protection level HSM") {
		t.Fatalf("an HSM key: %+v", md)
	}
	w.fails(t, ExitFailure, []string{"AlreadyExistsException"}, "keys", "create", orders)
	w.fails(t, ExitFailure, []string{"NotFoundException", "gcloud kms keyrings create other"}, "keys", "create", "gcpkms://projects/keyport-test/locations/europe-west1/keyRings/other/cryptoKeys/k")
	w.fails(t, ExitUsage, []string{"SOFTWARE", "HSM"}, "keys", "create", gcpPrefix+"x", "--key-type", "EXTERNAL")
	w.fails(t, ExitFailure, unsupported, "keys", "create", gcpPrefix+"x", "--description", "d")
	w.fails(t, ExitUsage, []string{"key ring"}, "keys", "list", "gcpkms://projects/keyport-test/locations/europe-west1")

	// list: the key ring's keys, in Tink's form too.
	var l listResult
	w.mustJSON(t, &l, "keys", "list", "gcpkms://"+gcpRing)
	if len(l.Keys) != 2 || l.entry(orders) == nil || l.entry(orders).KeyState != "Enabled" || l.entry(orders).KeyId != strings.TrimPrefix(orders, "gcpkms://") {
		t.Fatalf("keys list: %+v", l.Keys)
	}
	if out := w.must(t, nil, "keys", "list", "gcp-kms://"+gcpRing+"/"); !strings.Contains(out, orders+"\tEnabled\t") {
		t.Fatalf("keys list (text, gcp-kms://): %q", out)
	}

	// rotate: a new primary; the old version still decrypts.
	blob1, pt1 := w.blob(t, orders)
	var rotated map[string]string
	w.mustJSON(t, &rotated, "keys", "rotate", orders)
	if rotated["KeyId"] != orders {
		t.Fatalf("keys rotate: %v", rotated)
	}
	if md := w.describe(t, orders); md.CurrentVersion != 2 || md.KeyState != backends.KeyStateEnabled {
		t.Fatalf("after a rotation: %+v", md)
	}
	blob2, pt2 := w.blob(t, orders)
	if !w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob does not open after a rotation")
	}

	// disable: every version, so old blobs do not open either; enable: all back.
	w.must(t, nil, "keys", "disable", orders)
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateDisabled || md.Enabled {
		t.Fatalf("after disable: %+v", md)
	}
	if got := strings.Join(c.gcpStates(t, orders), " "); got != "DISABLED DISABLED" {
		t.Fatalf("after disable the versions are %s", got)
	}
	if w.opens(t, orders, blob1, pt1) || w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob opens under a disabled key")
	}
	w.must(t, nil, "keys", "disable", orders) // as AWS KMS: no change, no error
	w.must(t, nil, "keys", "enable", orders)
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateEnabled {
		t.Fatalf("after enable: %+v", md)
	}
	if !w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob does not open after enable")
	}

	// A version URL: that version alone.
	w.must(t, nil, "keys", "disable", orders+"/cryptoKeyVersions/1")
	if got := strings.Join(c.gcpStates(t, orders), " "); got != "DISABLED ENABLED" {
		t.Fatalf("after disabling version 1 the versions are %s", got)
	}
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateEnabled {
		t.Fatalf("the primary's state is the key's: %+v", md)
	}
	if w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("disabling version 1 changed what else opens")
	}
	w.must(t, nil, "keys", "enable", orders+"/cryptoKeyVersions/1")
	w.fails(t, ExitUsage, []string{"not a version"}, "keys", "rotate", orders+"/cryptoKeyVersions/1")

	// schedule-deletion: the key's own window; another is refused first.
	w.fails(t, ExitFailure, []string{"ValidationException", "720h0m0s"}, "keys", "schedule-deletion", orders, "--pending-window-in-days", "7")
	if got := strings.Join(c.gcpStates(t, orders), " "); got != "ENABLED ENABLED" {
		t.Fatalf("a refused schedule-deletion changed the versions: %s", got)
	}
	var del deletionResult
	w.mustJSON(t, &del, "keys", "schedule-deletion", orders)
	if del.KeyId != orders || del.KeyState != "PendingDeletion" || del.PendingWindowInDays != 30 {
		t.Fatalf("keys schedule-deletion: %+v", del)
	}
	within(t, del.DeletionDate, 30*24*time.Hour)
	if got := strings.Join(c.gcpStates(t, orders), " "); got != "DESTROY_SCHEDULED DESTROY_SCHEDULED" {
		t.Fatalf("after schedule-deletion the versions are %s", got)
	}
	if md := w.describe(t, orders); md.KeyState != backends.KeyStatePendingDeletion || md.DeletionDate != del.DeletionDate {
		t.Fatalf("a key pending deletion: %+v, want DeletionDate %s", md, del.DeletionDate)
	}
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException"}, "keys", "schedule-deletion", orders)
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException"}, "keys", "enable", orders)
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException"}, "encrypt-blob", "--key", orders, "--plaintext", pt1)

	// cancel-deletion: the versions come back disabled, as AWS KMS leaves a key.
	var canceled map[string]string
	w.mustJSON(t, &canceled, "keys", "cancel-deletion", orders)
	if canceled["KeyId"] != orders {
		t.Fatalf("keys cancel-deletion: %v", canceled)
	}
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateDisabled {
		t.Fatalf("after cancel-deletion: %+v", md)
	}
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException", "not pending deletion"}, "keys", "cancel-deletion", orders)
	w.must(t, nil, "keys", "enable", orders)
	if !w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob does not open after cancel-deletion and enable")
	}

	// A key made with another destroy-scheduled duration: that one is reported,
	// and asked for by name it is accepted.
	if _, err := c.gcpAdmin.CreateCryptoKey(context.Background(), &kmspb.CreateCryptoKeyRequest{Parent: gcpRing, CryptoKeyId: "daily",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT, DestroyScheduledDuration: durationpb.New(24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	w.mustJSON(t, &del, "keys", "schedule-deletion", gcpPrefix+"daily", "--pending-window-in-days", "1")
	if del.PendingWindowInDays != 1 || del.KeyState != "PendingDeletion" {
		t.Fatalf("keys schedule-deletion of a key with a one-day window: %+v", del)
	}
	within(t, del.DeletionDate, 24*time.Hour)

	// Aliases and key policies do not exist in Cloud KMS.
	for _, args := range [][]string{
		{"keys", "alias", "create", "alias/orders", orders},
		{"keys", "alias", "update", "alias/orders", orders},
		{"keys", "policy", "get", orders},
		{"keys", "policy", "put", orders, "--policy", "{}"},
	} {
		w.fails(t, ExitFailure, unsupported, args...)
	}

	// Cloud KMS's answers map onto the taxonomy.
	c.gcp.InjectFault(gcpkmstest.Fault{Method: "DestroyCryptoKeyVersion", Code: codes.ResourceExhausted, Message: "quota"})
	w.fails(t, ExitFailure, []string{"ThrottlingException", "ScheduleKeyDeletion"}, "keys", "schedule-deletion", orders)
	if got := strings.Join(c.gcpStates(t, orders), " "); got != "ENABLED ENABLED" {
		t.Fatalf("a failed schedule-deletion changed the versions: %s", got)
	}
	c.gcp.SetIAMPolicy(strings.TrimPrefix(orders, "gcpkms://"), map[string][]string{"user:admin@example.com": {gcpkmstest.PermAdmin}})
	w.fails(t, ExitFailure, []string{"AccessDeniedException", "RotateKeyOnDemand"}, "keys", "rotate", orders)
	c.gcp.SetIAMPolicy(strings.TrimPrefix(orders, "gcpkms://"), nil)
}

// azStates returns the enabled flags of the key's versions, in creation order.
func (c *clouds) azStates(t *testing.T, name string) []bool {
	t.Helper()
	var on []bool
	pager := c.azAdmin.NewListKeyPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			on = append(on, *p.Attributes.Enabled)
		}
	}
	return on
}

func TestKeysAzureKeyVault(t *testing.T) {
	w := newWorld(t)
	c := startClouds(t)
	orders := azPrefix + "orders"
	unsupported := []string{"UnsupportedOperationException", "unsupported by this service", "Azure Key Vault"}

	// create: RSA-2048 by default, for wrapping only; another size on request.
	var created keyMetadataResult
	w.mustJSON(t, &created, "keys", "create", orders)
	if md := created.KeyMetadata; md.Arn != orders || md.KeyState != backends.KeyStateEnabled || md.KeySpec != "RSA-2048" || md.CurrentVersion != 1 {
		t.Fatalf("keys create: %+v", md)
	}
	kb, err := c.azAdmin.GetKey(context.Background(), "orders", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, o := range kb.Key.KeyOps {
		ops = append(ops, string(*o))
	}
	if strings.Join(ops, " ") != "wrapKey unwrapKey" {
		t.Fatalf("the new key's key_ops are %v", ops)
	}
	if arn := strings.TrimSpace(w.must(t, nil, "keys", "create", "https://"+azVault+"/keys/big", "--key-type", "RSA-3072")); arn != azPrefix+"big" {
		t.Fatalf("keys create printed %q", arn)
	}
	if md := w.describe(t, azPrefix+"big"); md.KeySpec != "RSA-3072" {
		t.Fatalf("an RSA-3072 key: %+v", md)
	}
	var hsm keyMetadataResult
	w.mustJSON(t, &hsm, "keys", "create", "azurekv://"+azHSM+"/keys/wrap")
	// (Key Vault never returns an oct-HSM key's material, so the driver cannot
	// tell its size.)
	if md := hsm.KeyMetadata; !strings.HasPrefix(md.KeySpec, "oct-HSM") {
		t.Fatalf("a Managed HSM key by default: %+v", md)
	}
	w.fails(t, ExitFailure, []string{"AlreadyExistsException"}, "keys", "create", orders)
	w.fails(t, ExitUsage, []string{"Managed HSM"}, "keys", "create", azPrefix+"x", "--key-type", "oct-HSM-256")
	w.fails(t, ExitUsage, []string{"only HSM keys"}, "keys", "create", "azurekv://"+azHSM+"/keys/x", "--key-type", "RSA-2048")
	w.fails(t, ExitUsage, []string{"RSA-HSM-4096"}, "keys", "create", azPrefix+"x", "--key-type", "EC-P256")
	w.fails(t, ExitFailure, unsupported, "keys", "create", azPrefix+"x", "--alias", "alias/x")
	w.fails(t, ExitUsage, []string{"a vault"}, "keys", "list", "azurekv://"+azVault+"/keys")

	// list: the vault's keys.
	var l listResult
	w.mustJSON(t, &l, "keys", "list", "azurekv://"+azVault)
	if len(l.Keys) != 2 || l.entry(orders) == nil || l.entry(orders).KeyState != "Enabled" || l.entry(orders).KeyId != "orders" {
		t.Fatalf("keys list: %+v", l.Keys)
	}
	if out := w.must(t, nil, "keys", "list", "https://"+azVault+"/"); !strings.Contains(out, orders+"\tEnabled\t") {
		t.Fatalf("keys list (text, https://): %q", out)
	}

	// rotate: a new current version; the old one still unwraps.
	blob1, pt1 := w.blob(t, orders)
	var rotated map[string]string
	w.mustJSON(t, &rotated, "keys", "rotate", orders)
	if rotated["KeyId"] != orders {
		t.Fatalf("keys rotate: %v", rotated)
	}
	if md := w.describe(t, orders); md.CurrentVersion != 2 {
		t.Fatalf("after a rotation: %+v", md)
	}
	blob2, pt2 := w.blob(t, orders)
	if !w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob does not open after a rotation")
	}

	// disable: every version; enable: every version back.
	w.must(t, nil, "keys", "disable", orders)
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateDisabled {
		t.Fatalf("after disable: %+v", md)
	}
	if got := c.azStates(t, "orders"); len(got) != 2 || got[0] || got[1] {
		t.Fatalf("after disable the versions' enabled flags are %v", got)
	}
	if w.opens(t, orders, blob1, pt1) || w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob opens under a disabled key")
	}
	w.must(t, nil, "keys", "enable", orders)
	if !w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob does not open after enable")
	}

	// A versioned key identifier: that version alone.
	first := kb.Key.KID.Version() // the version create made
	w.must(t, nil, "keys", "disable", "https://"+azVault+"/keys/orders/"+first)
	if w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("disabling the first version changed what else opens")
	}
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateEnabled {
		t.Fatalf("the current version's state is the key's: %+v", md)
	}
	w.must(t, nil, "keys", "enable", "https://"+azVault+"/keys/orders/"+first)
	w.fails(t, ExitUsage, []string{"without its version"}, "keys", "schedule-deletion", "https://"+azVault+"/keys/orders/"+first)

	// schedule-deletion: a soft delete, purged after the vault's retention.
	w.fails(t, ExitFailure, []string{"ValidationException", "90 days"}, "keys", "schedule-deletion", orders, "--pending-window-in-days", "7")
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateEnabled {
		t.Fatalf("a refused schedule-deletion changed the key: %+v", md)
	}
	var del deletionResult
	w.mustJSON(t, &del, "keys", "schedule-deletion", orders)
	if del.KeyId != orders || del.KeyState != "PendingDeletion" || del.PendingWindowInDays != 90 {
		t.Fatalf("keys schedule-deletion: %+v", del)
	}
	within(t, del.DeletionDate, azurekvtest.SoftDeleteRetention)
	if md := w.describe(t, orders); md.KeyState != backends.KeyStatePendingDeletion || md.DeletionDate != del.DeletionDate {
		t.Fatalf("a deleted key: %+v, want DeletionDate %s", md, del.DeletionDate)
	}
	w.mustJSON(t, &l, "keys", "list", "azurekv://"+azVault)
	if e := l.entry(orders); len(l.Keys) != 2 || e == nil || e.KeyState != "PendingDeletion" {
		t.Fatalf("keys list with a deleted key: %+v", l.Keys)
	}
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException", "cancel-deletion"}, "keys", "enable", orders)
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException"}, "keys", "rotate", orders)
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException"}, "keys", "schedule-deletion", orders)
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException", "cancel-deletion recovers it"}, "keys", "create", orders)

	// cancel-deletion: the key comes back as it was.
	var canceled map[string]string
	w.mustJSON(t, &canceled, "keys", "cancel-deletion", orders)
	if canceled["KeyId"] != orders {
		t.Fatalf("keys cancel-deletion: %v", canceled)
	}
	if md := w.describe(t, orders); md.KeyState != backends.KeyStateEnabled || md.CurrentVersion != 2 {
		t.Fatalf("after cancel-deletion: %+v", md)
	}
	if !w.opens(t, orders, blob1, pt1) || !w.opens(t, orders, blob2, pt2) {
		t.Fatal("a blob does not open after cancel-deletion")
	}
	w.fails(t, ExitFailure, []string{"KMSInvalidStateException", "not pending deletion"}, "keys", "cancel-deletion", orders)
	w.fails(t, ExitFailure, []string{"NotFoundException"}, "keys", "cancel-deletion", azPrefix+"never")

	// Aliases and key policies do not exist in Key Vault.
	for _, args := range [][]string{
		{"keys", "alias", "create", "alias/orders", orders},
		{"keys", "alias", "update", "alias/orders", orders},
		{"keys", "policy", "get", orders},
		{"keys", "policy", "put", orders, "--policy", "{}"},
	} {
		w.fails(t, ExitFailure, unsupported, args...)
	}

	// Key Vault's answers map onto the taxonomy.
	c.az.InjectFault(azurekvtest.Fault{Op: "rotate", Status: 429, Code: "Throttled", Message: "slow down", RetryAfter: "1"})
	w.fails(t, ExitFailure, []string{"ThrottlingException", "429 Throttled", "slow down"}, "keys", "rotate", orders)
	azureAccess = func() (azcore.TokenCredential, *azkeys.ClientOptions, error) {
		return c.az.NewCredential("get", "list"), c.az.ClientOptions(-1), nil
	}
	w.fails(t, ExitFailure, []string{"AccessDeniedException", "403"}, "keys", "disable", orders)
	if got := c.azStates(t, "orders"); len(got) != 2 || !got[0] || !got[1] {
		t.Fatalf("a refused disable changed the versions: %v", got)
	}
}
