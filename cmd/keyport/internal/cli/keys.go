package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyport/keyport/backends"
)

// keyAdmin is a service's key management. Every method of a service that lacks
// the operation returns an error matching backends.ErrUnsupported: adapters
// embed [unsupportedAdmin] and override what their service has. A driver adds
// its adapter in a file of its own (keys_<driver>.go) that appends a factory to
// adminFactories.
type keyAdmin interface {
	// kind names the service kind in messages ("local", "awskms", "vault").
	kind() string
	ListKeys(ctx context.Context, location string) ([]keyEntry, error)
	CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error)
	CreateAlias(ctx context.Context, alias, key string) error
	UpdateAlias(ctx context.Context, alias, key string) error
	DeleteAlias(ctx context.Context, alias string) error
	EnableKey(ctx context.Context, key string) error
	DisableKey(ctx context.Context, key string) error
	// ScheduleKeyDeletion schedules the key's deletion after days (0: the
	// service's default or fixed waiting period).
	ScheduleKeyDeletion(ctx context.Context, key string, days int) (*deletionResult, error)
	CancelKeyDeletion(ctx context.Context, key string) (string, error)
	RotateKey(ctx context.Context, key string) (string, error)
	GetKeyPolicy(ctx context.Context, key string) (string, error)
	PutKeyPolicy(ctx context.Context, key, policy string) error
}

// adminFactories make the keyAdmin of a driver, or nil when the factory does
// not know it.
var adminFactories []func(d backends.Backend) keyAdmin

// locationProbes turn the listing location of a service that names its keys by
// URL (vault://MOUNT, a Cloud KMS key ring, a Key Vault) into the reference of
// a key inside it, by which the Front finds the location's service; ok is
// false for a location of another service. An adapter adds its own.
var locationProbes []func(location string) (key string, ok bool)

// keysNotes say how a service carries out the keys commands whose mapping onto
// it is not obvious. An adapter adds its own; each command's help (and so
// docs/cli) shows them.
var keysNotes []serviceNotes

// serviceNotes are one service's notes, by command path under "keys" ("list",
// "schedule-deletion", "alias create", ...).
type serviceNotes struct {
	service string
	notes   map[string]string
}

// withNotes appends to the help of c, a command under keys, the services'
// notes for it.
func withNotes(keys, c *cobra.Command) {
	path := strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), keys.CommandPath()))
	var b strings.Builder
	for _, sn := range keysNotes {
		if n := sn.notes[path]; n != "" {
			b.WriteString("\n\n" + wrapText(sn.service+": "+n, 80))
		}
	}
	if b.Len() == 0 {
		return
	}
	if c.Long == "" {
		c.Long = c.Short + "."
	}
	c.Long += b.String()
}

