// Command vaultdev runs an in-process HashiCorp Vault core for keyport's tests: in-memory
// storage, initialised and unsealed at start, a fixed root token, the Transit secrets
// engine mounted, and the HTTP API served over plain HTTP on a loopback address. It is
// modelled on `vault server -dev` (Vault's command/server.go) and built from Vault's own
// packages, unmodified, in a Go module of its own so that the main module stays light.
//
// Usage:
//
//	vaultdev -addr 127.0.0.1:8200 -token root [-mount transit] [-unseal-key-file path]
//
// When the server is ready it prints one line to stdout:
//
//	vaultdev ready addr=http://127.0.0.1:8200
//
// and it shuts down cleanly on SIGTERM or SIGINT. Never run it outside tests: it keeps
// every secret in memory and serves without TLS.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical/inmem"
	"github.com/hashicorp/vault/vault"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8200", "loopback `host:port` to serve the HTTP API on (port 0 picks a free one)")
	token := flag.String("token", "root", "the root token to create")
	mounts := flag.String("mount", "transit", "comma-separated `paths` to mount the Transit engine at")
	keyFile := flag.String("unseal-key-file", "", "if set, write the base64 unseal key to this `file` (tests that seal and unseal)")
	logLevel := flag.String("log-level", "error", "Vault's log `level` (trace, debug, info, warn, error)")
	flag.Parse()
	if err := run(*addr, *token, *mounts, *keyFile, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "vaultdev:", err)
		os.Exit(1)
	}
}

func run(addr, token, mounts, keyFile, logLevel string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad -addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q is not a loopback address", addr)
	}
	if token == "" {
		return errors.New("-token is empty")
	}

	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "vaultdev",
		Level:  hclog.LevelFromString(logLevel),
		Output: os.Stderr,
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	apiAddr := "http://" + ln.Addr().String()

	phys, err := inmem.NewInmem(nil, logger)
	if err != nil {
		return err
	}
	core, err := vault.NewCore(&vault.CoreConfig{
		Physical:        phys,
		StorageType:     "inmem",
		RedirectAddr:    apiAddr,
		Logger:          logger,
		DisableMlock:    true,
		LogicalBackends: map[string]logical.Factory{"transit": transit.Factory},
		BuiltinRegistry: registry{},
	})
	if err != nil {
		return fmt.Errorf("creating the core: %w", err)
	}
	defer core.Shutdown()

	ctx := namespace.ContextWithNamespace(context.Background(), namespace.RootNamespace)
	if err := initDev(ctx, core, token, mounts, keyFile); err != nil {
		return err
	}

	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core:           core,
			ListenerConfig: &configutil.Listener{Address: ln.Addr().String()},
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger.StandardLogger(nil),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("vaultdev ready addr=%s\n", apiAddr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		logger.Info("stopping", "signal", s.String())
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down the listener: %w", err)
	}
	return nil
}

// initDev does what `vault server -dev` does after the core exists: initialise with one
// unseal key, unseal, replace the generated root token with the fixed one, and mount
// the engines the tests need.
func initDev(ctx context.Context, core *vault.Core, token, mounts, keyFile string) error {
	init, err := core.Initialize(ctx, &vault.InitParams{
		BarrierConfig: &vault.SealConfig{SecretShares: 1, SecretThreshold: 1, Name: "shamir"},
	})
	if err != nil {
		return fmt.Errorf("initialising: %w", err)
	}
	key := append([]byte(nil), init.SecretShares[0]...)
	if keyFile != "" {
		if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
			return err
		}
	}
	unsealed, err := core.Unseal(key)
	clear(key)
	if err != nil {
		return fmt.Errorf("unsealing: %w", err)
	}
	if !unsealed {
		return errors.New("the core is still sealed after unsealing")
	}

	req := &logical.Request{
		ID:          "vaultdev-root",
		Operation:   logical.UpdateOperation,
		ClientToken: init.RootToken,
		Path:        "auth/token/create",
		Data: map[string]any{
			"id":                token,
			"policies":          []string{"root"},
			"no_parent":         true,
			"no_default_policy": true,
		},
	}
	resp, err := core.HandleRequest(ctx, req)
	if err := respErr(resp, err); err != nil {
		return fmt.Errorf("creating the root token: %w", err)
	}
	if resp.Auth == nil {
		return errors.New("creating the root token: no auth in the response")
	}
	req = &logical.Request{
		ID:          "vaultdev-revoke-init-root",
		Operation:   logical.UpdateOperation,
		ClientToken: init.RootToken,
		Path:        "auth/token/revoke-self",
	}
	if err := respErr(core.HandleRequest(ctx, req)); err != nil {
		return fmt.Errorf("revoking the initial root token: %w", err)
	}

	for _, m := range strings.Split(mounts, ",") {
		m = strings.Trim(strings.TrimSpace(m), "/")
		if m == "" {
			continue
		}
		req := &logical.Request{
			Operation:   logical.UpdateOperation,
			ClientToken: token,
			Path:        "sys/mounts/" + m,
			Data:        map[string]any{"type": "transit", "path": m + "/", "description": "keyport tests"},
		}
		if err := respErr(core.HandleRequest(ctx, req)); err != nil {
			return fmt.Errorf("mounting transit at %s: %w", m, err)
		}
	}
	return nil
}

func respErr(resp *logical.Response, err error) error {
	if err != nil {
		return err
	}
	if resp != nil && resp.IsError() {
		return resp.Error()
	}
	return nil
}

// registry is the plugin catalog's view of the built-in plugins: only Transit.
type registry struct{}

func (registry) Contains(name string, t consts.PluginType) bool {
	return name == "transit" && t == consts.PluginTypeSecrets
}

func (r registry) Get(name string, t consts.PluginType) (func() (any, error), bool) {
	if !r.Contains(name, t) {
		return nil, false
	}
	return func() (any, error) { return logical.Factory(transit.Factory), nil }, true
}

func (registry) Keys(t consts.PluginType) []string {
	if t == consts.PluginTypeSecrets {
		return []string{"transit"}
	}
	return nil
}

func (r registry) DeprecationStatus(name string, t consts.PluginType) (consts.DeprecationStatus, bool) {
	if r.Contains(name, t) {
		return consts.Supported, true
	}
	return consts.Unknown, false
}

func (registry) IsBuiltinEntPlugin(string, consts.PluginType) bool { return false }
