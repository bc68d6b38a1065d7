package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
)

// awsAdmin manages AWS KMS keys through aws-sdk-go-v2's KMS client.
type awsAdmin struct {
	unsupportedAdmin
	b *awskms.Backend
}

func init() {
	adminFactories = append(adminFactories, func(d backends.Backend) keyAdmin {
		if b, ok := d.(*awskms.Backend); ok {
			return &awsAdmin{unsupportedAdmin{kindAWSKMS}, b}
		}
		return nil
	})
}

// target resolves a reference to the key ARN (the admin operations take no
// alias, so an alias is resolved by DescribeKey first) and the options that
// send the call to the key's region.
func (w *awsAdmin) target(ctx context.Context, op, key string) (string, []func(*kms.Options), error) {
	md, err := w.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil {
		return "", nil, backends.WithOp(err, op)
	}
	t, err := awskms.ParseKeyID(md.Arn)
	if err != nil {
		return "", nil, backends.WithOp(err, op)
	}
	var opts []func(*kms.Options)
	if t.Region != "" && t.Region != w.b.Region() {
		opts = append(opts, func(o *kms.Options) { o.Region = t.Region })
	}
	return t.KeyID, opts, nil
}

func (w *awsAdmin) ListKeys(ctx context.Context, location string) ([]keyEntry, error) {
	if location != "" {
		return nil, usagef("AWS KMS lists the keys of its home region: give no location")
	}
	c := w.b.Client()
	aliases := map[string][]string{}
	ap := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return nil, awskms.MapError(ctx, "ListAliases", "", err)
		}
		for _, a := range page.Aliases {
			if a.TargetKeyId != nil && a.AliasName != nil {
				aliases[*a.TargetKeyId] = append(aliases[*a.TargetKeyId], *a.AliasName)
			}
		}
	}
	var entries []keyEntry
	kp := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for kp.HasMorePages() {
		page, err := kp.NextPage(ctx)
		if err != nil {
			return nil, awskms.MapError(ctx, "ListKeys", "", err)
		}
		for _, k := range page.Keys {
			e := keyEntry{KeyId: aws.ToString(k.KeyId), KeyArn: aws.ToString(k.KeyArn), Aliases: aliases[aws.ToString(k.KeyId)]}
			if md, err := w.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: e.KeyArn}); err == nil {
				e.KeyState, e.Description = string(md.KeyState), md.Description
			}
			entries = append(entries, e)
		}
	}
	return entries, nil
}

func (w *awsAdmin) CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error) {
	if in.Name != "" || in.KeyType != "" {
		return nil, usagef("AWS KMS names its keys and keyport makes only symmetric keys: give no name or --key-type")
	}
	c := w.b.Client()
	if in.Alias != "" {
		_, err := w.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: in.Alias})
		if err == nil {
			return nil, backends.Errorf(backends.ErrAlreadyExists, "CreateAlias", in.Alias, "the alias exists; no key created")
		}
		if !errors.Is(err, backends.ErrNotFound) {
			return nil, err
		}
	}
	ci := &kms.CreateKeyInput{}
	if in.Description != "" {
		ci.Description = aws.String(in.Description)
	}
	if in.Policy != "" {
		ci.Policy = aws.String(in.Policy)
	}
	out, err := c.CreateKey(ctx, ci)
	if err != nil {
		return nil, awskms.MapError(ctx, "CreateKey", "", err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	if in.Alias != "" {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(in.Alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			_, derr := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: out.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)})
			return nil, fmt.Errorf("key %s created but not its alias, so it is scheduled for deletion (%v): %w", arn, derr, awskms.MapError(ctx, "CreateAlias", in.Alias, err))
		}
	}
	return w.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: arn})
}

// keyID resolves a reference to the key ID, as alias targets want it.
func (w *awsAdmin) keyID(ctx context.Context, key string) (string, error) {
	md, err := w.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil {
		return "", err
	}
	return md.KeyID, nil
}

func (w *awsAdmin) CreateAlias(ctx context.Context, alias, key string) error {
	id, err := w.keyID(ctx, key)
	if err != nil {
		return err
	}
	_, err = w.b.Client().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)})
	return awskms.MapError(ctx, "CreateAlias", alias, err)
}

