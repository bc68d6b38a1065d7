// Package vaulttest gives a test a Transit engine of its own on the Vault dev
// server that scripts/test.sh starts, so that tests of several packages share
// one way to reach it.
package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/keyport/keyport/internal/testenv"
)

// Transit mounts a Transit engine named [Name](prefix) on the Vault dev server
// (VAULT_ADDR, VAULT_TOKEN: when they are unset the test is skipped, or fails
// in CI, as [testenv.Require] says) and unmounts it when the test ends. It
// returns a client that holds the root token, and the mount.
func Transit(t testing.TB, prefix string) (root *api.Client, mount string) {
	t.Helper()
	addr := testenv.Require(t, "VAULT_ADDR", "Vault dev server")
	root = Client(t, addr, testenv.Require(t, "VAULT_TOKEN", "Vault dev server"))
	mount = Name(prefix)
	if err := root.Sys().MountWithContext(context.Background(), mount, &api.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("mounting transit at %s: %v", mount, err)
	}
	t.Cleanup(func() { _ = root.Sys().UnmountWithContext(context.Background(), mount) })
	return root, mount
}

// Client returns a client of the Vault at addr that holds token and does not
// retry.
func Client(t testing.TB, addr, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// Name returns prefix followed by 12 random hex digits: a name no other test
// takes.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
