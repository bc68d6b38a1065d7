package cli

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/azurekv"
)

// azureAdmin manages Key Vault and Managed HSM keys with azkeys clients of its
// own, one per vault, over the credential [azureAccess] gives: the driver keeps
// its clients to itself, so the adapter takes credentials as package keyport's
// opener does (azidentity's DefaultAzureCredential), never from the URL. Key
// Vault keeps the enabled flag per key version, so enable and disable act on
// every version; a key identifier with a version acts on that version alone.
//
//	keyport keys        Key Vault
//	list VAULT          ListKeys and ListDeletedKeys of azurekv://NAME.vault.azure.net
//	create KEY          GetKey (a key that exists is AlreadyExists), then CreateKey with
//	                    key_ops wrapKey and unwrapKey; --key-type RSA-2048 (default in a
//	                    vault), RSA-3072, RSA-4096, RSA-HSM-*, oct-HSM-256 (default in a
//	                    Managed HSM)
//	describe KEY        the driver: the current version's state
//	enable, disable     UpdateKey of every version whose enabled flag differs
//	schedule-deletion   DeleteKey (soft delete) in a vault whose recovery level is
//	                    recoverable; the purge comes after the vault's retention
//	cancel-deletion     RecoverDeletedKey: the key comes back as it was
//	rotate KEY          RotateKey: a new current version
//	alias, policy       unsupported: no aliases; access is the vault's access
//	                    policies or Azure RBAC
//
// The notes registered in init say the same in each command's help.
type azureAdmin struct {
	unsupportedAdmin
	b *azurekv.Backend

	mu      sync.Mutex
	cred    azcore.TokenCredential
	opts    *azkeys.ClientOptions
	clients map[string]*azkeys.Client // by vault host
}

const azureService = "Azure Key Vault"

// azureAccess returns the credential and client options of the Key Vault
// adapter: azidentity's DefaultAzureCredential (environment, workload identity,
// managed identity, the Azure CLI), as package keyport's opener takes it. Tests
// point it at a loopback server.
var azureAccess = func() (azcore.TokenCredential, *azkeys.ClientOptions, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	return cred, nil, err
}

func init() {
	adminFactories = append(adminFactories, func(d backends.Backend) keyAdmin {
		if b, ok := d.(*azurekv.Backend); ok {
			return &azureAdmin{unsupportedAdmin: unsupportedAdmin{azureService}, b: b}
		}
		return nil
	})
	// Keys route by scheme: any Key Vault key stands for a vault, whose form
	// ListKeys checks.
	locationProbes = append(locationProbes, func(location string) (string, bool) {
		scheme, _, _ := strings.Cut(location, "://")
		for _, s := range []string{azurekv.Scheme, azurekv.HTTPSScheme, azurekv.GocloudScheme} {
			if strings.EqualFold(scheme, s) {
				return azurekv.Scheme + "://keyport.vault.azure.net/keys/location", true
			}
		}
		return "", false
	})
	keysNotes = append(keysNotes, serviceNotes{service: azureService, notes: map[string]string{
		"list": "give the vault, azurekv://NAME.vault.azure.net (or its https:// URL); its " +
			"keys are listed with their current versions' states, and its deleted keys as " +
			"PendingDeletion.",
		"create": "name the key azurekv://NAME.vault.azure.net/keys/KEY; a key that exists is " +
			"refused (Key Vault would add a version to it). It may only wrap and unwrap keys; " +
			"--key-type is RSA-2048 (the default in a vault), RSA-3072, RSA-4096, RSA-HSM-2048, " +
			"RSA-HSM-3072, RSA-HSM-4096 (premium vaults and Managed HSM) or oct-HSM-256 (the " +
			"default in a Managed HSM). Key Vault keys have no description, alias or key policy.",
		"enable": "every version of the key is enabled (a version disabled on its own too); " +
			"a key identifier with a version enables that version alone. Not-before and " +
			"expiry dates stay as they are.",
		"disable": "every version of the key is disabled, so that old ciphertexts no longer " +
			"unwrap either; a key identifier with a version disables that version alone.",
		"schedule-deletion": "the key is soft-deleted (DeleteKey) and Key Vault purges it " +
			"after the vault's soft-delete retention, set when the vault was made, which the " +
			"result reports; a different --pending-window-in-days is refused before anything " +
			"changes, and so is a vault without soft-delete, where a deletion could not be " +
			"cancelled.",
		"cancel-deletion": "the deleted key is recovered (RecoverDeletedKey) as it was, " +
			"enabled if it was enabled (AWS KMS would leave it disabled).",
		"rotate":     "Key Vault makes a new current version (RotateKey); the old versions still unwrap.",
		"policy get": "unsupported: access is the vault's access policies or Azure RBAC.",
		"policy put": "unsupported: access is the vault's access policies or Azure RBAC.",
	}})
}