func (w *awsAdmin) UpdateAlias(ctx context.Context, alias, key string) error {
	id, err := w.keyID(ctx, key)
	if err != nil {
		return err
	}
	_, err = w.b.Client().UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)})
	return awskms.MapError(ctx, "UpdateAlias", alias, err)
}

func (w *awsAdmin) DeleteAlias(ctx context.Context, alias string) error {
	_, err := w.b.Client().DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(alias)})
	return awskms.MapError(ctx, "DeleteAlias", alias, err)
}

func (w *awsAdmin) EnableKey(ctx context.Context, key string) error {
	id, opts, err := w.target(ctx, "EnableKey", key)
	if err == nil {
		_, err = w.b.Client().EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}, opts...)
		err = awskms.MapError(ctx, "EnableKey", key, err)
	}
	return err
}

func (w *awsAdmin) DisableKey(ctx context.Context, key string) error {
	id, opts, err := w.target(ctx, "DisableKey", key)
	if err == nil {
		_, err = w.b.Client().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}, opts...)
		err = awskms.MapError(ctx, "DisableKey", key, err)
	}
	return err
}

func (w *awsAdmin) ScheduleKeyDeletion(ctx context.Context, key string, days int) (*deletionResult, error) {
	id, opts, err := w.target(ctx, "ScheduleKeyDeletion", key)
	if err != nil {
		return nil, err
	}
	in := &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)}
	if days != 0 {
		in.PendingWindowInDays = aws.Int32(int32(days))
	} else {
		days = 30 // AWS KMS's default, for a server that does not say
	}
	out, err := w.b.Client().ScheduleKeyDeletion(ctx, in, opts...)
	if err != nil {
		return nil, awskms.MapError(ctx, "ScheduleKeyDeletion", key, err)
	}
	r := &deletionResult{aws.ToString(out.KeyId), isoTime(aws.ToTime(out.DeletionDate)), string(out.KeyState), int(aws.ToInt32(out.PendingWindowInDays))}
	if r.KeyState == "" || r.PendingWindowInDays == 0 {
		// Servers of the older API shape (local-kms) answer only KeyId and
		// DeletionDate: the state is read back, the window is the one asked for.
		if md, err := w.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: id}); err == nil {
			r.KeyState = string(md.KeyState)
		}
		if r.PendingWindowInDays == 0 {
			r.PendingWindowInDays = days
		}
	}
	return r, nil
}

func (w *awsAdmin) CancelKeyDeletion(ctx context.Context, key string) (string, error) {
	id, opts, err := w.target(ctx, "CancelKeyDeletion", key)
	if err != nil {
		return "", err
	}
	out, err := w.b.Client().CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}, opts...)
	if err != nil {
		return "", awskms.MapError(ctx, "CancelKeyDeletion", key, err)
	}
	return aws.ToString(out.KeyId), nil
}

func (w *awsAdmin) RotateKey(ctx context.Context, key string) (string, error) {
	id, opts, err := w.target(ctx, "RotateKeyOnDemand", key)
	if err != nil {
		return "", err
	}
	out, err := w.b.Client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}, opts...)
	if err != nil {
		return "", awskms.MapError(ctx, "RotateKeyOnDemand", key, err)
	}
	return aws.ToString(out.KeyId), nil
}

func (w *awsAdmin) GetKeyPolicy(ctx context.Context, key string) (string, error) {
	id, opts, err := w.target(ctx, "GetKeyPolicy", key)
	if err != nil {
		return "", err
	}
	out, err := w.b.Client().GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")}, opts...)
	if err != nil {
		return "", awskms.MapError(ctx, "GetKeyPolicy", key, err)
	}
	return aws.ToString(out.Policy), nil
}

func (w *awsAdmin) PutKeyPolicy(ctx context.Context, key, policy string) error {
	id, opts, err := w.target(ctx, "PutKeyPolicy", key)
	if err == nil {
		_, err = w.b.Client().PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(policy), PolicyName: aws.String("default")}, opts...)
		err = awskms.MapError(ctx, "PutKeyPolicy", key, err)
	}
	return err
}
