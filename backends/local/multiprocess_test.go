package local_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/lockedbuf"
)

// The multi-process tests run this test binary again as a helper process: the
// environment variable helperEnv selects what it does (see runHelper).
const helperEnv = "KEYPORT_LOCAL_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is a helper process. It opens the store KEYPORT_STORE (root key from
// KEYPORT_LOCAL_ROOT_KEY) and, by mode:
//
//	create: makes HELPER_N keys, each with the alias HELPER_PREFIX-i in the same
//	        call, and prints "ok ALIAS" after each commit
//	loop:   does the same without end (until killed), and after every fifth key
//	        also rotates, disables and enables it and grants on it
//	count:  prints the number of keys of account A
//	disable: disables the key HELPER_ALIAS
func runHelper(mode string) int {
	ctx := context.Background()
	svc, err := local.Open(os.Getenv("KEYPORT_STORE"))
	if err != nil {
		fmt.Println("err open:", err)
		return 1
	}
	defer svc.Close()
	c := svc.Client(local.Identity{Account: acctA})
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	prefix := os.Getenv("HELPER_PREFIX")
	switch mode {
	case "create", "loop":
		n, _ := strconv.Atoi(os.Getenv("HELPER_N"))
		for i := 0; mode == "loop" || i < n; i++ {
			alias := fmt.Sprintf("%s-%d", prefix, i)
			k, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: alias, AliasName: alias})
			if err != nil {
				fmt.Fprintln(out, "err", alias, err)
				return 1
			}
			fmt.Fprintln(out, "ok", alias)
			out.Flush()
			if mode == "loop" && i%5 == 4 {
				id := k.KeyMetadata.KeyID
				_, err1 := c.RotateKeyOnDemand(ctx, &local.RotateKeyOnDemandInput{KeyID: id})
				err2 := c.DisableKey(ctx, &local.DisableKeyInput{KeyID: id})
				err3 := c.EnableKey(ctx, &local.EnableKeyInput{KeyID: id})
				_, err4 := c.CreateGrant(ctx, &local.CreateGrantInput{KeyID: id, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}})
				for _, err := range []error{err1, err2, err3, err4} {
					if err != nil {
						fmt.Fprintln(out, "err", alias, err)
						return 1
					}
				}
			}
		}
	case "count":
		keys, err := c.ListKeys(ctx, &local.ListKeysInput{Limit: 1000})
		if err != nil {
			fmt.Fprintln(out, "err", err)
			return 1
		}
		fmt.Fprintln(out, "keys", len(keys.Keys))
	case "disable":
		if err := c.DisableKey(ctx, &local.DisableKeyInput{KeyID: os.Getenv("HELPER_ALIAS")}); err != nil {
			fmt.Fprintln(out, "err", err)
			return 1
		}
		fmt.Fprintln(out, "ok")
	default:
		fmt.Fprintln(out, "err unknown mode", mode)
		return 2
	}
	return 0
}

// helper returns the command of a helper process in mode on the store at path.
func helper(t *testing.T, path string, root []byte, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "KEYPORT_STORE="+path,
		local.RootKeyEnv+"="+base64.StdEncoding.EncodeToString(root))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runHelperOK runs a helper to its end and returns its output.
func runHelperOK(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %v: %v; output:\n%s", cmd.Env[len(cmd.Env)-1], err, out)
	}
	return string(out)
}

// listAll returns every key and alias of account A.
func listAll(t *testing.T, c *local.Client) (keys map[string]bool, aliases map[string]string) {
	t.Helper()
	keys, aliases = map[string]bool{}, map[string]string{}
	for marker := ""; ; {
		out, err := c.ListKeys(bg, &local.ListKeysInput{Limit: 1000, Marker: marker})
		mustOK(t, err)
		for _, k := range out.Keys {
			keys[k.KeyID] = true
		}
		if marker = out.NextMarker; marker == "" {
			break
		}
	}
	for marker := ""; ; {
		out, err := c.ListAliases(bg, &local.ListAliasesInput{Limit: 100, Marker: marker})
		mustOK(t, err)
		for _, a := range out.Aliases {
			aliases[a.AliasName] = a.TargetKeyID
		}
		if marker = out.NextMarker; marker == "" {
			break
		}
	}
	return keys, aliases
}

