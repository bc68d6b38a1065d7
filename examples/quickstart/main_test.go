package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"re-encrypted to another key natively",
		"re-encrypted to another account natively",
		"to   arn:aws:kms:us-east-1:444455556666:key/",
		"re-encrypted under a new encryption context natively",
		"re-encrypted to another key service through the engine",
		"to   arn:aws:kms:eu-west-1:777788889999:key/",
		"same data key as generated: true",
		"decrypting with the old encryption context fails: InvalidCiphertextException",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
