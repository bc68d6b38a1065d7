package gcpkms_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2/apierror"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/internal/gcpkmstest"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

func TestParseRef(t *testing.T) {
	const n = "projects/p-1/locations/us-east1/keyRings/ring_1/cryptoKeys/key-1"
	for _, s := range []string{n, "gcpkms://" + n, "gcp-kms://" + n, "GCP-KMS://" + n} {
		r, err := gcpkms.ParseRef(s)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", s, err)
			continue
		}
		if r.URI() != "gcpkms://"+n || r.Name() != n || r.Version != "" {
			t.Errorf("ParseRef(%q) = %+v, URI %q", s, r, r.URI())
		}
	}
	r, err := gcpkms.ParseRef("gcpkms://" + n + "/cryptoKeyVersions/12")
	if err != nil || r.Version != "12" || r.URI() != "gcpkms://"+n || r.VersionName() != n+"/cryptoKeyVersions/12" {
		t.Errorf("version reference: %+v, %v", r, err)
	}
	for _, s := range []string{
		"", "gcpkms://", "awskms://" + n, n + "/", "/" + n, n + "?x=1",
		"projects/p/locations/l/keyRings/r/cryptoKeys", "projects/p/locations/l/keyRings/r/keys/k",
		n + "/cryptoKeyVersions/0", n + "/cryptoKeyVersions/01", n + "/cryptoKeyVersions/x", n + "/versions/1",
		"projects/P/locations/l/keyRings/r/cryptoKeys/k", "projects/p/locations/l/keyRings/r/cryptoKeys/" + strings.Repeat("k", 64),
		"projects/p/locations/l/keyRings/r s/cryptoKeys/k", "gcpkms://" + strings.Repeat("x", 1100),
	} {
		if _, err := gcpkms.ParseRef(s); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("ParseRef(%q): want NotFound, got %v", s, err)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	f.Add("projects/p/locations/l/keyRings/r/cryptoKeys/k")
	f.Add("gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3")
	f.Add("gcpkms://projects/example.com:p/locations/l/keyRings/r/cryptoKeys/k")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := gcpkms.ParseRef(s)
		if err != nil {
			if !errors.Is(err, backends.ErrNotFound) {
				t.Fatalf("ParseRef(%q): error of another kind: %v", s, err)
			}
			return
		}
		// Every form parses to the same key as its canonical URI does.
		c, err := gcpkms.ParseRef(r.URI())
		if err != nil || c.Name() != r.Name() || c.Version != "" {
			t.Fatalf("ParseRef(%q).URI() = %q does not parse back: %+v, %v", s, r.URI(), c, err)
		}
		v, err := gcpkms.ParseRef(r.String())
		if err != nil || v != r {
			t.Fatalf("ParseRef(%q).String() = %q does not parse back: %+v, %v", s, r.String(), v, err)
		}
	})
}

// TestReferenceForms: the bare resource name, the version form (decrypt only) and
// the canonical output.
func TestReferenceForms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "forms", kmspb.ProtectionLevel_SOFTWARE)
	ec := map[string]string{"tenant": "acme"}
	out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: name(key), Plaintext: []byte("data key"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyID != key {
		t.Errorf("Encrypt by resource name: KeyID %q, want %q", out.KeyID, key)
	}
	for _, ref := range []string{name(key), key + "/cryptoKeyVersions/1", "gcp-kms://" + name(key) + "/cryptoKeyVersions/1"} {
		d, err := e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: ref, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil {
			t.Errorf("Decrypt by %s: %v", ref, err)
			continue
		}
		if string(d.Plaintext) != "data key" || d.KeyID != key {
			t.Errorf("Decrypt by %s: got %q under %q", ref, d.Plaintext, d.KeyID)
		}
	}
	_, err = e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key + "/cryptoKeyVersions/1", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt by a version")
	md, err := e.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key + "/cryptoKeyVersions/1"})
	if err != nil || md.Arn != key {
		t.Errorf("DescribeKey by a version: %+v, %v", md, err)
	}
	_, err = e.b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Decrypt without KeyID")
	if err != nil && !strings.Contains(err.Error(), "do not name their key") {
		t.Errorf("Decrypt without KeyID: the error does not say why: %v", err)
	}
	_, err = e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x"), EncryptionAlgorithm: backends.RSAESOAEPSHA256})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt with an RSA algorithm")
}