// onlyStoreLeft fails unless the store file is the only file in its directory.
func onlyStoreLeft(t *testing.T, path string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	mustOK(t, err)
	if len(ents) != 1 || ents[0].Name() != filepath.Base(path) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("files beside the closed store: %v", names)
	}
}

// TestStoreConcurrentProcesses is issue 9's finding 1: two processes each make 50
// keys with an alias at the same time (the store does not exist yet: both race
// to create it); the store ends with exactly 100 keys and 100 aliases.
func TestStoreConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	root := rootKey(9)
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i, prefix := range []string{"alias/a", "alias/b"} {
		cmd := helper(t, path, root, "create", "HELPER_PREFIX="+prefix, "HELPER_N=50")
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.CombinedOutput()
			if err != nil {
				outs[i] = fmt.Sprintf("helper %s: %v\n%s", prefix, err, out)
				return
			}
			outs[i] = string(out)
		}()
	}
	wg.Wait()
	for _, o := range outs {
		if strings.Count(o, "ok ") != 50 {
			t.Fatalf("a helper did not make its 50 keys:\n%s", o)
		}
	}
	svc, err := local.Open(path, local.WithRootKey(root))
	mustOK(t, err)
	keys, aliases := listAll(t, svc.Client(local.Identity{Account: acctA}))
	if len(keys) != 100 || len(aliases) != 100 {
		t.Fatalf("%d keys and %d aliases, want 100 and 100", len(keys), len(aliases))
	}
	targets := map[string]bool{}
	for _, id := range aliases {
		if !keys[id] || targets[id] {
			t.Fatalf("alias target %s: not a key, or the target of two aliases", id)
		}
		targets[id] = true
	}
	mustOK(t, svc.Close())
	onlyStoreLeft(t, path)
}

// TestStoreLongLivedService is the second half of finding 1: a service opened
// once keeps working while other processes write; it loses nothing they wrote,
// and sees their changes (a key they disable) before it acts.
func TestStoreLongLivedService(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	root := rootKey(10)
	svc, err := local.Open(path, local.WithRootKey(root))
	mustOK(t, err)
	defer svc.Close()
	c := svc.Client(local.Identity{Account: acctA})
	_, err = c.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/app-0"})
	mustOK(t, err)

	runHelperOK(t, helper(t, path, root, "create", "HELPER_PREFIX=alias/cli", "HELPER_N=10"))
	// The service made a key after the other process wrote: nothing is lost.
	_, err = c.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/app-1"})
	mustOK(t, err)
	keys, aliases := listAll(t, c)
	if len(keys) != 12 || len(aliases) != 12 {
		t.Fatalf("%d keys and %d aliases, want 12 and 12", len(keys), len(aliases))
	}
	// It uses a key the other process made, and sees it disabled at once.
	ec := map[string]string{"k": "v"}
	enc, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/cli-3", Plaintext: []byte("pt"), EncryptionContext: ec})
	mustOK(t, err)
	runHelperOK(t, helper(t, path, root, "disable", "HELPER_ALIAS=alias/cli-3"))
	_, err = c.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/cli-3", Plaintext: []byte("pt")})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under a key the other process disabled")
	_, err = c.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt with a key the other process disabled")

	// A fresh open holds everything.
	svc2, err := local.Open(path, local.WithRootKey(root))
	mustOK(t, err)
	keys2, aliases2 := listAll(t, svc2.Client(local.Identity{Account: acctA}))
	mustOK(t, svc2.Close())
	if len(keys2) != 12 || len(aliases2) != 12 {
		t.Fatalf("reopened: %d keys and %d aliases, want 12 and 12", len(keys2), len(aliases2))
	}
}

