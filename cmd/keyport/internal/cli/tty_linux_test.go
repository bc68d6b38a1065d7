package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its master and the path of its
// terminal end.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminals:", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skip("unlockpt:", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skip("ptsname:", err)
	}
	go io.Copy(io.Discard, m) // drain what reaches the terminal
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

func TestBinaryNotToTerminal(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/a")
	_, pts := openPTY(t)
	// -o naming a terminal: refused without --force, and the device stays.
	code, _, errs := w.kp(t, []byte("x"), "encrypt", "--key", "alias/a", "-o", pts)
	if code != ExitUsage || !strings.Contains(errs, "refusing to write binary output to a terminal") {
		t.Fatalf("encrypt -o %s: exit %d, %q", pts, code, errs)
	}
	if code, _, errs := w.kp(t, []byte("x"), "encrypt", "--key", "alias/a", "-o", pts, "--force"); code != ExitOK {
		t.Fatalf("encrypt -o %s --force: exit %d, %q", pts, code, errs)
	}
	if fi, err := os.Stat(pts); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s was replaced: %v", pts, err)
	}
	// stdout a terminal.
	tty, err := os.OpenFile(pts, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var errb bytes.Buffer
	code = Run(context.Background(), []string{"--store", w.store, "--account", defaultAccount, "encrypt", "--key", "alias/a"}, strings.NewReader("x"), tty, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), "refusing") {
		t.Fatalf("encrypt to a terminal stdout: exit %d, %q", code, errb.String())
	}
	// Plaintext (text) may go to a terminal.
	msg := w.must(t, []byte("hello"), "encrypt", "--key", "alias/a")
	errb.Reset()
	code = Run(context.Background(), []string{"--store", w.store, "--account", defaultAccount, "decrypt"}, strings.NewReader(msg), tty, &errb)
	if code != ExitOK {
		t.Fatalf("decrypt to a terminal: exit %d, %q", code, errb.String())
	}
}
