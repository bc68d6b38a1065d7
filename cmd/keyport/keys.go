package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

// runKeys manages keys of the embedded local service (create, list) and
// describes a key of any service (describe).
func runKeys(ctx context.Context, e *env, sf *serviceFlags, args []string) error {
	if len(args) == 0 {
		return usagef("keys needs a subcommand: create, list or describe")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, sf, "keys "+sub, "[flags]")
	var alias, desc *string
	switch sub {
	case "create":
		alias = fs.String("alias", "", "alias `alias/Name` for the new key")
		desc = fs.String("description", "", "key `description`")
	case "list", "describe":
	default:
		return usagef("unknown keys subcommand %q (create, list, describe)", sub)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	svc, err := openServices(ctx, sf)
	if err != nil {
		return err
	}
	defer svc.Close()
	if sub == "describe" {
		if fs.NArg() != 1 {
			return usagef("keys describe takes one key reference")
		}
		return describeKey(ctx, e, svc, fs.Arg(0))
	}
	if svc.client == nil {
		return usagef("keys %s works on the embedded local service: give --store FILE", sub)
	}
	if fs.NArg() != 0 {
		return usagef("keys %s takes no arguments", sub)
	}
	if sub == "create" {
		return createKey(ctx, e, svc.client, *alias, *desc)
	}
	return listKeys(ctx, e, svc.client)
}

func createKey(ctx context.Context, e *env, c *local.Client, alias, desc string) error {
	if alias != "" {
		// Check the alias before making a key that would be left without it.
		if ref, err := backends.ParseKeyRef(alias); err != nil || ref.Form != backends.FormAliasName {
			return usagef("--alias %q is not an alias name (alias/Name)", truncate(alias))
		}
	}
	out, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: desc})
	if err != nil {
		return err
	}
	md := out.KeyMetadata
	if alias != "" {
		if err := c.CreateAlias(ctx, &local.CreateAliasInput{AliasName: alias, TargetKeyID: md.KeyID}); err != nil {
			return fmt.Errorf("key %s created, but not its alias: %w", md.Arn, err)
		}
	}
	fmt.Fprintln(e.stdout, md.Arn)
	return nil
}

func listKeys(ctx context.Context, e *env, c *local.Client) error {
	aliases := map[string][]string{} // key ID -> alias names
	for marker := ""; ; {
		out, err := c.ListAliases(ctx, &local.ListAliasesInput{Limit: 100, Marker: marker})
		if err != nil {
			return err
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
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ARN\tSTATE\tALIASES\tDESCRIPTION")
	for marker := ""; ; {
		out, err := c.ListKeys(ctx, &local.ListKeysInput{Limit: 1000, Marker: marker})
		if err != nil {
			return err
		}
		for _, k := range out.Keys {
			md, err := c.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k.KeyArn})
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KeyArn, md.KeyState, orDefault(strings.Join(aliases[k.KeyID], ","), "-"), md.Description)
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	return tw.Flush()
}

func describeKey(ctx context.Context, e *env, svc *services, ref string) error {
	md, err := svc.router.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "KeyId: %s\nState: %s\nUsage: %s\nSpec: %s\nDescription: %s\n", md.Arn, md.KeyState, md.KeyUsage, md.KeySpec, md.Description)
	return nil
}