// parseVault parses a vault location, azurekv://NAME.vault.azure.net (or its
// https:// and azurekeyvault:// forms), into its host.
func parseVault(location string) (string, error) {
	bad := usagef("a Key Vault location is a vault, azurekv://NAME.vault.azure.net, not %q", truncate(location))
	scheme, rest, ok := strings.Cut(strings.TrimSuffix(location, "/"), "://")
	if !ok || strings.Contains(rest, "/") || !strings.EqualFold(scheme, azurekv.Scheme) && !strings.EqualFold(scheme, azurekv.HTTPSScheme) && !strings.EqualFold(scheme, azurekv.GocloudScheme) {
		return "", bad
	}
	// The driver's parser checks the host of a key in the vault.
	ref, err := azurekv.ParseRef(azurekv.Scheme + "://" + rest + "/keys/k")
	if err != nil {
		return "", bad
	}
	return ref.Vault, nil
}

func (z *azureAdmin) parse(op, key string) (azurekv.Ref, error) {
	ref, err := azurekv.ParseRef(key)
	if err != nil {
		return azurekv.Ref{}, backends.WithOp(err, op)
	}
	return ref, nil
}

// client returns the azkeys client of a vault.
func (z *azureAdmin) client(op, host string) (*azkeys.Client, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if c := z.clients[host]; c != nil {
		return c, nil
	}
	if z.cred == nil {
		cred, opts, err := azureAccess()
		if err != nil {
			return nil, backends.Errorf(backends.ErrAccessDenied, op, "", "no Azure credential: %w", err)
		}
		z.cred, z.opts = cred, opts
	}
	c, err := azkeys.NewClient("https://"+host, z.cred, z.opts)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, op, "", err)
	}
	if z.clients == nil {
		z.clients = map[string]*azkeys.Client{}
	}
	z.clients[host] = c
	return c, nil
}

// deleted turns a NotFound of a key that is soft-deleted into KMSInvalidState,
// as AWS KMS answers for a key pending deletion.
func (z *azureAdmin) deleted(ctx context.Context, c *azkeys.Client, ref azurekv.Ref, err error) error {
	if backends.KindOf(err) != backends.ErrNotFound {
		return err
	}
	d, derr := c.GetDeletedKey(ctx, ref.Name, nil)
	if derr != nil {
		return err
	}
	purge := "unknown"
	if d.ScheduledPurgeDate != nil {
		purge = isoTime(*d.ScheduledPurgeDate)
	}
	e := *err.(*backends.Error)
	e.Kind = backends.ErrInvalidState
	e.Message = "the key is pending deletion (its purge is at " + purge + "): keyport keys cancel-deletion recovers it"
	return &e
}

