//go:build unix

package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/keyport/keyport/internal/lockedbuf"
)

// TestServeDrainsOnSIGTERM: a request whose body is still arriving when the
// server gets SIGTERM completes; then Main returns ExitTerminated.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KP_TEST_SECRET_A", "secret-a")
	config := writeServeConfig(t, dir)
	writeFile(t, config, []byte(strings.Replace(serveTOML, "[tls]\nself-signed = \"ca.pem\"\n", "", 1)), 0o600)
	var stdout, stderr lockedbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- Main([]string{"serve", config}, strings.NewReader(""), &stdout, &stderr) }()
	re := regexp.MustCompile(`listening on http://(\S+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("keyport serve did not start: %s", stderr.String())
	}
	body := []byte(`{"NumberOfBytes":32}`)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.GenerateRandom")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDA", SecretAccessKey: "secret-a"}, req,
		hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", addr, len(body))
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(append(head.Bytes(), body[:5]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server is reading the body
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case code := <-done:
		t.Fatalf("Main returned %d with a request in flight", code)
	default:
	}
	if _, err := conn.Write(body[5:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight: status %d", resp.StatusCode)
	}
	select {
	case code := <-done:
		if code != ExitTerminated {
			t.Fatalf("Main returned %d after SIGTERM, want %d", code, ExitTerminated)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Main did not return after the request in flight completed")
	}
}
