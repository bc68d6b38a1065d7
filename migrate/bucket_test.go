package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
	"google.golang.org/api/option"

	"github.com/keyport/keyport/internal/testenv"
)

// azuriteKey is the Azure Storage emulator's well-known account key (public,
// in Microsoft's documentation).
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// bucketURL returns the URL of a new, empty bucket of kind on its emulator,
// setting the environment the driver (and child processes) read.
func bucketURL(t *testing.T, kind string) string {
	t.Helper()
	ctx := context.Background()
	switch kind {
	case "azblob":
		ep := testenv.Require(t, "KEYPORT_AZURITE_BLOB", "Azurite")
		u, _ := url.Parse(ep)
		t.Setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
		t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
		cred, err := azblob.NewSharedKeyCredential("devstoreaccount1", azuriteKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := azblob.NewClientWithSharedKeyCredential(ep+"/devstoreaccount1/", cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		name := randomName("c")
		if _, err := c.CreateContainer(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
		return "azblob://" + name + "?protocol=http&localemu=true&domain=" + u.Host
	case "gs":
		host := testenv.Require(t, "KEYPORT_FAKEGCS", "fake-gcs-server")
		t.Setenv("STORAGE_EMULATOR_HOST", host)
		c, err := storage.NewClient(ctx, option.WithoutAuthentication())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		name := randomName("b")
		if err := c.Bucket(name).Create(ctx, "keyport-test", nil); err != nil {
			t.Fatal(err)
		}
		return "gs://" + name
	case "s3":
		ep := testenv.Require(t, "KEYPORT_GOFAKES3", "gofakes3")
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDGOFAKES3")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "gofakes3-does-not-check")
		t.Setenv("AWS_REGION", "us-east-1")
		return "s3://" + randomName("b") + "?endpoint=" + url.QueryEscape(ep) +
			"&use_path_style=true&disable_https=true&region=us-east-1&request_checksum_calculation=when_required&response_checksum_validation=when_required"
	}
	t.Fatalf("unknown bucket kind %s", kind)
	return ""
}

func openBucket(t *testing.T, u string) *blob.Bucket {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestBuckets runs the flow of TestKilledThenCompleted on each kind of bucket
// (fewer objects): from a key of the embedded service to AWS KMS (local-kms),
// killed at five random points and run again (mem://, which lives in one
// process, is canceled instead), then checked object by object against the
// report; and a concurrent writer that changes an object mid-migration, which
// is left alone and reported.
func TestBuckets(t *testing.T) {
	if testing.Short() {
		t.Skip("migrations killed five times")
	}
	for _, kind := range []string{"mem", "azblob", "gs", "s3"} {
		t.Run(kind, func(t *testing.T) {
			cw := newCrashWorld(t)
			const n = 300
			// Two prefixes of one bucket (two in-memory buckets for mem://).
			var data, cwb *blob.Bucket
			u := "mem://"
			if kind == "mem" {
				data, cwb = memblob.OpenBucket(nil), memblob.OpenBucket(nil)
				t.Cleanup(func() { data.Close(); cwb.Close() })
			} else {
				u = bucketURL(t, kind)
				putObject(t, openBucket(t, u), "outside/x.enc", []byte("not under the prefix"))
				data, cwb = openBucket(t, withPrefix(u, "data/")), openBucket(t, withPrefix(u, "writer/"))
			}
			tr := cw.crashTree(t, n, 2, func(key string, msg []byte) { putObject(t, data, key, msg) })
			o := childOptions{
				Source: withPrefix(u, "data/"), From: []string{cw.src}, To: []string{cw.dst}, SourceEncryptionContext: testEC,
				Jobs: 8, Journal: filepath.Join(t.TempDir(), "journal.db"), LargeObject: 1 << 20,
			}
			var rep *Report
			if kind == "mem" {
				rep = cw.canceledThenCompleted(t, o, data, n, 5)
			} else {
				rep = cw.killedThenCompleted(t, o, n, 5)
			}
			cw.recount(t, tr, readBucket(t, data), rep)

			w := &world{front: cw.front, src: cw.src, dst: cw.dst, srcKR: cw.srcKR, dstKR: cw.dstKR}
			concurrentWriter(t, w, Options{Source: withPrefix(u, "writer/"), SourceBucket: cwb},
				func(key string, msg []byte) { putObject(t, cwb, key, msg) }, func() map[string][]byte { return readBucket(t, cwb) })
		})
	}
}

// withPrefix adds a prefix parameter to a bucket URL.
func withPrefix(u, prefix string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "prefix=" + url.QueryEscape(prefix)
}

// canceledThenCompleted is killedThenCompleted in this process, for a bucket
// that lives in it: each run is canceled once the journal counts a random
// number of done objects.
func (cw *crashWorld) canceledThenCompleted(t *testing.T, co childOptions, b *blob.Bucket, total, stops int) *Report {
	t.Helper()
	o := co.options()
	o.Front, o.SourceBucket = cw.front, b
	for range stops {
		p, _ := rand.Int(rand.Reader, big.NewInt(int64(total)))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				if doneCount(o.Journal) >= int(p.Int64()) {
					cancel()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		rep, err := Run(ctx, o)
		stopped := ctx.Err() != nil
		cancel()
		<-done
		if err != nil {
			if stopped {
				continue // canceled before the run began
			}
			t.Fatal(err)
		}
		if !rep.Interrupted && rep.NotReached == 0 {
			t.Logf("run finished before its stop at %d", p)
		}
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

var _ = fmt.Sprintf
