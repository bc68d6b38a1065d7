// Package conformance is the suite every keyport backend runs: one call,
// conformance.Run(t, harness), checks that a driver behaves as the contract of
// package backends says, with the semantics of AWS KMS.
//
// A driver author writes a Harness in the driver's own _test.go file. Its Setup
// starts or finds the service, makes (or finds) two enabled keys, and where the
// service can, a disabled key and a key pending deletion, and returns them in a
// Fixture together with what the service cannot do:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
//			svc := startService(t) // the driver's own test plumbing
//			return &conformance.Fixture{
//				Backend:      svc.Backend(),
//				KeyA:         svc.MakeKey(t),
//				KeyB:         svc.MakeKey(t),
//				Unknown:      svc.MissingKeyRef(),
//				Deviations:   []conformance.Deviation{conformance.DeviationNoGrants},
//			}
//		}))
//	}
//
// Run then runs named subtests (RoundTrip, FreshCiphertext, ContextBinding,
// EveryByteFlip, EveryTruncation, WrongKey, UnknownKey, Disabled, PendingDeletion,
// KeyReferenceForms, ReEncrypt/Native, ReEncrypt/Engine, DryRun, GenerateDataKey,
// DescribeKey, Rotation, Grants, Authorization, Concurrent, CancelledContext,
// ErrorMapping), so a failure reads, for example, "TestConformance/WrongKey:
// Decrypt with KeyB of a blob of KeyA: want IncorrectKeyException, got
// InvalidCiphertextException". Setup runs once; every subtest shares its keys. The
// suite changes no key's state itself: it rotates KeyB through the Rotate hook,
// makes a grant on KeyA through the Grant hook, and lets the ReEncryptCaller hook
// extend the policies of KeyA and KeyB, when the Fixture gives those hooks.
//
// Every subtest calls the driver through a backends.Front, twice: once through a
// plain Front (TestX/Front/...), once through a Front with a pass-through
// interceptor (TestX/Intercepted/...), which must see every operation the driver's
// capabilities allow. ReEncrypt/Engine runs reencrypt.Engine over that Front with
// Via set to ViaPlaintext, so that the decrypt-then-encrypt path is the one
// tested, and re-encrypts to and from Fixture.Other when the harness gives a
// second provider.
//
// Optional capabilities are found by the Front on Fixture.Backend
// (backends.Front.Capabilities); the subtests of a capability the backend lacks
// are skipped, saying so (GenerateDataKey always runs: the Front makes data keys
// for drivers that cannot). A service that departs from AWS KMS in a known way
// declares it in Fixture.Deviations; exactly the subtests a declared Deviation hits
// are skipped, by the deviation's name and reason, and nothing else is ever
// skipped. The fields of Fixture say which other subtests need which keys.
//
// Failure messages name the error kinds expected and received (by their AWS
// exception names) and never print plaintexts or whole ciphertexts.
//
// Outside go test, [Check] runs the same subtests against a Fixture and returns a
// [Report]: each subtest passed, failed (with what the service answered against
// what AWS KMS answers), skipped for a declared deviation, or not applicable; and
// the known deviations that explain the failures, found by running the suite once
// more with every deviation declared. keyport conformance prints it as text or
// JSON; package conformance/kmsendpoint prepares a Fixture for any server of the
// AWS KMS API. The subtests take a [T], which both *testing.T (through [Run]) and
// Check's recorder provide.
package conformance