// TestRawCiphertextInterop: ciphertexts are Cloud KMS's own, so another client's
// decrypt with the encoded context, and the driver's of another client's blob.
func TestRawCiphertextInterop(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "interop", kmspb.ProtectionLevel_SOFTWARE)
	ec := map[string]string{"a": "b"}
	out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("from keyport"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.admin.Decrypt(ctx, &kmspb.DecryptRequest{Name: name(key), Ciphertext: out.CiphertextBlob, AdditionalAuthenticatedData: backends.EncodeEncryptionContext(ec)})
	if err != nil || string(d.GetPlaintext()) != "from keyport" {
		t.Errorf("another client's Decrypt of keyport's blob: %q, %v", d.GetPlaintext(), err)
	}
	raw, err := e.admin.Encrypt(ctx, &kmspb.EncryptRequest{Name: name(key), Plaintext: []byte("from gcloud")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: raw.GetCiphertext()})
	if err != nil || string(got.Plaintext) != "from gcloud" {
		t.Errorf("Decrypt of another client's blob: %v", err)
	}
	_, err = e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: raw.GetCiphertext(), EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of a blob without AAD under a context")
}

// TestChecksums injects damaged responses and requests: each is a retryable error
// carrying a *ChecksumError, and no damaged plaintext comes back.
func TestChecksums(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "crc", kmspb.ProtectionLevel_SOFTWARE)
	ec := map[string]string{"crc": "32c"}
	good, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("sixteen byte key"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, err error, field, by string) {
		t.Helper()
		kmstest.WantKind(t, err, backends.ErrInternal, "a damaged transfer")
		if !backends.IsRetryable(err) {
			t.Errorf("a checksum mismatch is not retryable: %v", err)
		}
		var ce *gcpkms.ChecksumError
		if !errors.As(err, &ce) {
			t.Fatalf("no *ChecksumError in %v", err)
		}
		if ce.Field != field || ce.Detected != by {
			t.Errorf("ChecksumError = %+v, want field %s detected by %s", ce, field, by)
		}
	}
	t.Run("EncryptResponse", func(t *testing.T) {
		e.srv.InjectFault(gcpkmstest.Fault{Method: "Encrypt", CorruptResponse: true})
		out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionContext: ec})
		check(t, err, "ciphertext", "client")
		if out != nil {
			t.Errorf("an output came back with the error")
		}
	})
	t.Run("EncryptUnverified", func(t *testing.T) {
		e.srv.InjectFault(gcpkmstest.Fault{Method: "Encrypt", Unverified: true})
		_, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionContext: ec})
		check(t, err, "plaintext", "client")
	})
	t.Run("DecryptResponse", func(t *testing.T) {
		e.srv.InjectFault(gcpkmstest.Fault{Method: "Decrypt", CorruptResponse: true})
		out, err := e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: good.CiphertextBlob, EncryptionContext: ec})
		check(t, err, "plaintext", "client")
		if out != nil {
			t.Errorf("a damaged plaintext came back")
		}
		// The fault is gone: the same call now succeeds, as a retry would.
		d, err := e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: good.CiphertextBlob, EncryptionContext: ec})
		if err != nil || string(d.Plaintext) != "sixteen byte key" {
			t.Errorf("Decrypt after the fault: %v", err)
		}
	})
	t.Run("RequestDamagedOnTheWay", func(t *testing.T) {
		// A client interceptor flips a bit of the request after its checksum was
		// computed; Cloud KMS (here the test server) finds the mismatch.
		flip := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			switch r := req.(type) {
			case *kmspb.EncryptRequest:
				r.Plaintext = append([]byte{r.Plaintext[0] ^ 1}, r.Plaintext[1:]...)
			case *kmspb.DecryptRequest:
				r.Ciphertext = append([]byte{r.Ciphertext[0] ^ 1}, r.Ciphertext[1:]...)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		opts := append(e.srv.ClientOptions(""), option.WithGRPCDialOption(grpc.WithUnaryInterceptor(flip)))
		damaged, err := gcpkms.New(ctx, gcpkms.Options{ClientOptions: opts})
		if err != nil {
			t.Fatal(err)
		}
		defer damaged.Close()
		pt := []byte("plaintext")
		_, err = damaged.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
		check(t, err, "plaintext", "Cloud KMS")
		if pt[0] != 'p' {
			t.Errorf("the caller's plaintext was changed")
		}
		var ae *apierror.APIError
		if !errors.As(err, &ae) || ae.GRPCStatus().Code() != codes.InvalidArgument {
			t.Errorf("Cloud KMS's error is not reachable: %v", err)
		}
		_, err = damaged.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: good.CiphertextBlob, EncryptionContext: ec})
		check(t, err, "ciphertext", "Cloud KMS")
	})
}