// wrapText breaks s into lines of at most width bytes at spaces.
func wrapText(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

// keyEntry is one key of a listing.
type keyEntry struct {
	KeyId       string   `json:"KeyId"`
	KeyArn      string   `json:"KeyArn"`
	KeyState    string   `json:"KeyState,omitempty"`
	Aliases     []string `json:"Aliases,omitempty"`
	Description string   `json:"Description,omitempty"`
}

// createKeyInput is what keys create asks for.
type createKeyInput struct {
	Name        string // for services that name keys (vault://MOUNT/NAME)
	Description string
	Policy      string
	Alias       string
	KeyType     string // service's own key type (Vault: aes256-gcm96, ...)
}

// deletionResult is aws kms schedule-key-deletion's output.
type deletionResult struct {
	KeyId               string `json:"KeyId"`
	DeletionDate        string `json:"DeletionDate"`
	KeyState            string `json:"KeyState"`
	PendingWindowInDays int    `json:"PendingWindowInDays"`
}

// unsupportedAdmin answers every operation with ErrUnsupported.
type unsupportedAdmin struct{ name string }

func (u unsupportedAdmin) kind() string { return u.name }

func (u unsupportedAdmin) ListKeys(context.Context, string) ([]keyEntry, error) {
	return nil, errUnsupported("ListKeys", "", u.name)
}

func (u unsupportedAdmin) CreateKey(context.Context, *createKeyInput) (*backends.KeyMetadata, error) {
	return nil, errUnsupported("CreateKey", "", u.name)
}

func (u unsupportedAdmin) CreateAlias(_ context.Context, alias, _ string) error {
	return errUnsupported("CreateAlias", alias, u.name)
}

func (u unsupportedAdmin) UpdateAlias(_ context.Context, alias, _ string) error {
	return errUnsupported("UpdateAlias", alias, u.name)
}

func (u unsupportedAdmin) DeleteAlias(_ context.Context, alias string) error {
	return errUnsupported("DeleteAlias", alias, u.name)
}

func (u unsupportedAdmin) EnableKey(_ context.Context, key string) error {
	return errUnsupported("EnableKey", key, u.name)
}

func (u unsupportedAdmin) DisableKey(_ context.Context, key string) error {
	return errUnsupported("DisableKey", key, u.name)
}

func (u unsupportedAdmin) ScheduleKeyDeletion(_ context.Context, key string, _ int) (*deletionResult, error) {
	return nil, errUnsupported("ScheduleKeyDeletion", key, u.name)
}

func (u unsupportedAdmin) CancelKeyDeletion(_ context.Context, key string) (string, error) {
	return "", errUnsupported("CancelKeyDeletion", key, u.name)
}

func (u unsupportedAdmin) RotateKey(_ context.Context, key string) (string, error) {
	return "", errUnsupported("RotateKeyOnDemand", key, u.name)
}

func (u unsupportedAdmin) GetKeyPolicy(_ context.Context, key string) (string, error) {
	return "", errUnsupported("GetKeyPolicy", key, u.name)
}

func (u unsupportedAdmin) PutKeyPolicy(_ context.Context, key, _ string) error {
	return errUnsupported("PutKeyPolicy", key, u.name)
}

// admin returns the key management of the driver d.
func admin(d backends.Backend) keyAdmin {
	for _, f := range adminFactories {
		if ad := f(d); ad != nil {
			return ad
		}
	}
	return unsupportedAdmin{name: fmt.Sprintf("%T", d)}
}

// adminForKey returns the key management of the driver that owns key (or the
// location vault://MOUNT of a listing).
func (s *services) adminForKey(ctx context.Context, key string) (keyAdmin, error) {
	var d backends.Backend = &s.router
	for {
		f, ok := d.(*backends.Front)
		if !ok {
			break
		}
		b, _, err := f.Lookup(ctx, key)
		if err != nil {
			// A listing location (vault://transit, a key ring) names no key:
			// route a key in it.
			for _, probe := range locationProbes {
				if k, ok := probe(key); ok {
					if pb, _, perr := f.Lookup(ctx, k); perr == nil {
						b, err = pb, nil
					}
					break
				}
			}
		}
		if err != nil {
			return nil, err
		}
		d = b
	}
	if m, ok := d.(ambiguous); ok {
		return nil, m.err("", key)
	}
	return admin(d), nil
}

// adminForService returns the management of the service called name, or of
// the only or default service.
func (s *services) adminForService(name string) (keyAdmin, error) {
	switch {
	case name != "":
		sv := s.byName(name)
		if sv == nil {
			return nil, usagef("--service %q is not configured (services: %s)", name, s.names())
		}
		return admin(sv.backend), nil
	case s.def != nil:
		return admin(s.def.backend), nil
	case len(s.list) == 1:
		return admin(s.list[0].backend), nil
	case len(s.list) == 0:
		return nil, usagef("no key service: configure one (keyport help config), or give --store FILE --account ID (embedded store) or --aws / --aws-endpoint URL (AWS KMS)")
	}
	return nil, usagef("several services (%s): say which with --service NAME", s.names())
}

// awsKeyMetadata is KeyMetadata as aws kms describe-key prints it.
type awsKeyMetadata struct {
	AWSAccountId         string               `json:"AWSAccountId,omitempty"`
	KeyId                string               `json:"KeyId"`
	Arn                  string               `json:"Arn"`
	CreationDate         string               `json:"CreationDate,omitempty"`
	Enabled              bool                 `json:"Enabled"`
	Description          string               `json:"Description"`
	KeyUsage             backends.KeyUsage    `json:"KeyUsage,omitempty"`
	KeyState             backends.KeyState    `json:"KeyState"`
	DeletionDate         string               `json:"DeletionDate,omitempty"`
	KeySpec              string               `json:"KeySpec,omitempty"`
	EncryptionAlgorithms []backends.Algorithm `json:"EncryptionAlgorithms,omitempty"`
	MultiRegion          bool                 `json:"MultiRegion"`
	CurrentVersion       int                  `json:"CurrentVersion,omitempty"`
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func awsMetadata(md *backends.KeyMetadata) awsKeyMetadata {
	return awsKeyMetadata{
		AWSAccountId: md.AWSAccountID, KeyId: md.KeyID, Arn: md.Arn, CreationDate: isoTime(md.CreationDate),
		Enabled: md.Enabled, Description: md.Description, KeyUsage: md.KeyUsage, KeyState: md.KeyState,
		DeletionDate: isoTime(md.DeletionDate), KeySpec: md.KeySpec, EncryptionAlgorithms: md.EncryptionAlgorithms,
		MultiRegion: md.MultiRegion, CurrentVersion: md.CurrentVersion,
	}
}

type keyMetadataResult struct {
	KeyMetadata awsKeyMetadata `json:"KeyMetadata"`
}

func (r keyMetadataResult) text(w *textWriter) {
	m := r.KeyMetadata
	w.line("Arn: %s", m.Arn)
	w.line("KeyId: %s", m.KeyId)
	if m.AWSAccountId != "" {
		w.line("AWSAccountId: %s", m.AWSAccountId)
	}
	w.line("KeyState: %s", m.KeyState)
	if m.KeyUsage != "" {
		w.line("KeyUsage: %s", m.KeyUsage)
	}
	if m.KeySpec != "" {
		w.line("KeySpec: %s", m.KeySpec)
	}
	if m.CreationDate != "" {
		w.line("CreationDate: %s", m.CreationDate)
	}
	if m.DeletionDate != "" {
		w.line("DeletionDate: %s", m.DeletionDate)
	}
	w.line("Description: %s", m.Description)
}

func newKeysCmd(a *app) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "List, describe, create and manage keys of any configured service",
		Long: `Keys manages the keys of the configured services: the embedded store, AWS KMS,
Vault Transit, PKCS#11 tokens, Google Cloud KMS and Azure Key Vault. An
operation a service does not have fails with UnsupportedOperationException and
says so. Where a command maps onto a service in a way that is not obvious, its
help says how.

A command that names a key goes to the key's service (by its form: alias/Name and
key IDs to the default service, ARNs by account, URLs by scheme); list and create
go to --service NAME, or to the default or only service.`,
		Example: `  keyport keys create --alias alias/orders --description "order data"
  keyport keys list --output json
  keyport keys describe alias/orders
  keyport keys create vault://transit/orders
  keyport keys list gcpkms://projects/acme/locations/europe-west1/keyRings/payments`,
		Args: cobra.NoArgs,
	}
	var service string
	keys.PersistentFlags().StringVar(&service, "service", "", "service `name` for list and create (default: the default or only service)")
	withKey := func(use, short, example string, readOnly bool, fn func(ctx context.Context, ad keyAdmin, svc *services, key string) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " KEY", Short: short, Example: example, Args: exactArgs(1, "KEY"),
			RunE: a.run(func(cmd *cobra.Command, args []string) error {
				svc, err := a.openServices(cmd.Context(), openOptions{readOnly: readOnly, keys: args})
				if err != nil {
					return err
				}
				defer svc.Close()
				ad, err := svc.adminForKey(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return fn(cmd.Context(), ad, svc, args[0])
			}),
		}
	}

	list := &cobra.Command{
		Use:   "list [vault://MOUNT | gcpkms://projects/P/locations/L/keyRings/R | azurekv://VAULT | pkcs11:token=TOKEN]",
		Short: "List the keys of a service",
		Example: `  keyport keys list
  keyport keys list --service aws --output json
  keyport keys list vault://transit
  keyport keys list azurekv://payments.vault.azure.net --output json
  keyport keys list 'pkcs11:token=Payments'`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: args})
			if err != nil {
				return err
			}
			defer svc.Close()
			location := ""
			var ad keyAdmin
			if len(args) == 1 {
				location = args[0]
				ad, err = svc.adminForKey(cmd.Context(), location)
			} else {
				ad, err = svc.adminForService(service)
			}
			if err != nil {
				return err
			}
			entries, err := ad.ListKeys(cmd.Context(), location)
			if err != nil {
				return err
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].KeyArn < entries[j].KeyArn })
			return a.print(struct {
				Keys []keyEntry `json:"Keys"`
			}{Keys: orEmpty(entries)}, func(w *textWriter) {
				for _, e := range entries {
					w.line("%s\t%s\t%s\t%s", e.KeyArn, orDash(e.KeyState), orDash(strings.Join(e.Aliases, ",")), e.Description)
				}
			})
		}),
	}

	var cin createKeyInput
	create := &cobra.Command{
		Use:   "create [vault://MOUNT/NAME | pkcs11:token=TOKEN;object=LABEL | gcpkms://... | azurekv://...]",
		Short: "Create a key (and its alias), printing its canonical ID",
		Long: `Create makes an encryption key in a service (symmetric unless --key-type says
otherwise) and prints its canonical ID (key ARN, or URL). --alias gives it an
alias at once: a key is never left without the alias asked for (if the alias
cannot be made, the key is scheduled for deletion). Services that name their
keys (Vault, PKCS#11 tokens, Cloud KMS, Key Vault) take the name as a URL; a
PKCS#11 key is made not extractable and sensitive.`,
		Example: `  keyport keys create --alias alias/orders --description "order data"
  keyport keys create --service aws --alias alias/orders
  keyport keys create vault://transit/orders
  keyport keys create 'pkcs11:token=Payments;object=orders' --key-type AES_256
  keyport keys create gcpkms://projects/acme/locations/europe-west1/keyRings/payments/cryptoKeys/orders --key-type HSM
  keyport keys create azurekv://payments.vault.azure.net/keys/orders --key-type RSA-3072`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if cin.Alias != "" {
				if ref, err := backends.ParseKeyRef(cin.Alias); err != nil || ref.Form != backends.FormAliasName {
					return usagef("--alias %q is not an alias name (alias/Name)", truncate(cin.Alias))
				}
			}
			policy, err := a.readPolicyArg(cin.Policy)
			if err != nil {
				return err
			}
			in := cin
			in.Policy = policy
			svc, err := a.openServices(cmd.Context(), openOptions{keys: args})
			if err != nil {
				return err
			}
			defer svc.Close()
			var ad keyAdmin
			if len(args) == 1 {
				in.Name = args[0]
				ad, err = svc.adminForKey(cmd.Context(), args[0])
			} else {
				ad, err = svc.adminForService(service)
			}
			if err != nil {
				return err
			}
			md, err := ad.CreateKey(cmd.Context(), &in)
			if err != nil {
				return err
			}
			r := keyMetadataResult{awsMetadata(md)}
			return a.print(r, func(w *textWriter) { w.line("%s", md.Arn) })
		}),
	}
	create.Flags().StringVar(&cin.Alias, "alias", "", "alias `alias/Name` for the new key")
	create.Flags().StringVar(&cin.Description, "description", "", "key `description`")
	create.Flags().StringVar(&cin.Policy, "policy", "", "key policy: JSON `text` or file://FILE (default: the service's)")
	create.Flags().StringVar(&cin.KeyType, "key-type", "", "the service's key `type` (Vault: aes256-gcm96 by default; PKCS#11: AES_256 by default, RSA_2048, RSA_3072, RSA_4096; Cloud KMS: SOFTWARE by default, HSM; Key Vault: RSA-2048 by default, RSA-3072, RSA-4096, RSA-HSM-2048, RSA-HSM-3072, RSA-HSM-4096, oct-HSM-256)")

	describe := withKey("describe", "Describe a key (aws kms describe-key)", "  keyport keys describe alias/orders --output json", true,
		func(ctx context.Context, _ keyAdmin, svc *services, key string) error {
			md, err := svc.router.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
			if err != nil {
				return err
			}
			r := keyMetadataResult{awsMetadata(md)}
			return a.print(r, r.text)
		})

	enable := withKey("enable", "Enable a key", "  keyport keys enable alias/orders", false,
		func(ctx context.Context, ad keyAdmin, _ *services, key string) error { return ad.EnableKey(ctx, key) })
	disable := withKey("disable", "Disable a key: it encrypts and decrypts nothing until enabled", "  keyport keys disable alias/orders", false,
		func(ctx context.Context, ad keyAdmin, _ *services, key string) error { return ad.DisableKey(ctx, key) })

	var days int
	var schedule *cobra.Command
	schedule = withKey("schedule-deletion", "Schedule a key's deletion after a waiting period (7 to 30 days)",
		"  keyport keys schedule-deletion alias/old --pending-window-in-days 7", false,
		func(ctx context.Context, ad keyAdmin, _ *services, key string) error {
			window := days
			if !schedule.Flags().Changed("pending-window-in-days") {
				window = 0 // the service's default, or its fixed period
			}
			r, err := ad.ScheduleKeyDeletion(ctx, key, window)
			if err != nil {
				return err
			}
			return a.print(r, func(w *textWriter) { w.line("%s\t%s\t%s", r.KeyId, r.KeyState, r.DeletionDate) })
		})
	schedule.Flags().IntVar(&days, "pending-window-in-days", 30, "waiting `days` before the key is deleted (7 to 30; where the service fixes the period, only that)")
	cancel := withKey("cancel-deletion", "Cancel a scheduled deletion (the key stays disabled, as in AWS KMS)",
		"  keyport keys cancel-deletion alias/old && keyport keys enable alias/old", false,
		func(ctx context.Context, ad keyAdmin, _ *services, key string) error {
			id, err := ad.CancelKeyDeletion(ctx, key)
			if err != nil {
				return err
			}
			return a.print(map[string]string{"KeyId": id}, func(w *textWriter) { w.line("%s", id) })
		})
	rotate := withKey("rotate", "Rotate a key now: new encryptions use new key material, old ciphertexts still decrypt",
		"  keyport keys rotate alias/orders", false,
		func(ctx context.Context, ad keyAdmin, _ *services, key string) error {
			id, err := ad.RotateKey(ctx, key)
			if err != nil {
				return err
			}
			return a.print(map[string]string{"KeyId": id}, func(w *textWriter) { w.line("%s", id) })
		})

	keys.AddCommand(list, create, describe, enable, disable, schedule, cancel, rotate, newAliasCmd(a), newPolicyCmd(a))
	var notes func(c *cobra.Command)
	notes = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			withNotes(keys, sub)
			notes(sub)
		}
	}
	notes(keys)
	return keys
}

