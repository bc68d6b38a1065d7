package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
)

// Harness prepares a driver for the suite. Run calls Setup once and runs every
// subtest against the Fixture it returns; Setup fails t (t.Fatal) when it cannot
// make its keys, and registers its own clean-up with t.Cleanup or Fixture.Close.
type Harness interface {
	Setup(ctx context.Context, t *testing.T) *Fixture
}

// HarnessFunc adapts a function to the Harness interface.
type HarnessFunc func(ctx context.Context, t *testing.T) *Fixture

// Setup calls f.
func (f HarnessFunc) Setup(ctx context.Context, t *testing.T) *Fixture { return f(ctx, t) }

var _ Harness = HarnessFunc(nil)

// Fixture is what a Harness gives the suite: a backend, its keys, and what the
// service cannot do. Only Backend (or Front), KeyA, KeyB and Unknown are required;
// every other field is optional, and the subtests that need an absent one are
// skipped with a message that says what is missing.
//
// The suite calls the driver through a [backends.Front], which finds its optional
// capabilities ([backends.Front.Capabilities]: native ReEncrypt, DescribeKey,
// CiphertextKeyID); the subtests of an absent capability are skipped saying so.
// GenerateDataKey runs for every driver: the Front makes a data key itself for a
// driver that cannot.
type Fixture struct {
	// Backend is the driver under test, acting as a caller that may use every key
	// below for every operation. The suite reaches it through a backends.Front.
	Backend backends.Backend

	// KeyA and KeyB are two enabled symmetric keys, given by their canonical
	// identifiers: what the driver returns in the KeyID of its outputs (the key ARN
	// for AWS-like services, the URI otherwise).
	KeyA, KeyB string

	// KeyAForms lists KeyA in every reference form the service takes (for AWS: key
	// ID, key ARN, alias name, alias ARN; otherwise its URI forms). Empty means
	// just KeyA.
	KeyAForms []string

	// Disabled is a disabled key, PendingDeletion a key scheduled for deletion;
	// "" where the service has no such state.
	Disabled, PendingDeletion string

	// DisabledCiphertext and PendingDeletionCiphertext, when set, are blobs that
	// Disabled and PendingDeletion made (with an empty encryption context) before
	// they left the Enabled state; the suite checks that Decrypt then fails.
	DisabledCiphertext, PendingDeletionCiphertext []byte

	// Unknown is a well-formed reference to a key that does not exist, in a place
	// (account, mount, ...) that Backend serves.
	Unknown string

	// CrossAccountKey, when set, is the key ARN of an enabled key in another
	// account of the same service that Backend's caller may use (Encrypt, Decrypt,
	// ReEncryptFrom, ReEncryptTo); it exercises native cross-account ReEncrypt, and
	// that a bare key ID of another account does not resolve.
	CrossAccountKey string

	// Deviations lists the known ways in which the service departs from AWS KMS
	// semantics. A subtest that a declared deviation hits is skipped, naming the
	// deviation and its reason; no other subtest is ever skipped for it.
	Deviations []Deviation

	// Other and OtherKey, when set, are a second provider or account and one of its
	// enabled keys (canonical ID): the suite re-encrypts to and from it through
	// reencrypt.Engine.
	Other    backends.Backend
	OtherKey string

	// Front, when set, is the Front the suite calls (with the suite's own
	// interceptor in front of it in the Intercepted pass): it must route KeyA,
	// KeyB, CrossAccountKey, Unknown and OtherKey. When nil the suite builds one:
	// it registers the scheme (URIs) or the account and region (ARNs) of KeyA,
	// KeyB and CrossAccountKey to Backend and of OtherKey to Other, and makes
	// Backend the default. Give one when that is not enough (say Backend and
	// Other share a scheme).
	Front *backends.Front

	// ErrorAs, when set, reports whether the driver's own error type (an SDK
	// exception, an API response error) is reachable from err with errors.As. The
	// suite calls it on failures the service itself answered (an unknown key) and
	// expects true.
	ErrorAs func(err error) bool

	// Rotate, when set, rotates keyID on demand (a new backing-key version); the
	// suite checks that old ciphertexts still decrypt.
	Rotate func(ctx context.Context, keyID string) error

	// Grant, when set, returns a backend acting as a principal that has no access to
	// keyID or KeyB of its own, and the token of a grant, just made, that lets it
	// Encrypt and Decrypt under keyID; passed in GrantTokens, the token authorizes
	// at once.
	Grant func(ctx context.Context, keyID string) (grantee backends.Backend, token string, err error)

	// ReEncryptCaller, when set, returns a backend acting as a principal that may
	// do nothing with the keys from and to but kms:ReEncryptFrom on from and
	// kms:ReEncryptTo on to. The suite checks that ReEncrypt is authorized twice,
	// natively and through the engine, and that Decrypt and Encrypt are refused.
	ReEncryptCaller func(ctx context.Context, from, to string) (backends.Backend, error)

	// Close, when set, is called when the suite is done.
	Close func()
}

