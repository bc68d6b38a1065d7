package cli

import (
	"context"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

// localAdmin manages the keys of the embedded store.
type localAdmin struct {
	unsupportedAdmin
	c *local.Client
}

func init() {
	adminFactories = append(adminFactories, func(d backends.Backend) keyAdmin {
		if c, ok := d.(*local.Client); ok {
			return &localAdmin{unsupportedAdmin{kindLocal}, c}
		}
		return nil
	})
}

func (l *localAdmin) ListKeys(ctx context.Context, location string) ([]keyEntry, error) {
	if location != "" {
		return nil, usagef("the store lists all its keys: give no location")
	}
	aliases := map[string][]string{} // key ID -> alias names
	for marker := ""; ; {
		out, err := l.c.ListAliases(ctx, &local.ListAliasesInput{Limit: 100, Marker: marker})
		if err != nil {
			return nil, err
		}
		for _, a := range out.Aliases {
			if a.TargetKeyID != "" {
				aliases[a.TargetKeyID] = append(aliases[a.TargetKeyID], a.AliasName)
			}
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	var entries []keyEntry
	for marker := ""; ; {
		out, err := l.c.ListKeys(ctx, &local.ListKeysInput{Limit: 1000, Marker: marker})
		if err != nil {
			return nil, err
		}
		for _, k := range out.Keys {
			md, err := l.c.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k.KeyArn})
			if err != nil {
				return nil, err
			}
			entries = append(entries, keyEntry{KeyId: k.KeyID, KeyArn: k.KeyArn, KeyState: string(md.KeyState), Aliases: aliases[k.KeyID], Description: md.Description})
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	return entries, nil
}

func (l *localAdmin) CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error) {
	if in.Name != "" || in.KeyType != "" {
		return nil, usagef("the store names its keys and makes only symmetric keys: give no name or --key-type")
	}
	// The key and its alias are made in one transaction: an alias that exists
	// makes no key.
	out, err := l.c.CreateKey(ctx, &local.CreateKeyInput{Description: in.Description, Policy: in.Policy, AliasName: in.Alias})
	if err != nil {
		return nil, err
	}
	return out.KeyMetadata, nil
}

// keyID resolves any reference to the key ID, as alias targets want it.
func (l *localAdmin) keyID(ctx context.Context, key string) (string, error) {
	md, err := l.c.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil {
		return "", err
	}
	return md.KeyID, nil
}

func (l *localAdmin) CreateAlias(ctx context.Context, alias, key string) error {
	id, err := l.keyID(ctx, key)
	if err != nil {
		return err
	}
	return l.c.CreateAlias(ctx, &local.CreateAliasInput{AliasName: alias, TargetKeyID: id})
}

func (l *localAdmin) UpdateAlias(ctx context.Context, alias, key string) error {
	id, err := l.keyID(ctx, key)
	if err != nil {
		return err
	}
	return l.c.UpdateAlias(ctx, &local.UpdateAliasInput{AliasName: alias, TargetKeyID: id})
}

func (l *localAdmin) DeleteAlias(ctx context.Context, alias string) error {
	return l.c.DeleteAlias(ctx, &local.DeleteAliasInput{AliasName: alias})
}

func (l *localAdmin) EnableKey(ctx context.Context, key string) error {
	return l.c.EnableKey(ctx, &local.EnableKeyInput{KeyID: key})
}

func (l *localAdmin) DisableKey(ctx context.Context, key string) error {
	return l.c.DisableKey(ctx, &local.DisableKeyInput{KeyID: key})
}

func (l *localAdmin) ScheduleKeyDeletion(ctx context.Context, key string, days int) (*deletionResult, error) {
	out, err := l.c.ScheduleKeyDeletion(ctx, &local.ScheduleKeyDeletionInput{KeyID: key, PendingWindowInDays: days})
	if err != nil {
		return nil, err
	}
	return &deletionResult{out.KeyID, isoTime(out.DeletionDate), string(out.KeyState), out.PendingWindowInDays}, nil
}

func (l *localAdmin) CancelKeyDeletion(ctx context.Context, key string) (string, error) {
	out, err := l.c.CancelKeyDeletion(ctx, &local.CancelKeyDeletionInput{KeyID: key})
	if err != nil {
		return "", err
	}
	return out.KeyID, nil
}

func (l *localAdmin) RotateKey(ctx context.Context, key string) (string, error) {
	out, err := l.c.RotateKeyOnDemand(ctx, &local.RotateKeyOnDemandInput{KeyID: key})
	if err != nil {
		return "", err
	}
	return out.KeyID, nil
}

func (l *localAdmin) GetKeyPolicy(ctx context.Context, key string) (string, error) {
	out, err := l.c.GetKeyPolicy(ctx, &local.GetKeyPolicyInput{KeyID: key})
	if err != nil {
		return "", err
	}
	return out.Policy, nil
}

func (l *localAdmin) PutKeyPolicy(ctx context.Context, key, policy string) error {
	return l.c.PutKeyPolicy(ctx, &local.PutKeyPolicyInput{KeyID: key, Policy: policy})
}