func newAliasCmd(a *app) *cobra.Command {
	alias := &cobra.Command{
		Use:   "alias",
		Short: "Create, update and delete aliases (alias/Name) of keys",
		Example: `  keyport keys alias create alias/orders 1234abcd-12ab-34cd-56ef-1234567890ab
  keyport keys alias update alias/orders alias/orders-2026
  keyport keys alias delete alias/orders`,
		Args: cobra.NoArgs,
	}
	mk := func(use, short, example string, n int, fn func(ctx context.Context, ad keyAdmin, args []string) error) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Example: example, Args: exactArgs(n, use),
			RunE: a.run(func(cmd *cobra.Command, args []string) error {
				if ref, err := backends.ParseKeyRef(args[0]); err != nil || (ref.Form != backends.FormAliasName && ref.Form != backends.FormAliasARN) {
					return usagef("%q is not an alias (alias/Name)", truncate(args[0]))
				}
				svc, err := a.openServices(cmd.Context(), openOptions{keys: args})
				if err != nil {
					return err
				}
				defer svc.Close()
				route := args[0]
				if n == 2 {
					route = args[1] // the target key decides the service
				}
				ad, err := svc.adminForKey(cmd.Context(), route)
				if err != nil {
					return err
				}
				return fn(cmd.Context(), ad, args)
			}),
		}
	}
	alias.AddCommand(
		mk("create ALIAS KEY", "Create an alias for a key", "  keyport keys alias create alias/orders alias/orders-2025", 2,
			func(ctx context.Context, ad keyAdmin, args []string) error {
				return ad.CreateAlias(ctx, args[0], args[1])
			}),
		mk("update ALIAS KEY", "Point an alias at another key", "  keyport keys alias update alias/orders arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", 2,
			func(ctx context.Context, ad keyAdmin, args []string) error {
				return ad.UpdateAlias(ctx, args[0], args[1])
			}),
		mk("delete ALIAS", "Delete an alias (the key stays)", "  keyport keys alias delete alias/orders", 1,
			func(ctx context.Context, ad keyAdmin, args []string) error { return ad.DeleteAlias(ctx, args[0]) }),
	)
	return alias
}