// noRetry returns a Backend whose client does not retry, so that one injected
// fault is what the Backend sees.
func noRetry(t *testing.T, srv *gcpkmstest.Server, token string) *gcpkms.Backend {
	t.Helper()
	c, err := kms.NewKeyManagementClient(context.Background(), srv.ClientOptions(token)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.CallOptions.Encrypt, c.CallOptions.Decrypt, c.CallOptions.GetCryptoKey = nil, nil, nil
	b, err := gcpkms.New(context.Background(), gcpkms.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestErrorTable provokes each status code through the real client and checks
// the kind it maps to.
func TestErrorTable(t *testing.T) {
	e := newEnv(t)
	b := noRetry(t, e.srv, "")
	ctx := context.Background()
	key := e.key(t, "errors", kmspb.ProtectionLevel_SOFTWARE)
	for _, tc := range []struct {
		code      codes.Code
		msg       string
		op        string
		want      *backends.Kind
		retryable bool
	}{
		{codes.NotFound, "CryptoKey x not found.", "Encrypt", backends.ErrNotFound, false},
		{codes.PermissionDenied, "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied", "Encrypt", backends.ErrAccessDenied, false},
		{codes.Unauthenticated, "Request had invalid authentication credentials.", "Decrypt", backends.ErrAccessDenied, false},
		{codes.FailedPrecondition, "v is not enabled, current state is: DISABLED.", "Encrypt", backends.ErrDisabled, false},
		{codes.FailedPrecondition, "v is not enabled, current state is: DESTROY_SCHEDULED.", "Decrypt", backends.ErrInvalidState, false},
		{codes.FailedPrecondition, "v is not enabled, current state is: DESTROYED.", "Decrypt", backends.ErrInvalidState, false},
		{codes.FailedPrecondition, "v is not enabled, current state is: PENDING_GENERATION.", "Encrypt", backends.ErrInvalidState, false},
		{codes.FailedPrecondition, "The key has no primary version.", "Encrypt", backends.ErrInvalidState, false},
		{codes.ResourceExhausted, "Quota exceeded for quota metric 'Cryptographic requests'.", "Encrypt", backends.ErrThrottling, true},
		{codes.Unavailable, "The service is currently unavailable.", "Decrypt", backends.ErrKeyUnavailable, true},
		{codes.DeadlineExceeded, "Deadline exceeded.", "Encrypt", backends.ErrDependencyTimeout, true},
		{codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.", "Decrypt", backends.ErrInvalidCiphertext, false},
		{codes.InvalidArgument, "The plaintext field must be at most 65536 bytes.", "Encrypt", backends.ErrInvalidArgument, false},
		{codes.Internal, "Internal error.", "Decrypt", backends.ErrInternal, true},
		{codes.Unimplemented, "not implemented", "Encrypt", backends.ErrUnsupported, false},
	} {
		t.Run(tc.code.String()+"/"+tc.op, func(t *testing.T) {
			e.srv.InjectFault(gcpkmstest.Fault{Method: tc.op, Code: tc.code, Message: tc.msg})
			var err error
			if tc.op == "Encrypt" {
				_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
			} else {
				_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: []byte("whatever")})
			}
			if be := kmstest.WantKind(t, err, tc.want, tc.msg); be != nil && (be.Op != tc.op || be.KeyID != key) {
				t.Errorf("error %v: want a *backends.Error for %s on %s", err, tc.op, key)
			}
			if backends.IsRetryable(err) != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", !tc.retryable, tc.retryable)
			}
			if !gcpkms.IsServiceError(err) {
				t.Errorf("Cloud KMS's error is not reachable with errors.As: %v", err)
			}
		})
	}
	t.Run("DeadlineDuringCall", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-c.Done()
		_, err := b.Encrypt(c, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
		kmstest.WantKind(t, err, backends.ErrDependencyTimeout, "Encrypt past its deadline")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want context.DeadlineExceeded reachable, got %v", err)
		}
	})
}