// Deviation names a known way in which a service departs from the AWS KMS
// semantics the suite checks. Drivers declare theirs in Fixture.Deviations.
type Deviation string

// Known deviations. Each names the subtests it skips.
const (
	// DeviationContextPairCollision: the service joins encryption context pairs
	// without separators, so {"ab":"c"} decrypts a blob made under {"a":"bc"}.
	// Skips ContextBinding/ResplitPairs.
	DeviationContextPairCollision Deviation = "DeviationContextPairCollision"

	// DeviationSourceKeyIDIgnored: the service ignores SourceKeyId on ReEncrypt, so
	// a wrong one is not IncorrectKey. Skips ReEncrypt/Native/WrongSourceKey and
	// ReEncrypt/Native/Failures/UnknownSource.
	DeviationSourceKeyIDIgnored Deviation = "DeviationSourceKeyIDIgnored"

	// DeviationDecryptKeyIDIgnored: the service ignores KeyId on Decrypt, so a
	// wrong one is not IncorrectKey. Skips WrongKey, UnknownKey/Decrypt and the
	// engine's ReEncrypt/Engine/ViaPlaintext/WrongSourceKey.
	DeviationDecryptKeyIDIgnored Deviation = "DeviationDecryptKeyIDIgnored"

	// DeviationNoGrants: the service does not implement grants. Skips Grants.
	DeviationNoGrants Deviation = "DeviationNoGrants"

	// DeviationDisabledAccessDenied: the service sometimes answers AccessDenied
	// instead of Disabled for a disabled key. Skips Disabled.
	DeviationDisabledAccessDenied Deviation = "DeviationDisabledAccessDenied"

	// DeviationOneAccountPerProcess: one service instance serves one account, so
	// there is no native cross-account ReEncrypt. Skips ReEncrypt/Native/CrossAccount.
	DeviationOneAccountPerProcess Deviation = "DeviationOneAccountPerProcess"

	// DeviationSmallPlaintextLimit: the service takes fewer than the 4096 bytes
	// of plaintext AWS KMS takes, as a key service that wraps with RSA-OAEP does
	// (the driver answers a longer one with ValidationException). Skips
	// RoundTrip/4096Bytes.
	DeviationSmallPlaintextLimit Deviation = "DeviationSmallPlaintextLimit"

	// DeviationNoDryRun: the service has no DryRun. Skips DryRun.
	DeviationNoDryRun Deviation = "DeviationNoDryRun"

	// DeviationIncorrectKeyIsInvalidCiphertext: the service cannot tell a blob of
	// another key from a damaged blob, and answers InvalidCiphertext where AWS
	// answers IncorrectKey. Skips WrongKey and ReEncrypt/*/WrongSourceKey.
	DeviationIncorrectKeyIsInvalidCiphertext Deviation = "DeviationIncorrectKeyIsInvalidCiphertext"

	// DeviationTamperKindMisreported: the service does not check the integrity of
	// its blob's header, so a damaged key reference or version is answered with
	// another kind (NotFound, an internal error, no answer) instead of
	// InvalidCiphertext. Skips EveryByteFlip/*/AsInvalidCiphertext and
	// EveryTruncation/*/AsInvalidCiphertext; the .../Rejected subtests, that every
	// damaged blob fails, still run.
	DeviationTamperKindMisreported Deviation = "DeviationTamperKindMisreported"

	// DeviationUnauthenticatedBlobHeader: the service does not authenticate all of
	// its blob's header (local-kms reads only part of the key ARN in it), so some
	// damaged blobs still decrypt. Skips EveryByteFlip/*/Rejected and
	// EveryTruncation/*/Rejected; .../NeverWrongPlaintext, that no damaged blob
	// decrypts to anything but the original plaintext, still runs.
	DeviationUnauthenticatedBlobHeader Deviation = "DeviationUnauthenticatedBlobHeader"

	// DeviationPartialNativeReEncrypt: the service re-encrypts natively only
	// some pairs (Vault Transit's rewrap: one key, one context) and answers
	// ErrUnsupported for the others, which reencrypt.Engine then decrypts and
	// encrypts. The suite treats the driver as having no native ReEncrypt: it
	// skips ReEncrypt/Native and the native ReEncrypt checks of the other
	// subtests, and checks the engine's path for every pair.
	DeviationPartialNativeReEncrypt Deviation = "DeviationPartialNativeReEncrypt"
)