func (z *azureAdmin) ListKeys(ctx context.Context, location string) ([]keyEntry, error) {
	const op = "ListKeys"
	if location == "" {
		return nil, usagef("Key Vault lists the keys of a vault: keyport keys list azurekv://NAME.vault.azure.net")
	}
	host, err := parseVault(location)
	if err != nil {
		return nil, err
	}
	c, err := z.client(op, host)
	if err != nil {
		return nil, err
	}
	var names []string
	live := c.NewListKeyPropertiesPager(nil)
	for live.More() {
		page, err := live.NextPage(ctx)
		if err != nil {
			return nil, azurekv.MapError(ctx, op, "https://"+host, err)
		}
		for _, p := range page.Value {
			if p != nil && p.KID != nil {
				names = append(names, p.KID.Name())
			}
		}
	}
	gone := c.NewListDeletedKeyPropertiesPager(nil)
	for gone.More() {
		page, err := gone.NextPage(ctx)
		if err != nil {
			return nil, azurekv.MapError(ctx, op, "https://"+host, err)
		}
		for _, p := range page.Value {
			if p != nil && p.KID != nil {
				names = append(names, p.KID.Name())
			}
		}
	}
	var entries []keyEntry
	for _, name := range names {
		ref := azurekv.Ref{Vault: host, Name: name}
		e := keyEntry{KeyId: name, KeyArn: ref.URI()}
		if md, err := z.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref.URI()}); err == nil {
			e.KeyState, e.Description = string(md.KeyState), md.Description
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// azureKeyTypes are the --key-type values of a Key Vault key.
var azureKeyTypes = map[string]struct {
	kty  azkeys.KeyType
	size int32
}{
	"RSA-2048":     {azkeys.KeyTypeRSA, 2048},
	"RSA-3072":     {azkeys.KeyTypeRSA, 3072},
	"RSA-4096":     {azkeys.KeyTypeRSA, 4096},
	"RSA-HSM-2048": {azkeys.KeyTypeRSAHSM, 2048},
	"RSA-HSM-3072": {azkeys.KeyTypeRSAHSM, 3072},
	"RSA-HSM-4096": {azkeys.KeyTypeRSAHSM, 4096},
	"OCT-HSM-256":  {azkeys.KeyTypeOctHSM, 256},
}

func (z *azureAdmin) CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error) {
	const op = "CreateKey"
	if in.Name == "" {
		return nil, usagef("a Key Vault key is named: keyport keys create azurekv://NAME.vault.azure.net/keys/KEY")
	}
	ref, err := z.parse(op, in.Name)
	if err != nil {
		return nil, err
	}
	if ref.Version != "" {
		return nil, usagef("name the key, not a version: %q", truncate(in.Name))
	}
	if in.Alias != "" || in.Description != "" || in.Policy != "" {
		return nil, errUnsupported(op, ref.URI(), azureService+": no aliases, descriptions or key policies")
	}
	typ := strings.ToUpper(in.KeyType)
	switch {
	case typ == "" && ref.ManagedHSM():
		typ = "OCT-HSM-256"
	case typ == "":
		typ = "RSA-2048"
	}
	kt, ok := azureKeyTypes[typ]
	switch {
	case !ok:
		return nil, usagef("--key-type %q: a Key Vault key is RSA-2048, RSA-3072, RSA-4096, RSA-HSM-2048, RSA-HSM-3072, RSA-HSM-4096 or oct-HSM-256", truncate(in.KeyType))
	case ref.ManagedHSM() && kt.kty == azkeys.KeyTypeRSA:
		return nil, usagef("--key-type %s: a Managed HSM holds only HSM keys (RSA-HSM-2048, ..., oct-HSM-256)", in.KeyType)
	case !ref.ManagedHSM() && kt.kty == azkeys.KeyTypeOctHSM:
		return nil, usagef("--key-type %s: oct-HSM keys live in a Managed HSM (NAME.managedhsm.azure.net), not a vault", in.KeyType)
	}
	c, err := z.client(op, ref.Vault)
	if err != nil {
		return nil, err
	}
	// CreateKey adds a version to a key that exists: refuse it, as AWS KMS
	// never hands back an existing key for a create.
	if _, err := c.GetKey(ctx, ref.Name, "", nil); err == nil {
		return nil, backends.Errorf(backends.ErrAlreadyExists, op, ref.URI(), "the key exists (keyport keys rotate makes a new version)")
	} else if err = azurekv.MapError(ctx, op, ref.URI(), err); backends.KindOf(err) != backends.ErrNotFound {
		return nil, err
	}
	ops := []*azkeys.KeyOperation{new(azkeys.KeyOperation), new(azkeys.KeyOperation)}
	*ops[0], *ops[1] = azkeys.KeyOperationWrapKey, azkeys.KeyOperationUnwrapKey
	_, err = c.CreateKey(ctx, ref.Name, azkeys.CreateKeyParameters{Kty: &kt.kty, KeySize: &kt.size, KeyOps: ops}, nil)
	if err != nil {
		err = azurekv.MapError(ctx, op, ref.URI(), err)
		if backends.KindOf(err) == backends.ErrInvalidState {
			e := *err.(*backends.Error)
			e.Message += " (the name belongs to a deleted key: keyport keys cancel-deletion recovers it)"
			err = &e
		}
		return nil, err
	}
	return z.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref.URI()})
}

// setEnabled sets the enabled flag of the version ref names, or of every
// version of the key.
func (z *azureAdmin) setEnabled(ctx context.Context, op, key string, on bool) error {
	ref, err := z.parse(op, key)
	if err != nil {
		return err
	}
	c, err := z.client(op, ref.Vault)
	if err != nil {
		return err
	}
	var versions []string
	if ref.Version != "" {
		versions = []string{ref.Version}
	} else {
		pager := c.NewListKeyPropertiesVersionsPager(ref.Name, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return z.deleted(ctx, c, ref, azurekv.MapError(ctx, op, ref.URI(), err))
			}
			for _, p := range page.Value {
				if p == nil || p.KID == nil {
					continue
				}
				if p.Attributes != nil && p.Attributes.Enabled != nil && *p.Attributes.Enabled == on {
					continue
				}
				versions = append(versions, p.KID.Version())
			}
		}
	}
	var done []string
	for _, v := range versions {
		_, err := c.UpdateKey(ctx, ref.Name, v, azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: &on}}, nil)
		if err != nil {
			err = z.deleted(ctx, c, ref, azurekv.MapError(ctx, op, ref.KID(), err))
			if e, ok := err.(*backends.Error); ok && len(done) > 0 {
				partial := *e
				partial.Message += "; already changed: versions " + strings.Join(done, ", ")
				err = &partial
			}
			return err
		}
		done = append(done, v)
	}
	return nil
}

func (z *azureAdmin) EnableKey(ctx context.Context, key string) error {
	return z.setEnabled(ctx, "EnableKey", key, true)
}

