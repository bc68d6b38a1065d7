package cli

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/vault"
)

// vaultAdmin manages Vault Transit keys: list, create and rotate. Transit has
// no aliases, no key states, no deletion window and no per-key policies (Vault
// ACL policies are per path), so those operations are unsupported.
type vaultAdmin struct {
	unsupportedAdmin
	b *vault.Backend
}

func init() {
	adminFactories = append(adminFactories, func(d backends.Backend) keyAdmin {
		if b, ok := d.(*vault.Backend); ok {
			return &vaultAdmin{unsupportedAdmin{kindVault}, b}
		}
		return nil
	})
	locationProbes = append(locationProbes, func(location string) (string, bool) {
		mount, ok := strings.CutPrefix(strings.TrimSuffix(location, "/"), vault.Scheme+"://")
		if !ok || mount == "" || strings.Contains(mount, "/") {
			return "", false
		}
		return vault.Scheme + "://" + mount + "/keyport-location", true
	})
}

// vaultError maps a Vault API error to the taxonomy by its HTTP status.
func vaultError(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := backends.ContextError(ctx, op, key); cerr != nil {
		return cerr
	}
	kind := backends.ErrInternal
	var re *api.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusNotFound:
			kind = backends.ErrNotFound
		case http.StatusForbidden, http.StatusUnauthorized:
			kind = backends.ErrAccessDenied
		case http.StatusBadRequest:
			kind = backends.ErrInvalidArgument
		case http.StatusTooManyRequests:
			kind = backends.ErrThrottling
		}
	}
	return backends.Wrap(kind, op, key, err)
}

// mountOf parses vault://MOUNT (a listing location) or vault://MOUNT/NAME.
func mountOf(location string) (string, error) {
	if location == "" {
		return "transit", nil
	}
	rest, ok := strings.CutPrefix(location, vault.Scheme+"://")
	if !ok || rest == "" {
		return "", usagef("a Vault location is vault://MOUNT, not %q", truncate(location))
	}
	return strings.TrimSuffix(rest, "/"), nil
}

func (v *vaultAdmin) ListKeys(ctx context.Context, location string) ([]keyEntry, error) {
	mount, err := mountOf(location)
	if err != nil {
		return nil, err
	}
	sec, err := v.b.Client().Logical().ListWithContext(ctx, mount+"/keys")
	if err != nil {
		return nil, vaultError(ctx, "ListKeys", "", err)
	}
	var entries []keyEntry
	if sec == nil || sec.Data == nil {
		return entries, nil
	}
	names, _ := sec.Data["keys"].([]any)
	for _, n := range names {
		name, _ := n.(string)
		uri := vault.Ref{Mount: mount, Name: name}.URI()
		e := keyEntry{KeyId: name, KeyArn: uri}
		if md, err := v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: uri}); err == nil {
			e.KeyState = string(md.KeyState)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].KeyArn < entries[j].KeyArn })
	return entries, nil
}

func (v *vaultAdmin) CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error) {
	if in.Name == "" {
		return nil, usagef("a Vault key is named: keyport keys create vault://MOUNT/NAME")
	}
	if in.Alias != "" || in.Description != "" || in.Policy != "" {
		return nil, errUnsupported("CreateKey", in.Name, "vault: no aliases, descriptions or key policies")
	}
	ref, err := vault.ParseRef(in.Name)
	if err != nil {
		return nil, err
	}
	// Transit's create is an upsert: refuse a key that exists, as AWS never
	// hands back an existing key for a create.
	if _, err := v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref.URI()}); err == nil {
		return nil, backends.Errorf(backends.ErrAlreadyExists, "CreateKey", ref.URI(), "the key exists")
	} else if !errors.Is(err, backends.ErrNotFound) {
		return nil, err
	}
	typ := in.KeyType
	if typ == "" {
		typ = "aes256-gcm96"
	}
	if _, err := v.b.Client().Logical().WriteWithContext(ctx, ref.Mount+"/keys/"+ref.Name, map[string]any{"type": typ}); err != nil {
		return nil, vaultError(ctx, "CreateKey", ref.URI(), err)
	}
	return v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref.URI()})
}

func (v *vaultAdmin) RotateKey(ctx context.Context, key string) (string, error) {
	ref, err := vault.ParseRef(key)
	if err != nil {
		return "", err
	}
	if _, err := v.b.Client().Logical().WriteWithContext(ctx, ref.Mount+"/keys/"+ref.Name+"/rotate", nil); err != nil {
		return "", vaultError(ctx, "RotateKeyOnDemand", ref.URI(), err)
	}
	return ref.URI(), nil
}