// allDeviations lists every known deviation but the coarse ones: Check declares
// them all to learn which subtests each one skips. Where two explain the same
// failures, Check names the one listed first: a service that cannot tell a blob
// of another key from a damaged one is far more common than one that ignores
// KeyId.
var allDeviations = []Deviation{
	DeviationContextPairCollision, DeviationSourceKeyIDIgnored, DeviationIncorrectKeyIsInvalidCiphertext,
	DeviationDecryptKeyIDIgnored, DeviationNoGrants, DeviationDisabledAccessDenied, DeviationOneAccountPerProcess,
	DeviationSmallPlaintextLimit, DeviationNoDryRun, DeviationTamperKindMisreported, DeviationUnauthenticatedBlobHeader,
}

// coarseDeviations hide a whole capability, and with it subtests that finer
// deviations explain better: Check declares them only to explain what the
// others leave unexplained.
var coarseDeviations = []Deviation{DeviationPartialNativeReEncrypt}

// Reason says what the deviation is, for skip messages.
func (d Deviation) Reason() string {
	switch d {
	case DeviationContextPairCollision:
		return "the service joins encryption context pairs without separators, so {ab:c} and {a:bc} collide"
	case DeviationSourceKeyIDIgnored:
		return "the service ignores SourceKeyId on ReEncrypt"
	case DeviationDecryptKeyIDIgnored:
		return "the service ignores KeyId on Decrypt"
	case DeviationNoGrants:
		return "the service does not implement grants"
	case DeviationDisabledAccessDenied:
		return "the service may answer AccessDenied instead of Disabled for a disabled key"
	case DeviationOneAccountPerProcess:
		return "one service instance serves a single account"
	case DeviationSmallPlaintextLimit:
		return "the service takes fewer than 4096 bytes of plaintext (RSA-OAEP wraps at most the key size less its padding)"
	case DeviationNoDryRun:
		return "the service has no DryRun"
	case DeviationIncorrectKeyIsInvalidCiphertext:
		return "the service cannot tell a blob of another key from a damaged one"
	case DeviationUnauthenticatedBlobHeader:
		return "the service does not authenticate all of its blob's header, so some damaged blobs still decrypt"
	case DeviationPartialNativeReEncrypt:
		return "the service re-encrypts natively only some pairs of keys and contexts (reencrypt.Engine decrypts and encrypts the others)"
	case DeviationTamperKindMisreported:
		return "the service does not check its blob's header, so some damaged blobs fail with another kind than InvalidCiphertext"
	}
	return undocumented
}

// undocumented is the Reason of a Deviation that is none of the constants.
const undocumented = "undocumented deviation"

// suiteCaps returns the driver's capabilities as the suite uses them: without
// native ReEncrypt when DeviationPartialNativeReEncrypt is declared.
func (f *Fixture) suiteCaps(caps backends.Capabilities) backends.Capabilities {
	if f.has(DeviationPartialNativeReEncrypt) {
		caps.ReEncrypt = false
	}
	return caps
}

// skipNoNative skips t, which needs native ReEncrypt, saying why there is none.
func (f *Fixture) skipNoNative(t T) {
	t.Helper()
	f.skipIf(t, DeviationPartialNativeReEncrypt)
	t.Skip("skipped: the backend is not a backends.ReEncrypter (no native ReEncrypt)")
}

// has reports whether the fixture declares deviation d.
func (f *Fixture) has(d Deviation) bool {
	for _, x := range f.Deviations {
		if x == d {
			return true
		}
	}
	return false
}

// declared returns those of ds that the fixture declares.
func (f *Fixture) declared(ds ...Deviation) []Deviation {
	var out []Deviation
	for _, d := range ds {
		if f.has(d) {
			out = append(out, d)
		}
	}
	return out
}

// unless reports whether the fixture declares none of ds; when it declares some,
// it logs, by name and reason, that the check they excuse is left out.
func (f *Fixture) unless(t T, ds ...Deviation) bool {
	t.Helper()
	var why []string
	for _, d := range f.declared(ds...) {
		why = append(why, "declared deviation "+string(d)+": "+d.Reason())
	}
	if len(why) > 0 {
		t.Logf("check left out: %s", strings.Join(why, "; "))
	}
	return len(why) == 0
}

// skipIf skips t, by name and reason, when the fixture declares any of ds.
func (f *Fixture) skipIf(t T, ds ...Deviation) {
	t.Helper()
	var why []string
	for _, d := range f.declared(ds...) {
		why = append(why, "declared deviation "+string(d)+": "+d.Reason())
	}
	if len(why) > 0 {
		t.Skip("skipped: " + strings.Join(why, "; "))
	}
}