func (z *azureAdmin) DisableKey(ctx context.Context, key string) error {
	return z.setEnabled(ctx, "DisableKey", key, false)
}

// wholeKey parses key for an operation Key Vault does on whole keys only.
func (z *azureAdmin) wholeKey(op, key string) (azurekv.Ref, *azkeys.Client, error) {
	ref, err := z.parse(op, key)
	if err != nil {
		return ref, nil, err
	}
	if ref.Version != "" {
		return ref, nil, usagef("Key Vault does this to whole keys: name the key without its version, not %q", truncate(key))
	}
	c, err := z.client(op, ref.Vault)
	return ref, c, err
}

func (z *azureAdmin) ScheduleKeyDeletion(ctx context.Context, key string, days int) (*deletionResult, error) {
	const op = "ScheduleKeyDeletion"
	ref, c, err := z.wholeKey(op, key)
	if err != nil {
		return nil, err
	}
	kb, err := c.GetKey(ctx, ref.Name, "", nil)
	if err != nil {
		return nil, z.deleted(ctx, c, ref, azurekv.MapError(ctx, op, ref.URI(), err))
	}
	level, retention := "", 0
	if a := kb.Attributes; a != nil {
		if a.RecoveryLevel != nil {
			level = *a.RecoveryLevel
		}
		if a.RecoverableDays != nil {
			retention = int(*a.RecoverableDays)
		}
	}
	if !strings.Contains(level, "Recoverable") {
		return nil, backends.Errorf(backends.ErrUnsupported, op, ref.URI(),
			"this vault does not keep deleted keys (recovery level %q): a deletion could not be cancelled, so keyport does not schedule one; turn on soft-delete for the vault", level)
	}
	switch {
	case days != 0 && retention == 0:
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref.URI(),
			"Key Vault does not say how long this vault keeps deleted keys, so --pending-window-in-days %d cannot be checked: leave it out", days)
	case days != 0 && days != retention:
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref.URI(),
			"Key Vault purges this vault's deleted keys after %d days (its soft-delete retention, set when the vault was made), not %d: leave out --pending-window-in-days",
			retention, days)
	}
	d, err := c.DeleteKey(ctx, ref.Name, nil)
	if err != nil {
		return nil, azurekv.MapError(ctx, op, ref.URI(), err)
	}
	r := &deletionResult{KeyId: ref.URI(), KeyState: string(backends.KeyStatePendingDeletion), PendingWindowInDays: retention}
	if d.ScheduledPurgeDate != nil {
		r.DeletionDate = isoTime(*d.ScheduledPurgeDate)
	}
	return r, nil
}

// recoveryWait bounds how long cancel-deletion waits for a recovered key to be
// served again (Key Vault recovers in the background, for some seconds).
const recoveryWait = time.Minute

func (z *azureAdmin) CancelKeyDeletion(ctx context.Context, key string) (string, error) {
	const op = "CancelKeyDeletion"
	ref, c, err := z.wholeKey(op, key)
	if err != nil {
		return "", err
	}
	if _, err := c.RecoverDeletedKey(ctx, ref.Name, nil); err != nil {
		err = azurekv.MapError(ctx, op, ref.URI(), err)
		if backends.KindOf(err) == backends.ErrNotFound {
			if _, gerr := c.GetKey(ctx, ref.Name, "", nil); gerr == nil {
				return "", backends.Errorf(backends.ErrInvalidState, op, ref.URI(), "the key is not pending deletion")
			}
		}
		return "", err
	}
	deadline := time.Now().Add(recoveryWait)
	for {
		_, err := c.GetKey(ctx, ref.Name, "", nil)
		if err == nil {
			return ref.URI(), nil
		}
		err = azurekv.MapError(ctx, op, ref.URI(), err)
		if backends.KindOf(err) != backends.ErrNotFound || time.Now().After(deadline) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", backends.ContextError(ctx, op, ref.URI())
		case <-time.After(time.Second):
		}
	}
}

func (z *azureAdmin) RotateKey(ctx context.Context, key string) (string, error) {
	const op = "RotateKeyOnDemand"
	ref, c, err := z.wholeKey(op, key)
	if err != nil {
		return "", err
	}
	if _, err := c.RotateKey(ctx, ref.Name, nil); err != nil {
		return "", z.deleted(ctx, c, ref, azurekv.MapError(ctx, op, ref.URI(), err))
	}
	return ref.URI(), nil
}

func (z *azureAdmin) GetKeyPolicy(_ context.Context, key string) (string, error) {
	return "", errUnsupported("GetKeyPolicy", key, azureService+": access is the vault's access policies or Azure RBAC")
}

func (z *azureAdmin) PutKeyPolicy(_ context.Context, key, _ string) error {
	return errUnsupported("PutKeyPolicy", key, azureService+": access is the vault's access policies or Azure RBAC")
}
