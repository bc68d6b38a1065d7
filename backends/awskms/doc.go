// Package awskms is keyport's backend for AWS KMS, over the AWS SDK for Go v2
// (service/kms). It implements backends.Backend (Encrypt, Decrypt) and the optional
// capabilities ReEncrypter (native ReEncrypt: the plaintext never leaves KMS),
// DataKeyGenerator (GenerateDataKey, GenerateDataKeyWithoutPlaintext) and
// KeyDescriber, and it works the same against AWS and against a server that speaks
// the KMS API locally, such as local-kms (github.com/nsmithuk/local-kms).
//
// # Against AWS
//
// Build the Backend from the usual SDK configuration (environment, shared config
// files, SSO, instance roles); its region is the home region:
//
//	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"))
//	if err != nil { ... }
//	kp, err := awskms.NewFromConfig(cfg, awskms.WithAccount("111122223333"))
//	if err != nil { ... }
//	out, err := kp.Encrypt(ctx, &backends.EncryptInput{
//		KeyID:             "alias/orders",
//		Plaintext:         dataKey,
//		EncryptionContext: map[string]string{"order": "1234"},
//	})
//	// out.KeyID is the key ARN: arn:aws:kms:eu-west-1:111122223333:key/...
//
// A caller that already has a *kms.Client passes it to New instead.
//
// # Against a local server
//
// local-kms serves one account and one region per process. Point the Backend at it
// with WithEndpoint and any static credentials (local-kms does not check them):
//
//	cfg := aws.Config{
//		Region:      "us-east-1",
//		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
//	}
//	kp, err := awskms.NewFromConfig(cfg,
//		awskms.WithEndpoint("http://127.0.0.1:8080"),
//		awskms.WithRegionEndpoint("us-west-2", "http://127.0.0.1:8081"), // a second process for us-west-2
//		awskms.WithAccount("111122223333"))
//
// WithAccountEndpoint does the same for the ARNs of another account, served by a
// process of its own. scripts/components/localkms.sh installs local-kms, starts
// three processes seeded from testdata/seed-*.yaml (two accounts in us-east-1, one
// of them again in us-west-2) and exports KEYPORT_LOCALKMS_A/B/C for the tests.
// local-kms departs from AWS in known ways (encryption context pairs joined without
// separators, SourceKeyId ignored, no grants, AccessDenied from Decrypt for keys
// that are disabled or pending deletion, an unauthenticated key-ARN header in its
// blobs, no DryRun); the conformance harness in conformance_test.go declares them.
//
// # Key references
//
// The Backend takes the four forms AWS takes (key ID, key ARN, alias/Name, alias ARN)
// and awskms URIs in the form gocloud.dev uses (awskms:///alias/orders?region=eu-west-1,
// awskms:///arn:aws:kms:...); see ParseKeyID. Outputs always name the key by its key
// ARN, as KMS answers it. A bare key ID or alias name resolves in the account and
// region of the Backend's own client; a key in another account must be named by ARN.
// An ARN of another region goes to a client for that region, made once from the home
// client's options (credentials, retryer, HTTP settings). Every client keeps its
// connections open for reuse, up to 64 idle ones per endpoint by default
// (WithMaxIdleConnsPerHost).
//
// # Multi-Region keys
//
// Key IDs that start with "mrk-" name multi-Region keys. Decrypt with a KeyID sends
// the call to that key's region, so a replica decrypts what another replica
// encrypted. backends.MRKMatch tells the envelope layer when an encrypted data key made by one
// replica may be opened with another, with the rule of the AWS Encryption SDK's
// MRK-aware keyrings (same partition, account and key ID; any region); ReplicaARN
// names a replica in another region. KMS cannot ReEncrypt across regions in one call:
// ReEncrypt returns ErrUnsupported for that and the reencrypt engine decrypts and
// encrypts instead.
//
// # Errors
//
// Every KMS exception maps through one table onto keyport's taxonomy (see
// KindForCode): errors match backends.ErrNotFound, ErrDisabled, ErrInvalidState,
// ErrIncorrectKey, ErrAccessDenied (matched by its error code: the SDK has no type for
// it) and the rest with errors.Is, and unwrap to the SDK's own error for errors.As
// (for example *types.NotFoundException or smithy.APIError). An answer that is not a
// KMS response (a 501 from a server that lacks the operation, a body that is not
// JSON) is an error of kind ErrUnsupported or ErrInternal that says so. An endpoint
// that cannot be reached is ErrKeyUnavailable; a timeout is ErrDependencyTimeout.
//
// # DryRun
//
// DryRun is sent to KMS, which answers DryRunOperationException on success. A server
// that ignores DryRun (local-kms) answers with a result instead; the Backend then
// wipes and discards it and returns ErrDryRunOperation all the same.
//
// # Routing
//
// Register adds a Backend to a backends.Front as the owner of the "awskms" scheme
// and of its account's ARNs; RegisterAccount adds one for another account or region.
package awskms