// TestPermissions: IAM-style denial for a configured principal.
func TestPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "iam", kmspb.ProtectionLevel_SOFTWARE)
	e.srv.AddPrincipal("app-token", "serviceAccount:app@keyport-test.iam.gserviceaccount.com")
	e.srv.AddPrincipal("admin-token", "user:admin@example.com")
	e.srv.SetIAMPolicy(name(key), map[string][]string{
		"serviceAccount:app@keyport-test.iam.gserviceaccount.com": {gcpkmstest.PermEncrypt},
		"user:admin@example.com":                                  {gcpkmstest.PermAdmin},
	})
	app := noRetry(t, e.srv, "app-token")
	admin := noRetry(t, e.srv, "admin-token")
	out, err := app.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	if err != nil {
		t.Fatalf("Encrypt with useToEncrypt: %v", err)
	}
	_, err = app.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Decrypt without useToDecrypt")
	if err != nil && !strings.Contains(err.Error(), gcpkmstest.PermDecrypt) {
		t.Errorf("the error does not name the permission: %v", err)
	}
	_, err = app.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "DescribeKey without cryptoKeys.get")
	if d, err := admin.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob}); err != nil || string(d.Plaintext) != "k" {
		t.Errorf("Decrypt by the admin: %v", err)
	}
	stranger := noRetry(t, e.srv, "unknown-token")
	_, err = stranger.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt with an unknown token")
}