// killable is a running loop helper and what it has printed so far.
type killable struct {
	cmd  *exec.Cmd
	out  lockedbuf.Buffer
	done chan struct{}
}

// waitCommitted waits until the helper has reported a commit, or d has passed.
func (k *killable) waitCommitted(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end) && !strings.Contains(k.out.String(), "ok "); {
		time.Sleep(5 * time.Millisecond)
	}
}

func startLoop(t *testing.T, path string, root []byte, prefix string) *killable {
	t.Helper()
	k := &killable{cmd: helper(t, path, root, "loop", "HELPER_PREFIX="+prefix), done: make(chan struct{})}
	stdout, err := k.cmd.StdoutPipe()
	mustOK(t, err)
	k.cmd.Stderr = io.Discard
	mustOK(t, k.cmd.Start())
	go func() {
		io.Copy(&k.out, stdout)
		close(k.done)
	}()
	return k
}

// kill SIGKILLs the helper and returns the aliases it reported committed, and
// any error line it printed.
func (k *killable) kill(t *testing.T) (committed []string, errLine string) {
	t.Helper()
	k.cmd.Process.Signal(syscall.SIGKILL)
	<-k.done
	k.cmd.Wait()
	for _, line := range strings.Split(k.out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "ok "):
			committed = append(committed, strings.TrimPrefix(line, "ok "))
		case strings.HasPrefix(line, "err"):
			errLine = line
		}
	}
	return committed, errLine
}

// TestStoreSurvivesSIGKILL is finding 7's store half: writer processes (two at a
// time, making keys with aliases, rotating, disabling, granting) are killed with
// SIGKILL at random moments, 50 times (half of them once the writer has begun
// to commit, so that they land mid-write however loaded the machine is). Then the store opens, every change a
// writer reported committed is there, every key has exactly its alias (the key
// and its alias are one transaction), and once closed no file but the store
// is left.
func TestStoreSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: 50 processes killed")
	}
	path := filepath.Join(t.TempDir(), "keys.db")
	root := rootKey(11)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var committed []string
	runs := 0
	writers := []*killable{}
	for range 2 {
		runs++
		writers = append(writers, startLoop(t, path, root, fmt.Sprintf("alias/run%d", runs)))
	}
	const kills = 50
	for n := range kills {
		i := rng.IntN(len(writers))
		// Every other kill lands while the writer is writing (after its first
		// commit); the others at any moment, opening the store included.
		if n%2 == 0 {
			writers[i].waitCommitted(60 * time.Second)
		}
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		got, errLine := writers[i].kill(t)
		if errLine != "" {
			t.Fatalf("a writer failed: %s", errLine)
		}
		committed = append(committed, got...)
		runs++
		writers[i] = startLoop(t, path, root, fmt.Sprintf("alias/run%d", runs))
	}
	for _, w := range writers {
		got, errLine := w.kill(t)
		if errLine != "" {
			t.Fatalf("a writer failed: %s", errLine)
		}
		committed = append(committed, got...)
	}
	if len(committed) < kills/2 {
		t.Fatalf("only %d keys were committed in %d runs: the writers hardly ran", len(committed), runs)
	}

	svc, err := local.Open(path, local.WithRootKey(root))
	mustOK(t, err)
	c := svc.Client(local.Identity{Account: acctA})
	keys, aliases := listAll(t, c)
	for _, a := range committed {
		if _, ok := aliases[a]; !ok {
			t.Fatalf("committed alias %s is lost", a)
		}
	}
	if len(keys) != len(aliases) {
		t.Fatalf("%d keys but %d aliases: a key was committed without its alias", len(keys), len(aliases))
	}
	for a, id := range aliases {
		md, err := c.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: a})
		mustOK(t, err)
		if md.KeyID != id || md.Description != a {
			t.Fatalf("alias %s names key %s described as %q", a, md.KeyID, md.Description)
		}
		if _, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: a, Plaintext: []byte("x")}); err != nil && !strings.Contains(err.Error(), "disabled") {
			t.Fatalf("Encrypt under %s: %v", a, err)
		}
	}
	mustOK(t, svc.Close())
	onlyStoreLeft(t, path)
	t.Logf("%d kills over %d writer runs; %d keys committed and reported, %d in the store", kills, runs, len(committed), len(keys))
}

