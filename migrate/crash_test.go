package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/internal/testenv"
)

// childEnv names the file of a child run's configuration: the test binary,
// started with it set, runs one migration (TestMain) and exits, so that the
// test can kill it with SIGKILL.
const childEnv = "KEYPORT_MIGRATE_CHILD"

// childOptions are the Options a child takes (those that marshal).
type childOptions struct {
	Source, Journal         string
	From, To                []string
	SourceEncryptionContext map[string]string
	Jobs                    int
	LargeObject             int64
}

func (c childOptions) options() Options {
	return Options{Source: c.Source, Journal: c.Journal, From: c.From, To: c.To,
		SourceEncryptionContext: c.SourceEncryptionContext, Jobs: c.Jobs, LargeObject: c.LargeObject}
}

// childConfig is what a child run needs.
type childConfig struct {
	Store      string // the embedded service's SQLite store (shared by every process)
	RootKey    string // base64
	LocalKMS   string // endpoint of local-kms for account 111122223333 (empty: none)
	Options    childOptions
	ReportPath string
	Env        map[string]string
}

func TestMain(m *testing.M) {
	if p := os.Getenv(childEnv); p != "" {
		os.Exit(child(p))
	}
	os.Exit(m.Run())
}

func child(path string) int {
	var c childConfig
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for k, v := range c.Env {
		os.Setenv(k, v)
	}
	f, closeFn, err := c.front()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer closeFn()
	o := c.Options.options()
	o.Front = f
	rep, err := Run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var buf bytes.Buffer
	rep.WriteJSON(&buf)
	if err := os.WriteFile(c.ReportPath, buf.Bytes(), 0o600); err != nil {
		return 1
	}
	return 0
}

// localAccount is the embedded service's account: another than local-kms's,
// so that the Front routes each key to its own service.
const localAccount = "999988887777"

// front opens the embedded store and, if configured, local-kms (account
// 111122223333, us-east-1), behind one Front with retries.
func (c *childConfig) front() (*backends.Front, func(), error) {
	key, err := base64.StdEncoding.DecodeString(c.RootKey)
	if err != nil {
		return nil, nil, err
	}
	svc, err := local.Open(c.Store, local.WithRootKey(key))
	if err != nil {
		return nil, nil, err
	}
	f := backends.NewFront(svc.Client(local.Identity{Account: localAccount}))
	if c.LocalKMS != "" {
		b, err := awskms.NewFromConfig(aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-does-not-check", ""),
		}, awskms.WithEndpoint(c.LocalKMS), awskms.WithAccount("111122223333"))
		if err != nil {
			svc.Close()
			return nil, nil, err
		}
		if err := b.RegisterAccount(f, "111122223333", "us-east-1"); err != nil {
			svc.Close()
			return nil, nil, err
		}
	}
	f.Use(backends.Retry(backends.RetryPolicy{}))
	return f, func() { svc.Close() }, nil
}

// localKMSKey is the seeded local-kms key the tests migrate to ("secondary").
const localKMSKey = "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-000000000002"

// crashWorld is a key store on disk that child processes share, with a source
// key in it and a destination key of another provider (AWS KMS, on local-kms).
type crashWorld struct {
	cfg      childConfig
	front    *backends.Front
	src, dst string
	srcKR    envelope.Keyring
	dstKR    envelope.Keyring
}

func newCrashWorld(t *testing.T) *crashWorld { return newCrashWorldTB(t) }

func newCrashWorldTB(t testing.TB) *crashWorld {
	t.Helper()
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	dir := t.TempDir()
	rk := make([]byte, 32)
	rand.Read(rk)
	cw := &crashWorld{cfg: childConfig{Store: filepath.Join(dir, "keys.db"), RootKey: base64.StdEncoding.EncodeToString(rk), LocalKMS: ep}}
	f, closeFn, err := cw.cfg.front()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	cw.front = f
	svc, err := local.Open(cw.cfg.Store, local.WithRootKey(rk))
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Client(local.Identity{Account: localAccount}).CreateKey(context.Background(), &local.CreateKeyInput{Description: "source"})
	svc.Close()
	if err != nil {
		t.Fatal(err)
	}
	cw.src, cw.dst = out.KeyMetadata.Arn, localKMSKey
	w := &world{front: f}
	cw.srcKR, cw.dstKR = w.keyringFor(t, cw.src), w.keyringFor(t, cw.dst)
	return cw
}

