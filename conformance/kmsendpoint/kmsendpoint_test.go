package kmsendpoint_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/conformance/kmsendpoint"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/kmsapi"
)

func principal(id, arn string) kmsendpoint.Principal {
	return kmsendpoint.Principal{AccessKeyID: id, SecretAccessKey: "secret-of-" + id, ARN: arn}
}

func failures(rep *conformance.Report) []string {
	var out []string
	for _, r := range rep.Results {
		if r.Outcome == conformance.Failed && len(r.Messages) > 0 {
			out = append(out, r.Name+": "+strings.Join(r.Messages, "; "))
		}
	}
	return out
}

// TestKeyportServer checks keyport's own KMS API server (package kmsapi) with
// every principal and hook the harness takes: no failure, no deviation, and
// every subtest that does not apply is one that needs a capability backends/awskms
// lacks, not the server. The keys the run made are gone afterwards.
func TestKeyportServer(t *testing.T) {
	east, west := local.New(local.WithRegion("us-east-1")), local.New(local.WithRegion("us-west-2"))
	defer east.Close()
	defer west.Close()
	p := func(id, account, arn string) kmsapi.Principal {
		return kmsapi.Principal{AccessKeyID: id, SecretAccessKey: "secret-of-" + id, Account: account, ARN: arn}
	}
	srv, err := kmsapi.New(kmsapi.Options{Services: []*local.Service{east, west}, Principals: []kmsapi.Principal{
		p("AKIDA", "111122223333", ""), p("AKIDB", "444455556666", ""),
		p("AKIDG", "999900001111", "arn:aws:iam::999900001111:role/grantee"),
		p("AKIDR", "123412341234", "arn:aws:iam::123412341234:role/reencryptor"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx := context.Background()
	f, err := kmsendpoint.Fixture(ctx, kmsendpoint.Options{
		Endpoint: ts.URL, Region: "us-east-1", Account: "111122223333", Caller: principal("AKIDA", ""),
		OtherAccount: "444455556666", OtherCaller: principal("AKIDB", ""), OtherRegion: "us-west-2",
		Grantee: principal("AKIDG", "arn:aws:iam::999900001111:role/grantee"), ReEncryptor: principal("AKIDR", "arn:aws:iam::123412341234:role/reencryptor"),
		Rotate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := conformance.Check(ctx, ts.URL, f)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || len(rep.Deviations) != 0 || rep.Passed < 90 {
		t.Fatalf("keyport's server: %d passed, %d failed, deviations %v:\n%s", rep.Passed, rep.Failed, rep.Deviations, strings.Join(failures(rep), "\n"))
	}
	for _, r := range rep.Results {
		if r.Outcome == conformance.NotApplicable && !strings.HasSuffix(r.Name, "WithoutSourceKeyID") {
			t.Errorf("%s not applicable against keyport's server: %v", r.Name, r.Messages)
		}
	}
	c := kms.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDA", "secret-of-AKIDA", "")},
		func(o *kms.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	la, err := c.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(la.Aliases) != 0 {
		t.Errorf("the run left aliases behind: %v", la.Aliases)
	}
	md, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(f.KeyA)})
	if err != nil || md.KeyMetadata.KeyState != "PendingDeletion" {
		t.Errorf("KeyA after the run: %v, %v; want it scheduled for deletion", md, err)
	}
}

// TestLocalKMS checks local-kms (three processes: two accounts, two regions) with
// the principals it ignores: the report finds the deviations that backends/awskms's
// harness declares for it (localKMSDeviations in backends/awskms/conformance_test.go),
// and no failure they do not explain: exactly the seven that harness declares.
func TestLocalKMS(t *testing.T) {
	a := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	b := testenv.Require(t, "KEYPORT_LOCALKMS_B", "local-kms")
	c := testenv.Require(t, "KEYPORT_LOCALKMS_C", "local-kms")
	ctx := context.Background()
	f, err := kmsendpoint.Fixture(ctx, kmsendpoint.Options{
		Endpoint: a, Region: "us-east-1", Account: "111122223333", Caller: principal("AKIDA", ""),
		OtherAccount: "444455556666", OtherCaller: principal("AKIDB", ""), OtherAccountEndpoint: b,
		OtherRegion: "us-west-2", OtherRegionEndpoint: c,
		Grantee: principal("AKIDG", "arn:aws:iam::999900001111:role/grantee"),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := conformance.Check(ctx, "local-kms", f)
	if err != nil {
		t.Fatal(err)
	}
	want := []conformance.Deviation{
		conformance.DeviationContextPairCollision, conformance.DeviationSourceKeyIDIgnored,
		conformance.DeviationIncorrectKeyIsInvalidCiphertext, conformance.DeviationNoGrants,
		conformance.DeviationOneAccountPerProcess,
		conformance.DeviationUnauthenticatedBlobHeader, conformance.DeviationTamperKindMisreported,
	}
	got := slices.Clone(rep.Deviations)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || rep.Unexplained != 0 {
		var unexplained []string
		for _, r := range rep.Results {
			if r.Outcome == conformance.Failed && len(r.Deviations) == 0 && len(r.Messages) > 0 {
				unexplained = append(unexplained, r.Name+": "+strings.Join(r.Messages, "; "))
			}
		}
		t.Fatalf("local-kms: deviations %v, want %v; unexplained failures:\n%s", got, want, strings.Join(unexplained, "\n"))
	}
}