// TestVersionsAndStates: rotation, the version that encrypted, old versions
// disabled and destroyed, and what DescribeKey says.
func TestVersionsAndStates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "versions", kmspb.ProtectionLevel_HSM)
	old, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rotate(ctx, key); err != nil {
		t.Fatal(err)
	}
	md, err := e.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil {
		t.Fatal(err)
	}
	if md.CurrentVersion != 2 || md.KeyState != backends.KeyStateEnabled || !md.Enabled || md.KeyID != name(key) || md.Region != location ||
		md.KeySpec != "GOOGLE_SYMMETRIC_ENCRYPTION" || !strings.Contains(md.Description, "protection level HSM") {
		t.Errorf("DescribeKey after rotation: %+v", md)
	}
	fresh, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("v2")})
	if err != nil {
		t.Fatal(err)
	}
	// Encrypt reports the version Cloud KMS says encrypted.
	if old.KeyVersion != "1" || fresh.KeyVersion != "2" {
		t.Errorf("Encrypt reported versions %q and %q, want 1 and 2", old.KeyVersion, fresh.KeyVersion)
	}
	// Disabling version 1 stops its ciphertexts only.
	e.setState(t, key, "1", kmspb.CryptoKeyVersion_DISABLED)
	_, err = e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: old.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt of a ciphertext of a disabled version")
	if d, err := e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: fresh.CiphertextBlob}); err != nil || string(d.Plaintext) != "v2" {
		t.Errorf("Decrypt of a ciphertext of the primary: %v", err)
	}
	e.scheduleDestroy(t, key, "1")
	_, err = e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: old.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Decrypt of a ciphertext of a version scheduled for destruction")
	if err := e.srv.Destroy(name(key) + "/cryptoKeyVersions/1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: old.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Decrypt of a ciphertext of a destroyed version")
	// The primary scheduled for destruction: the key is pending deletion.
	e.scheduleDestroy(t, key, "2")
	md, err = e.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil {
		t.Fatal(err)
	}
	if md.KeyState != backends.KeyStatePendingDeletion || md.Enabled || md.DeletionDate.Before(time.Now().Add(29*24*time.Hour)) {
		t.Errorf("DescribeKey with its primary scheduled for destruction: %+v", md)
	}
	_, err = e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Encrypt with the primary scheduled for destruction")
}

// TestHSMLimit: an HSM key takes at most 8 KiB of plaintext and AAD together.
func TestHSMLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "hsm", kmspb.ProtectionLevel_HSM)
	ec := map[string]string{"k": strings.Repeat("v", 100)}
	aad := len(backends.EncodeEncryptionContext(ec))
	if _, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: make([]byte, gcpkmstest.MaxHSMPayload-aad), EncryptionContext: ec}); err != nil {
		t.Errorf("Encrypt at the HSM limit: %v", err)
	}
	_, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: make([]byte, gcpkmstest.MaxHSMPayload-aad+1), EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt over the HSM limit")
}

func TestURLOpener(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "opened", kmspb.ProtectionLevel_SOFTWARE)
	o := &gcpkms.Opener{Options: gcpkms.Options{ClientOptions: e.srv.ClientOptions("")}}
	defer o.Close()
	kmstest.WantURLOpener(t, o, key, key, "gcp-kms://"+name(key))
	u, _ := url.Parse("gcpkms://projects/p/locations/l/keyRings/r")
	_, err := o.OpenBackendURL(ctx, u)
	kmstest.WantKind(t, err, backends.ErrNotFound, "OpenBackendURL of a key ring")
}

func TestContextBindingIsExact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "ctx", kmspb.ProtectionLevel_SOFTWARE)
	out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionContext: map[string]string{"ab": "c"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"a": "bc"}})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt under a re-split context")
}

// TestFront: the URL opener registered with a Front, every operation of the Front
// by every URL form, and the Front's data keys (Cloud KMS has no GenerateDataKey).
func TestFront(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "fronted", kmspb.ProtectionLevel_SOFTWARE)
	o := &gcpkms.Opener{Options: gcpkms.Options{ClientOptions: e.srv.ClientOptions("")}}
	defer o.Close()
	f := backends.NewFront(nil)
	if err := o.Register(f); err != nil {
		t.Fatal(err)
	}
	kmstest.WantKeyForms(t, f, map[string]string{"via": "front"}, key, key, "gcp-kms://"+name(key))
	// Cloud KMS has no ReEncrypt: the Engine decrypts and encrypts, by every form.
	kmstest.WantReEncryptForms(t, reencrypt.New(f), f, map[string]string{"via": "front"}, key, false, key, "gcp-kms://"+name(key), "gcpkms://"+name(key))
	// Cloud KMS blobs do not name their key: without a KeyID, no driver of the
	// Front can say it serves one.
	_, err := f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Front.Decrypt of a Cloud KMS blob without a KeyID")
}