func newPolicyCmd(a *app) *cobra.Command {
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Get and put a key's key policy",
		Example: `  keyport keys policy get alias/orders > policy.json
  keyport keys policy put alias/orders --policy file://policy.json`,
		Args: cobra.NoArgs,
	}
	get := &cobra.Command{
		Use: "get KEY", Short: "Print a key's policy (aws kms get-key-policy)", Args: exactArgs(1, "KEY"),
		Example: "  keyport keys policy get alias/orders --output json",
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: args})
			if err != nil {
				return err
			}
			defer svc.Close()
			ad, err := svc.adminForKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p, err := ad.GetKeyPolicy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(map[string]string{"Policy": p, "PolicyName": "default"}, func(w *textWriter) { w.line("%s", p) })
		}),
	}
	var doc string
	put := &cobra.Command{
		Use: "put KEY --policy file://FILE", Short: "Replace a key's policy (aws kms put-key-policy)", Args: exactArgs(1, "KEY"),
		Example: "  keyport keys policy put alias/orders --policy file://policy.json",
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if doc == "" {
				return usagef("--policy is required")
			}
			p, err := a.readPolicyArg(doc)
			if err != nil {
				return err
			}
			svc, err := a.openServices(cmd.Context(), openOptions{keys: args})
			if err != nil {
				return err
			}
			defer svc.Close()
			ad, err := svc.adminForKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return ad.PutKeyPolicy(cmd.Context(), args[0], p)
		}),
	}
	put.Flags().StringVar(&doc, "policy", "", "the policy: JSON `text` or file://FILE")
	policy.AddCommand(get, put)
	return policy
}

// readPolicyArg reads a policy argument: file://FILE or the JSON itself,
// which must parse.
func (a *app) readPolicyArg(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.HasPrefix(v, "file://") {
		b, err := a.readLimited("policy", strings.TrimPrefix(v, "file://"))
		if err != nil {
			return "", err
		}
		v = string(b)
	}
	if !json.Valid([]byte(v)) {
		return "", usagef("--policy is not valid JSON")
	}
	return v, nil
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s (%d argument(s)), got %d", what, n, len(args))
		}
		return nil
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orEmpty(e []keyEntry) []keyEntry {
	if e == nil {
		return []keyEntry{}
	}
	return e
}
