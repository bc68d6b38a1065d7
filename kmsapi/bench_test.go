package kmsapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/kmsapi"
)

// BenchmarkServe measures Encrypt and Decrypt of a 32-byte data key made with
// aws-sdk-go-v2's KMS client over loopback, by 1 and by 32 concurrent clients,
// against this server and against local-kms in the same run. It reports
// requests per second and the p50 and p99 latencies. The server runs in a
// process of its own, as local-kms does ("keyport"), and in the benchmark's
// process ("keyport-in-process"); all share the machine's cores with the clients.
//
//	scripts/dev.sh /tmp/kp.env & (COMPONENTS_ONLY=start_localkms), then . /tmp/kp.env and
//	go test -run '^$' -bench BenchmarkServe -benchtime 3000x ./kmsapi/
func BenchmarkServe(b *testing.B) {
	type target struct {
		name   string
		client func(b *testing.B) (*kms.Client, string)
	}
	for _, tg := range []target{
		{"keyport", func(b *testing.B) (*kms.Client, string) {
			// The server in a process of its own, as local-kms is: this test
			// binary, run as TestHelperServer.
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServer$")
			cmd.Env = append(os.Environ(), helperEnv+"=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				b.Fatalf("the server process: %v", err)
			}
			c := benchClient(strings.TrimSpace(line), akidA, secretFor+akidA)
			k, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
			if err != nil {
				b.Fatal(err)
			}
			return c, aws.ToString(k.KeyMetadata.KeyId)
		}},
		{"keyport-in-process", func(b *testing.B) (*kms.Client, string) {
			ts := newTestServer(b, func(o *kmsapi.Options) { o.AccessLog = nil })
			c := benchClient(ts.URL, akidA, secretFor+akidA)
			k, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
			if err != nil {
				b.Fatal(err)
			}
			return c, aws.ToString(k.KeyMetadata.KeyId)
		}},
		{"local-kms", func(b *testing.B) (*kms.Client, string) {
			ep := testenv.Require(b, "KEYPORT_LOCALKMS_A", "local-kms")
			return benchClient(ep, "AKIDLOCALKMS", "local-kms-does-not-check"), "11111111-1111-4111-8111-000000000001"
		}},
	} {
		for _, op := range []string{"Encrypt", "Decrypt"} {
			for _, n := range []int{1, 32} {
				b.Run(fmt.Sprintf("%s/%s/clients=%d", op, tg.name, n), func(b *testing.B) {
					c, key := tg.client(b)
					ctx := context.Background()
					ec := map[string]string{"tenant": "bench"}
					dk := make([]byte, 32)
					enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: dk, EncryptionContext: ec})
					if err != nil {
						b.Fatal(err)
					}
					do := func() error {
						_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: dk, EncryptionContext: ec})
						return err
					}
					if op == "Decrypt" {
						do = func() error {
							out, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(key), CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
							if err == nil {
								clear(out.Plaintext)
							}
							return err
						}
					}
					runClients(b, n, do)
				})
			}
		}
	}
}

// helperEnv makes TestHelperServer serve.
const helperEnv = "KEYPORT_KMSAPI_HELPER_SERVER"

// TestHelperServer is not a test: run with helperEnv set (by BenchmarkServe), it
// serves the API on a loopback port, prints its URL and serves until killed.
func TestHelperServer(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("a helper process for BenchmarkServe")
	}
	srv, err := kmsapi.New(kmsapi.Options{Services: testServices(), Principals: testPrincipals()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	_ = kmsapi.Serve(context.Background(), ln, srv, nil, time.Second)
}

// benchClient is an SDK client that keeps up to 64 idle connections to the
// endpoint, so that 32 clients reuse theirs.
func benchClient(endpoint, akid, secret string) *kms.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = 64 })
	return kms.NewFromConfig(aws.Config{Region: east, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")},
		func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoint); o.RetryMaxAttempts = 1 })
}

// runClients makes b.N requests with do from n goroutines and reports req/s,
// p50-us and p99-us.
func runClients(b *testing.B, n int, do func() error) {
	lat := make([][]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := do(); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
}