// oldStores are the stores of earlier formats that Open converts: version 1
// (one sealed file) and keyport-local/v2 (SQLite, before the row digest). Both
// hold the state readV1Expect describes.
var oldStores = []struct{ file, format string }{
	{"store-v1.keyport", "v1"},
	{"store-v2.keyport", "keyport-local/v2"},
}

// TestConvertStoreConcurrently: two processes open one store of an earlier
// format at once; one converts it while the other waits, and both see the same
// keys.
func TestConvertStoreConcurrently(t *testing.T) {
	_, root := readV1Expect(t)
	for _, old := range oldStores {
		file := old.file
		t.Run(file, func(t *testing.T) {
			path := copyFile(t, file, t.TempDir())
			var wg sync.WaitGroup
			outs := make([]string, 2)
			for i := range outs {
				cmd := helper(t, path, root, "count")
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := cmd.CombinedOutput()
					outs[i] = string(out)
					if err != nil {
						outs[i] += " (" + err.Error() + ")"
					}
				}()
			}
			wg.Wait()
			// Account A has four keys in the file; the helpers run on the real
			// clock, long past the 7-day deletion window of one of them.
			for _, o := range outs {
				if strings.TrimSpace(o) != "keys 3" {
					t.Fatalf("a process opening %s: %q, want \"keys 3\"", file, o)
				}
			}
			if f := storeFormat(t, path); f != "keyport-local/v3" {
				t.Fatalf("after both processes: format %q", f)
			}
			onlyStoreLeft(t, path)
		})
	}
}

// TestConvertStoreKilled: processes converting a store of an earlier format
// are killed with SIGKILL at random moments; the store is then either still the
// old store or the converted one, never neither, and the next open converts or
// opens it and removes what the killed conversions left.
func TestConvertStoreKilled(t *testing.T) {
	ex, root := readV1Expect(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for _, old := range oldStores {
		file := old.file
		t.Run(file, func(t *testing.T) {
			// The helper's start takes a while, and varies with the machine's
			// load: the first run measures it, and the kills land around it.
			start := time.Now()
			runHelperOK(t, helper(t, copyFile(t, file, t.TempDir()), root, "count"))
			span := time.Since(start)
			converted := 0
			for range 12 {
				dir := t.TempDir()
				path := copyFile(t, file, dir)
				cmd := helper(t, path, root, "count")
				mustOK(t, cmd.Start())
				time.Sleep(time.Duration(rng.Int64N(int64(span))))
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				switch f := storeFormat(t, path); f {
				case "keyport-local/v3":
					converted++
				case old.format:
				default:
					t.Fatalf("after a killed conversion of %s: format %q", file, f)
				}
				svc, err := local.Open(path, local.WithRootKey(root), local.WithClock(func() time.Time { return ex.Now }))
				mustOK(t, err)
				keys, aliases := listAll(t, svc.Client(local.Identity{Account: acctA}))
				mustOK(t, svc.Close())
				// Four keys of account A; three if the helper (on the real clock,
				// long past the 7-day deletion window of one) got as far as its
				// first call.
				if (len(keys) != 4 && len(keys) != 3) || len(aliases) != 2 {
					t.Fatalf("after a killed conversion: %d keys and %d aliases of account A, want 4 (or 3) and 2", len(keys), len(aliases))
				}
				if f := storeFormat(t, path); f != "keyport-local/v3" {
					t.Fatalf("after the next open: format %q", f)
				}
				onlyStoreLeft(t, path)
			}
			t.Logf("12 kills within %v of the start: %d after the helper converted the store", span, converted)
		})
	}
}