// done counts the objects a journal records as done (read by another
// process while the child writes: WAL lets it).
func doneCount(path string) int {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(1000)")
	if err != nil {
		return -1
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM objects WHERE state = 2`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// killedThenCompleted runs the migration o in child processes, killing the
// first kills of them with SIGKILL once the journal has counted a random
// number of done objects (each kill point drawn at random below total), then
// runs it to the end and returns the last report.
func (cw *crashWorld) killedThenCompleted(t *testing.T, o childOptions, total, kills int) *Report {
	t.Helper()
	dir := t.TempDir()
	cfg := cw.cfg
	cfg.Options = o
	cfg.ReportPath = filepath.Join(dir, "report.json")
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "child.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var points []int
	for range kills {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(total)))
		points = append(points, int(n.Int64()))
	}
	sort.Ints(points)
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &errb
	}
	killed := 0
	for _, p := range points {
		cmd, errb := start()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(5 * time.Minute)
	poll:
		for {
			select {
			case err := <-exited:
				t.Logf("child finished before kill point %d: %v %s", p, err, errb)
				break poll
			case <-time.After(20 * time.Millisecond):
			}
			if doneCount(o.Journal) >= p || time.Now().After(deadline) {
				cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				killed++
				break
			}
		}
	}
	t.Logf("killed %d runs at done counts %v", killed, points)
	if killed < kills {
		t.Errorf("only %d of %d runs were killed midway", killed, kills)
	}
	cmd, errb := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last run: %v\n%s", err, errb)
	}
	f, err := os.Open(cfg.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ReadReport(f)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// recount checks the objects against tr and against the report: every
// message re-encrypted under the destination key alone, decrypting to its
// original SHA-256; no temporary file; the report's counts equal a count of
// the objects.
func (cw *crashWorld) recount(t *testing.T, tr *tree, objs map[string][]byte, rep *Report) {
	t.Helper()
	w := &world{front: cw.front, dst: cw.dst, dstKR: cw.dstKR, src: cw.src, srcKR: cw.srcKR}
	w.checkObjects(t, tr, objs, func(key string) bool { return tr.keys[key] == cw.src || tr.keys[key] == cw.dst })
	var under, other, nonMsg int64
	var bytesMigrated int64
	for key, data := range objs {
		h, err := envelope.ParseHeader(bytes.NewReader(data), 0)
		switch {
		case err != nil:
			nonMsg++
		case len(h.EncryptedDataKeys) == 1 && string(h.EncryptedDataKeys[0].ProviderInfo) == cw.dst:
			under++
			if tr.keys[key] == cw.src {
				bytesMigrated += int64(len(data))
			}
		default:
			other++
		}
	}
	if rep.Migrated+rep.SkippedBy[ReasonAlreadyMigrated] != under || rep.SkippedBy[ReasonNotMessage] != nonMsg ||
		rep.SkippedBy[ReasonNotFromKeys] != other || rep.Objects != int64(len(objs)) || rep.Failed != 0 || !rep.Complete {
		t.Errorf("report %d migrated + %d already, %d not messages, %d other keys, %d objects, %d failed, complete %v; recount: %d under the destination, %d not messages, %d other, %d objects",
			rep.Migrated, rep.SkippedBy[ReasonAlreadyMigrated], rep.SkippedBy[ReasonNotMessage], rep.SkippedBy[ReasonNotFromKeys], rep.Objects, rep.Failed, rep.Complete,
			under, nonMsg, other, len(objs))
	}
	if kc := rep.BySourceKey[cw.src]; kc == nil || kc.Migrated != rep.Migrated {
		t.Errorf("by source key: %+v", rep.BySourceKey)
	}
	if d := rep.BytesWritten - bytesMigrated; d != 0 {
		t.Errorf("report: %d bytes written; the migrated objects hold %d", rep.BytesWritten, bytesMigrated)
	}
}

// crashTree writes n small messages and big large ones under the source key,
// a README.txt, and messages under the destination already and under a key
// that is not --from.
func (cw *crashWorld) crashTree(t *testing.T, n, big int, put func(key string, data []byte)) *tree {
	t.Helper()
	tr := newTree()
	// Eight at a time: each data key is a call to the embedded store.
	type made struct {
		key string
		msg []byte
		sum [32]byte
	}
	out := make(chan made, 64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				suite := envelope.SuiteAES256GCMHKDFSHA512CommitKey
				if i%100 == 1 {
					suite = envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384
				}
				msg, sum := message(t, cw.srcKR, 1024, suite)
				out <- made{fmt.Sprintf("d%02d/f%05d.enc", i%16, i), msg, sum}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	for m := range out {
		put(m.key, m.msg)
		tr.sums[m.key], tr.keys[m.key] = m.sum, cw.src
	}
	for i := range big {
		msg, sum := message(t, cw.srcKR, 3<<20+i*4099, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
		key := fmt.Sprintf("big/b%d.enc", i)
		put(key, msg)
		tr.sums[key], tr.keys[key] = sum, cw.src
	}
	msg, sum := message(t, cw.dstKR, 100, 0)
	put("done/already.enc", msg)
	tr.sums["done/already.enc"], tr.keys["done/already.enc"] = sum, cw.dst
	put("README.txt", []byte("not a message\n"))
	return tr
}

// TestKilledThenCompleted is the acceptance test of resumption: 10,000 small
// files and a few large ones move from a key of the embedded service to an
// AWS KMS key (local-kms), the migration killed with SIGKILL at five random
// points and run again; at the end every file is re-encrypted, decrypts to its
// original SHA-256, no temporary file is left, and the report agrees with a
// recount.
func TestKilledThenCompleted(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 files, killed five times")
	}
	cw := newCrashWorld(t)
	root := t.TempDir()
	n := 10000
	tr := cw.crashTree(t, n, 3, func(key string, data []byte) { writeFile(t, root, key, data) })
	o := childOptions{
		Source: root, From: []string{cw.src}, To: []string{cw.dst}, SourceEncryptionContext: testEC,
		Jobs: 8, Journal: filepath.Join(t.TempDir(), "journal.db"), LargeObject: 1 << 20,
	}
	rep := cw.killedThenCompleted(t, o, n, 5)
	cw.recount(t, tr, readTree(t, root), rep)
	t.Logf("last run: %d objects in %.1fs; whole migration: %d migrated, %d skipped", rep.Run.Objects, rep.Run.Seconds, rep.Migrated, rep.Skipped)
}
