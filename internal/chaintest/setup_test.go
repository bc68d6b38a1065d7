package chaintest

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/vault"
	"github.com/keyport/keyport/internal/azurekvtest"
	"github.com/keyport/keyport/internal/gcpkmstest"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/internal/vaulttest"

	gcpkmsclient "cloud.google.com/go/kms/apiv1"
)

const (
	localAccount = "777788889999" // the embedded service
	awsAccount   = "111122223333" // local-kms process A
	awsRegion    = "us-east-1"
)

// world is one Front over five key services, each with one key, named here by
// its canonical ID.
type world struct {
	front                         *backends.Front
	local, aws, vault, gcp, azure string
	drivers                       map[string]backends.Backend // by canonical key
}

// newWorld starts or finds every service and makes a key in each. local-kms and
// Vault come from scripts/test.sh (skipped outside CI when absent); Cloud KMS and
// Key Vault are the loopback servers of internal/gcpkmstest and
// internal/azurekvtest.
func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	kmsEndpoint := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	w := &world{drivers: map[string]backends.Backend{}}

	// The embedded service.
	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	lc := svc.Client(local.Identity{Account: localAccount})
	lk, err := lc.CreateKey(ctx, &local.CreateKeyInput{Description: "chain: local"})
	if err != nil {
		t.Fatal(err)
	}
	w.local = lk.KeyMetadata.Arn
	w.front = backends.NewFront(lc)
	if err := w.front.RegisterAccount(localAccount, "", lc); err != nil {
		t.Fatal(err)
	}
	w.drivers[w.local] = lc

	// AWS KMS: a fresh key in local-kms, through the AWS SDK.
	cfg := aws.Config{Region: awsRegion, Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-does-not-check", "")}
	admin := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(kmsEndpoint) })
	ck, err := admin.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("chain: aws")})
	if err != nil {
		t.Fatalf("local-kms CreateKey: %v", err)
	}
	w.aws = aws.ToString(ck.KeyMetadata.Arn)
	ab, err := awskms.NewFromConfig(cfg, awskms.WithEndpoint(kmsEndpoint), awskms.WithAccount(awsAccount))
	if err != nil {
		t.Fatal(err)
	}
	if err := ab.Register(w.front); err != nil {
		t.Fatal(err)
	}
	w.drivers[w.aws] = ab

	// Vault Transit: a fresh mount and key.
	vc, mount := vaulttest.Transit(t, "chain-")
	if _, err := vc.Logical().WriteWithContext(ctx, mount+"/keys/chain", nil); err != nil {
		t.Fatal(err)
	}
	w.vault = "vault://" + mount + "/chain"
	vb, err := vault.New(vault.Options{Client: vc})
	if err != nil {
		t.Fatal(err)
	}
	if err := vb.Register(w.front); err != nil {
		t.Fatal(err)
	}
	w.drivers[w.vault] = vb

	// Google Cloud KMS: the loopback server, the real client.
	gsrv := gcpkmstest.Start(t)
	gadmin, err := gcpkmsclient.NewKeyManagementClient(ctx, gsrv.ClientOptions("")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gadmin.Close() })
	if _, err := gadmin.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/keyport-chain/locations/global", KeyRingId: "chain"}); err != nil {
		t.Fatal(err)
	}
	gk, err := gadmin.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: "projects/keyport-chain/locations/global/keyRings/chain", CryptoKeyId: "chain",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
	if err != nil {
		t.Fatal(err)
	}
	w.gcp = "gcpkms://" + gk.GetName()
	gb, err := gcpkms.New(ctx, gcpkms.Options{ClientOptions: gsrv.ClientOptions("")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gb.Close() })
	if err := gb.Register(w.front); err != nil {
		t.Fatal(err)
	}
	w.drivers[w.gcp] = gb

	// Azure Key Vault: the HTTPS loopback server, the real azkeys client.
	asrv := azurekvtest.Start(t)
	vaultURL := asrv.AddVault("keyport-chain.vault.azure.net")
	aadmin, err := azkeys.NewClient(vaultURL, asrv.NewCredential(), asrv.ClientOptions(0))
	if err != nil {
		t.Fatal(err)
	}
	kty := azkeys.KeyTypeRSA
	if _, err := aadmin.CreateKey(ctx, "chain", azkeys.CreateKeyParameters{Kty: &kty}, nil); err != nil {
		t.Fatal(err)
	}
	w.azure = "azurekv://" + strings.TrimPrefix(vaultURL, "https://") + "/keys/chain"
	zb, err := azurekv.New(azurekv.Options{Credential: asrv.NewCredential(), ClientOptions: asrv.ClientOptions(0), BindEncryptionContext: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := zb.Register(w.front); err != nil {
		t.Fatal(err)
	}
	w.drivers[w.azure] = zb
	return w
}
