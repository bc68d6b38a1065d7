package local_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

// TestKeyStates checks every operation against every key state, with the error AWS
// gives (nil: the call succeeds).
func TestKeyStates(t *testing.T) {
	type call func(f *fixture, key string, blob []byte, other string) error
	calls := []struct {
		name                       string
		call                       call
		enabled, disabled, pending *backends.Kind
	}{
		{"Encrypt", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"Decrypt", func(f *fixture, _ string, blob []byte, _ string) error {
			_, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"GenerateDataKey", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.GenerateDataKey(bg, &backends.GenerateDataKeyInput{KeyID: key})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"GenerateDataKeyWithoutPlaintext", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.GenerateDataKeyWithoutPlaintext(bg, &backends.GenerateDataKeyInput{KeyID: key})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"ReEncrypt from", func(f *fixture, _ string, blob []byte, other string) error {
			_, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: other})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"ReEncrypt to", func(f *fixture, key string, _ []byte, other string) error {
			blob := f.encrypt(f.a, other, []byte("x"), nil)
			_, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: key})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"DescribeKey", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: key})
			return err
		}, nil, nil, nil},
		{"EnableKey", func(f *fixture, key string, _ []byte, _ string) error {
			return f.a.EnableKey(bg, &local.EnableKeyInput{KeyID: key})
		}, nil, nil, backends.ErrInvalidState},
		{"DisableKey", func(f *fixture, key string, _ []byte, _ string) error {
			return f.a.DisableKey(bg, &local.DisableKeyInput{KeyID: key})
		}, nil, nil, backends.ErrInvalidState},
		{"ScheduleKeyDeletion", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: key})
			return err
		}, nil, nil, backends.ErrInvalidState},
		{"CancelKeyDeletion", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.CancelKeyDeletion(bg, &local.CancelKeyDeletionInput{KeyID: key})
			return err
		}, backends.ErrInvalidState, backends.ErrInvalidState, nil},
		{"CreateAlias", func(f *fixture, key string, _ []byte, _ string) error {
			return f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/state-test", TargetKeyID: key})
		}, nil, nil, backends.ErrInvalidState},
		{"CreateGrant", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.CreateGrant(bg, &local.CreateGrantInput{KeyID: key, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"ListGrants", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.ListGrants(bg, &local.ListGrantsInput{KeyID: key})
			return err
		}, nil, nil, nil},
		{"PutKeyPolicy", func(f *fixture, key string, _ []byte, _ string) error {
			return f.a.PutKeyPolicy(bg, &local.PutKeyPolicyInput{KeyID: key, Policy: allowPolicy(acctA, []string{acctB}, "kms:Decrypt")})
		}, nil, nil, nil},
		{"GetKeyPolicy", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.GetKeyPolicy(bg, &local.GetKeyPolicyInput{KeyID: key})
			return err
		}, nil, nil, nil},
		{"EnableKeyRotation", func(f *fixture, key string, _ []byte, _ string) error {
			return f.a.EnableKeyRotation(bg, &local.EnableKeyRotationInput{KeyID: key})
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"DisableKeyRotation", func(f *fixture, key string, _ []byte, _ string) error {
			return f.a.DisableKeyRotation(bg, &local.DisableKeyRotationInput{KeyID: key})
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
		{"GetKeyRotationStatus", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.GetKeyRotationStatus(bg, &local.GetKeyRotationStatusInput{KeyID: key})
			return err
		}, nil, nil, nil},
		{"RotateKeyOnDemand", func(f *fixture, key string, _ []byte, _ string) error {
			_, err := f.a.RotateKeyOnDemand(bg, &local.RotateKeyOnDemandInput{KeyID: key})
			return err
		}, nil, backends.ErrDisabled, backends.ErrInvalidState},
	}
	for _, c := range calls {
		for _, st := range []struct {
			state backends.KeyState
			want  func() *backends.Kind
		}{
			{backends.KeyStateEnabled, func() *backends.Kind { return c.enabled }},
			{backends.KeyStateDisabled, func() *backends.Kind { return c.disabled }},
			{backends.KeyStatePendingDeletion, func() *backends.Kind { return c.pending }},
		} {
			t.Run(c.name+"/"+string(st.state), func(t *testing.T) {
				f := newFixture(t)
				k, other := f.key(f.a, nil), f.key(f.a, nil)
				blob := f.encrypt(f.a, k.KeyID, []byte("x"), nil)
				switch st.state {
				case backends.KeyStateDisabled:
					mustOK(t, f.a.DisableKey(bg, &local.DisableKeyInput{KeyID: k.KeyID}))
				case backends.KeyStatePendingDeletion:
					_, err := f.a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: 7})
					mustOK(t, err)
				}
				err := c.call(f, k.KeyID, blob, other.KeyID)
				if want := st.want(); want == nil {
					mustOK(t, err)
				} else {
					kmstest.WantKind(t, err, want, c.name+" with the key "+string(st.state))
				}
			})
		}
	}
}

func TestDeletion(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	mustOK(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/doomed", TargetKeyID: k.KeyID}))
	blob := f.encrypt(f.a, k.KeyID, []byte("x"), nil)
	for _, days := range []int{-1, 6, 31} {
		_, err := f.a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: days})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("ScheduleKeyDeletion with a window of %d days", days))
	}
	out, err := f.a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: k.KeyID})
	mustOK(t, err)
	if want := f.clock.Now().Add(30 * day); !out.DeletionDate.Equal(want) || out.PendingWindowInDays != 30 || out.KeyState != backends.KeyStatePendingDeletion || out.KeyID != k.Arn {
		t.Fatalf("ScheduleKeyDeletion output %+v", out)
	}
	md, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/doomed"})
	mustOK(t, err)
	if md.KeyState != backends.KeyStatePendingDeletion || !md.DeletionDate.Equal(out.DeletionDate) {
		t.Fatalf("metadata %+v", md)
	}
	// Cancel: Disabled, as AWS; then enable and use again.
	_, err = f.a.CancelKeyDeletion(bg, &local.CancelKeyDeletionInput{KeyID: k.KeyID})
	mustOK(t, err)
	md, _ = f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k.KeyID})
	if md.KeyState != backends.KeyStateDisabled || !md.DeletionDate.IsZero() {
		t.Fatalf("after cancel: %s %v", md.KeyState, md.DeletionDate)
	}
	mustOK(t, f.a.EnableKey(bg, &local.EnableKeyInput{KeyID: k.KeyID}))
	f.encrypt(f.a, k.KeyID, []byte("x"), nil)

	// Schedule again for 7 days; one second before, the key still exists.
	_, err = f.a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: 7})
	mustOK(t, err)
	f.clock.Advance(7*day - time.Second)
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Decrypt a second before the deletion")
	f.clock.Advance(time.Second)
	_, err = f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k.KeyID})
	kmstest.WantKind(t, err, backends.ErrNotFound, "DescribeKey of a deleted key")
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Decrypt with a deleted key")
	_, err = f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/doomed"})
	kmstest.WantKind(t, err, backends.ErrNotFound, "DescribeKey by the alias of a deleted key")
	aliases, err := f.a.ListAliases(bg, nil)
	mustOK(t, err)
	keys, err := f.a.ListKeys(bg, nil)
	mustOK(t, err)
	if len(aliases.Aliases) != 0 || len(keys.Keys) != 0 {
		t.Fatalf("deleted key still listed: %+v %+v", aliases, keys)
	}
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	if k.CurrentVersion != 1 {
		t.Fatalf("new key CurrentVersion %d", k.CurrentVersion)
	}
	for _, days := range []int{-1, 89, 2561} {
		err := f.a.EnableKeyRotation(bg, &local.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: days})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("EnableKeyRotation with a period of %d days", days))
	}
	v1 := f.encrypt(f.a, k.KeyID, []byte("one"), nil)
	mustOK(t, f.a.EnableKeyRotation(bg, &local.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: 90}))
	st, err := f.a.GetKeyRotationStatus(bg, &local.GetKeyRotationStatusInput{KeyID: k.KeyID})
	mustOK(t, err)
	if !st.KeyRotationEnabled || st.RotationPeriodInDays != 90 || !st.NextRotationDate.Equal(f.clock.Now().Add(90*day)) {
		t.Fatalf("rotation status %+v", st)
	}
	version := func() int {
		t.Helper()
		md, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k.KeyID})
		mustOK(t, err)
		return md.CurrentVersion
	}
	f.clock.Advance(89 * day)
	if v := version(); v != 1 {
		t.Fatalf("rotated early: version %d", v)
	}
	f.clock.Advance(day)
	if v := version(); v != 2 {
		t.Fatalf("after 90 days: version %d, want 2", v)
	}
	v2 := f.encrypt(f.a, k.KeyID, []byte("two"), nil)
	// A disabled key does not rotate; once enabled it catches up.
	mustOK(t, f.a.DisableKey(bg, &local.DisableKeyInput{KeyID: k.KeyID}))
	f.clock.Advance(100 * day)
	if v := version(); v != 2 {
		t.Fatalf("disabled key rotated: version %d", v)
	}
	mustOK(t, f.a.EnableKey(bg, &local.EnableKeyInput{KeyID: k.KeyID}))
	if v := version(); v != 3 {
		t.Fatalf("re-enabled key: version %d, want 3", v)
	}
	out, err := f.a.RotateKeyOnDemand(bg, &local.RotateKeyOnDemandInput{KeyID: k.KeyID})
	mustOK(t, err)
	if out.CurrentVersion != 4 || version() != 4 {
		t.Fatalf("on demand: version %d", out.CurrentVersion)
	}
	for _, tc := range []struct {
		blob []byte
		want string
	}{{v1, "one"}, {v2, "two"}} {
		dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: tc.blob})
		mustOK(t, err)
		if string(dec.Plaintext) != tc.want {
			t.Fatalf("old ciphertext decrypts to %q", dec.Plaintext)
		}
	}
	mustOK(t, f.a.DisableKeyRotation(bg, &local.DisableKeyRotationInput{KeyID: k.KeyID}))
	f.clock.Advance(1000 * day)
	if v := version(); v != 4 {
		t.Fatalf("rotation off, yet version %d", v)
	}
	// On-demand rotations are limited to 10 per key.
	for i := 1; i < 10; i++ {
		_, err := f.a.RotateKeyOnDemand(bg, &local.RotateKeyOnDemandInput{KeyID: k.KeyID})
		mustOK(t, err)
	}
	_, err = f.a.RotateKeyOnDemand(bg, &local.RotateKeyOnDemandInput{KeyID: k.KeyID})
	kmstest.WantKind(t, err, backends.ErrLimitExceeded, "an eleventh RotateKeyOnDemand")
}

func TestPolicies(t *testing.T) {
	f := newFixture(t)
	ec := map[string]string{"purpose": "billing"}
	for _, tc := range []struct {
		name   string
		policy string
		ec     map[string]string
		want   *backends.Kind
	}{
		{"default keeps B out", "", ec, backends.ErrAccessDenied},
		{"account ID", allowPolicy(acctA, []string{acctB}, "kms:Decrypt"), ec, nil},
		{"account root ARN", allowPolicy(acctA, []string{"arn:aws:iam::" + acctB + ":root"}, "kms:*"), ec, nil},
		{"exact role", allowPolicy(acctA, []string{roleB}, "kms:Decrypt"), ec, nil},
		{"another role", allowPolicy(acctA, []string{"arn:aws:iam::" + acctB + ":role/other"}, "kms:Decrypt"), ec, backends.ErrAccessDenied},
		{"anyone", allowPolicy(acctA, []string{"*"}, "kms:Decrypt"), ec, nil},
		{"wildcard action", allowPolicy(acctA, []string{acctB}, "kms:Dec*"), ec, nil},
		{"question mark", allowPolicy(acctA, []string{acctB}, "kms:Decryp?"), ec, nil},
		{"case-insensitive action", allowPolicy(acctA, []string{acctB}, "KMS:decrypt"), ec, nil},
		{"other action", allowPolicy(acctA, []string{acctB}, "kms:Encrypt"), ec, backends.ErrAccessDenied},
		{"deny beats allow", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"},` +
			`{"Effect":"Deny","Principal":{"AWS":"` + acctB + `"},"Action":"kms:Decrypt","Resource":"*"}]}`, ec, backends.ErrAccessDenied},
		{"condition met", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctA + `"},"Action":"kms:*","Resource":"*"},` +
			`{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"kms:Decrypt","Resource":"*",` +
			`"Condition":{"StringEquals":{"kms:EncryptionContext:purpose":["billing","audit"]}}}]}`, ec, nil},
		{"condition not met", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctA + `"},"Action":"kms:*","Resource":"*"},` +
			`{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"kms:Decrypt","Resource":"*",` +
			`"Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"audit"}}}]}`, ec, backends.ErrAccessDenied},
		{"caller account condition", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctA + `"},"Action":"kms:*","Resource":"*"},` +
			`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",` +
			`"Condition":{"StringEquals":{"kms:CallerAccount":"` + acctB + `"}}}]}`, ec, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := f.key(f.a, &local.CreateKeyInput{Policy: tc.policy, BypassPolicyLockoutSafetyCheck: true})
			blob := f.encrypt(f.svc.Client(local.Identity{Account: acctA}), k.KeyID, []byte("x"), tc.ec)
			_, err := f.b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: tc.ec})
			if tc.want == nil {
				mustOK(t, err)
			} else {
				kmstest.WantKind(t, err, tc.want, "Decrypt by B")
			}
		})
	}
	// Malformed policies and the lockout check.
	k := f.key(f.a, nil)
	for _, p := range []string{
		"not json", `{}`, `{"Statement":[]}`,
		`{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"kms:Decrypt","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringLike":{"kms:CallerAccount":"1*"}}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}`,
		allowPolicy(acctB, []string{acctB}, "kms:*"), // locks A out
	} {
		err := f.a.PutKeyPolicy(bg, &local.PutKeyPolicyInput{KeyID: k.KeyID, Policy: p})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("PutKeyPolicy(%q)", p))
	}
	got, err := f.a.GetKeyPolicy(bg, &local.GetKeyPolicyInput{KeyID: k.KeyID})
	mustOK(t, err)
	if got.PolicyName != "default" || got.Policy == "" {
		t.Fatalf("GetKeyPolicy %+v", got)
	}
	_, err = f.a.GetKeyPolicy(bg, &local.GetKeyPolicyInput{KeyID: k.KeyID, PolicyName: "other"})
	kmstest.WantKind(t, err, backends.ErrNotFound, "GetKeyPolicy of a policy name other than default")
	// Bypass: A locks itself out, and then cannot even read the policy.
	mustOK(t, f.a.PutKeyPolicy(bg, &local.PutKeyPolicyInput{KeyID: k.KeyID, Policy: allowPolicy(acctB, []string{acctB}, "kms:*"), BypassPolicyLockoutSafetyCheck: true}))
	_, err = f.a.GetKeyPolicy(bg, &local.GetKeyPolicyInput{KeyID: k.KeyID})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "GetKeyPolicy by an account that locked itself out")
	// Admin actions are authorized too: B cannot disable A's key.
	k2 := f.key(f.a, &local.CreateKeyInput{Policy: allowPolicy(acctA, []string{acctB}, "kms:Decrypt")})
	err = f.b.DisableKey(bg, &local.DisableKeyInput{KeyID: k2.Arn})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "DisableKey of A's key by B")
}

func TestGrants(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	ec := map[string]string{"tenant": "t1", "x": "y"}
	blob := f.encrypt(f.a, k.KeyID, []byte("x"), ec)
	decrypt := func(tokens ...string) error {
		_, err := f.b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, GrantTokens: tokens})
		return err
	}
	kmstest.WantKind(t, decrypt(), backends.ErrAccessDenied, "Decrypt by B without a grant")
	g, err := f.a.CreateGrant(bg, &local.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: roleB, RetiringPrincipal: roleA,
		Operations: []local.GrantOperation{local.GrantDecrypt}, Name: "b-decrypt"})
	mustOK(t, err)
	if len(g.GrantID) != 64 || g.GrantToken == "" {
		t.Fatalf("grant %+v", g)
	}
	mustOK(t, decrypt(g.GrantToken))
	mustOK(t, decrypt()) // grants are effective at once, token or not
	_, err = f.b.Encrypt(bg, &backends.EncryptInput{KeyID: k.Arn, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt by B with a grant for Decrypt only") // the grant allows Decrypt only
	// Bad tokens.
	other := local.New()
	defer other.Close()
	oc := other.Client(local.Identity{Account: acctA})
	ok, _ := oc.CreateKey(bg, nil)
	og, err := oc.CreateGrant(bg, &local.CreateGrantInput{KeyID: ok.KeyMetadata.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}})
	mustOK(t, err)
	for _, tok := range []string{"garbage", "", g.GrantToken[:len(g.GrantToken)-2], og.GrantToken} {
		kmstest.WantKind(t, decrypt(tok), backends.ErrInvalidGrantToken, fmt.Sprintf("Decrypt with the grant token %.20q", tok))
	}
	many := make([]string, 11)
	for i := range many {
		many[i] = g.GrantToken
	}
	kmstest.WantKind(t, decrypt(many...), backends.ErrInvalidArgument, "Decrypt with 11 grant tokens")

	list, err := f.a.ListGrants(bg, &local.ListGrantsInput{KeyID: k.KeyID})
	mustOK(t, err)
	if len(list.Grants) != 1 || list.Grants[0].GrantID != g.GrantID || list.Grants[0].GranteePrincipal != roleB || list.Grants[0].KeyID != k.Arn {
		t.Fatalf("ListGrants %+v", list)
	}
	// B cannot retire it (not the retiring principal, no RetireGrant operation); A can.
	kmstest.WantKind(t, f.b.RetireGrant(bg, &local.RetireGrantInput{GrantToken: g.GrantToken}), backends.ErrAccessDenied, "RetireGrant by B, neither the retiring principal nor allowed RetireGrant")
	mustOK(t, f.a.RetireGrant(bg, &local.RetireGrantInput{GrantToken: g.GrantToken}))
	kmstest.WantKind(t, decrypt(), backends.ErrAccessDenied, "Decrypt by B after the grant was retired")
	// The token of a retired grant is well formed but authorizes nothing.
	kmstest.WantKind(t, decrypt(g.GrantToken), backends.ErrAccessDenied, "Decrypt with the token of a retired grant")
	kmstest.WantKind(t, f.a.RetireGrant(bg, &local.RetireGrantInput{GrantToken: g.GrantToken}), backends.ErrNotFound, "RetireGrant of a retired grant")
	kmstest.WantKind(t, f.a.RetireGrant(bg, &local.RetireGrantInput{GrantToken: "bad"}), backends.ErrInvalidGrantToken, "RetireGrant with a malformed token")

	// Constraints.
	for _, tc := range []struct {
		name string
		c    *local.GrantConstraints
		want *backends.Kind
	}{
		{"equals", &local.GrantConstraints{EncryptionContextEquals: map[string]string{"tenant": "t1", "x": "y"}}, nil},
		{"equals fewer", &local.GrantConstraints{EncryptionContextEquals: map[string]string{"tenant": "t1"}}, backends.ErrAccessDenied},
		{"subset", &local.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "t1"}}, nil},
		{"subset other value", &local.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "t2"}}, backends.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := f.a.CreateGrant(bg, &local.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}, Constraints: tc.c})
			mustOK(t, err)
			defer func() { mustOK(t, f.a.RevokeGrant(bg, &local.RevokeGrantInput{KeyID: k.KeyID, GrantID: g.GrantID})) }()
			l, err := f.a.ListGrants(bg, &local.ListGrantsInput{KeyID: k.Arn, GrantID: g.GrantID})
			mustOK(t, err)
			if len(l.Grants) != 1 || l.Grants[0].Constraints == nil || len(l.Grants[0].Constraints.EncryptionContextEquals) != len(tc.c.EncryptionContextEquals) ||
				len(l.Grants[0].Constraints.EncryptionContextSubset) != len(tc.c.EncryptionContextSubset) || l.Grants[0].Operations[0] != local.GrantDecrypt {
				t.Fatalf("ListGrants %+v", l.Grants)
			}
			err = decrypt(g.GrantToken)
			if tc.want == nil {
				mustOK(t, err)
			} else {
				kmstest.WantKind(t, err, tc.want, "Decrypt with the constrained grant")
			}
		})
	}
	kmstest.WantKind(t, f.a.RevokeGrant(bg, &local.RevokeGrantInput{KeyID: k.KeyID, GrantID: "nope"}), backends.ErrNotFound, "RevokeGrant of an unknown grant ID")

	// Grantee with RetireGrant and DescribeKey; a grantee by account.
	g2, err := f.a.CreateGrant(bg, &local.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: acctB, Operations: []local.GrantOperation{local.GrantDescribeKey, local.GrantRetireGrant}})
	mustOK(t, err)
	_, err = f.b.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k.Arn, GrantTokens: []string{g2.GrantToken}})
	mustOK(t, err)
	mustOK(t, f.b.RetireGrant(bg, &local.RetireGrantInput{KeyID: k.Arn, GrantID: g2.GrantID}))

	// Invalid grant requests.
	for _, in := range []*local.CreateGrantInput{
		{KeyID: k.KeyID, GranteePrincipal: "bob", Operations: []local.GrantOperation{local.GrantDecrypt}},
		{KeyID: k.KeyID, GranteePrincipal: roleB},
		{KeyID: k.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{"Sign"}},
		{KeyID: k.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDescribeKey}, Constraints: &local.GrantConstraints{EncryptionContextSubset: ec}},
	} {
		_, err := f.a.CreateGrant(bg, in)
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("CreateGrant(%+v)", *in))
	}
	// B may not grant on A's key.
	_, err = f.b.CreateGrant(bg, &local.CreateGrantInput{KeyID: k.Arn, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "CreateGrant by B on A's key")
}

func TestGrantReEncrypt(t *testing.T) {
	f := newFixture(t)
	src, dst := f.key(f.a, nil), f.key(f.a, nil)
	blob := f.encrypt(f.a, src.KeyID, []byte("x"), nil)
	re := func() error {
		_, err := f.b.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: dst.Arn})
		return err
	}
	kmstest.WantKind(t, re(), backends.ErrAccessDenied, "ReEncrypt by B without grants")
	_, err := f.a.CreateGrant(bg, &local.CreateGrantInput{KeyID: src.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantReEncryptFrom}})
	mustOK(t, err)
	kmstest.WantKind(t, re(), backends.ErrAccessDenied, "ReEncrypt by B with a ReEncryptFrom grant only")
	_, err = f.a.CreateGrant(bg, &local.CreateGrantInput{KeyID: dst.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantReEncryptTo}})
	mustOK(t, err)
	mustOK(t, re())
}

func TestAliases(t *testing.T) {
	f := newFixture(t)
	k1, k2 := f.key(f.a, nil), f.key(f.a, nil)
	kb := f.key(f.b, nil)
	for _, name := range []string{"orders", "alias/", "alias/bad name", "alias/aws/reserved", "alias/AWS/reserved"} {
		kmstest.WantKind(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: name, TargetKeyID: k1.KeyID}), backends.ErrInvalidAliasName, "CreateAlias "+name)
	}
	mustOK(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/app", TargetKeyID: k1.Arn}))
	kmstest.WantKind(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/app", TargetKeyID: k2.KeyID}), backends.ErrAlreadyExists, "CreateAlias of a name in use")
	kmstest.WantKind(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/x", TargetKeyID: "alias/app"}), backends.ErrInvalidArgument, "CreateAlias with an alias as its target")
	kmstest.WantKind(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/x", TargetKeyID: kb.Arn}), backends.ErrNotFound, "CreateAlias with another account's key as its target")
	// The same name in another account is another alias.
	mustOK(t, f.b.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/app", TargetKeyID: kb.KeyID}))
	md, err := f.b.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/app"})
	mustOK(t, err)
	if md.KeyID != kb.KeyID {
		t.Fatalf("B's alias/app is %s", md.KeyID)
	}
	mustOK(t, f.a.UpdateAlias(bg, &local.UpdateAliasInput{AliasName: "alias/app", TargetKeyID: k2.KeyID}))
	md, _ = f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/app"})
	if md.KeyID != k2.KeyID {
		t.Fatalf("after UpdateAlias alias/app is %s", md.KeyID)
	}
	kmstest.WantKind(t, f.a.UpdateAlias(bg, &local.UpdateAliasInput{AliasName: "alias/none", TargetKeyID: k2.KeyID}), backends.ErrNotFound, "UpdateAlias of an unknown alias")
	for i := 0; i < 5; i++ {
		mustOK(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/k1-" + string(rune('a'+i)), TargetKeyID: k1.KeyID}))
	}
	var names []string
	marker := ""
	for pages := 0; ; pages++ {
		out, err := f.a.ListAliases(bg, &local.ListAliasesInput{Limit: 2, Marker: marker})
		mustOK(t, err)
		for _, a := range out.Aliases {
			names = append(names, a.AliasName)
			if a.AliasArn != "arn:aws:kms:us-east-1:"+acctA+":"+a.AliasName {
				t.Fatalf("AliasArn %s", a.AliasArn)
			}
		}
		if !out.Truncated {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		marker = out.NextMarker
	}
	if len(names) != 6 {
		t.Fatalf("listed %v", names)
	}
	out, err := f.a.ListAliases(bg, &local.ListAliasesInput{KeyID: k1.KeyID})
	mustOK(t, err)
	if len(out.Aliases) != 5 {
		t.Fatalf("aliases of k1: %+v", out.Aliases)
	}
	_, err = f.a.ListAliases(bg, &local.ListAliasesInput{Marker: "!!"})
	kmstest.WantKind(t, err, backends.ErrInvalidMarker, "ListAliases with a malformed marker")
	_, err = f.a.ListAliases(bg, &local.ListAliasesInput{Limit: 101})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "ListAliases with a limit of 101")
	mustOK(t, f.a.DeleteAlias(bg, &local.DeleteAliasInput{AliasName: "alias/app"}))
	kmstest.WantKind(t, f.a.DeleteAlias(bg, &local.DeleteAliasInput{AliasName: "alias/app"}), backends.ErrNotFound, "DeleteAlias of a deleted alias")
	_, err = f.a.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/app"})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt by a deleted alias")
}

func TestListKeys(t *testing.T) {
	f := newFixture(t)
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		want[f.key(f.a, &local.CreateKeyInput{MultiRegion: i == 0}).KeyID] = true
	}
	f.key(f.b, nil)
	got := map[string]bool{}
	marker := ""
	for {
		out, err := f.a.ListKeys(bg, &local.ListKeysInput{Limit: 3, Marker: marker})
		mustOK(t, err)
		if len(out.Keys) > 3 {
			t.Fatalf("page of %d", len(out.Keys))
		}
		for _, k := range out.Keys {
			if got[k.KeyID] {
				t.Fatalf("%s listed twice", k.KeyID)
			}
			got[k.KeyID] = true
			if k.KeyArn != "arn:aws:kms:us-east-1:"+acctA+":key/"+k.KeyID {
				t.Fatalf("KeyArn %s", k.KeyArn)
			}
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d keys, want %d", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("%s not listed", id)
		}
	}
	_, err := f.a.ListKeys(bg, &local.ListKeysInput{Limit: 1001})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "ListKeys with a limit of 1001")
}

func TestCreateKey(t *testing.T) {
	f := newFixture(t, local.WithRegion("eu-west-2"))
	md := f.key(f.a, &local.CreateKeyInput{Description: "d", MultiRegion: true})
	if md.Region != "eu-west-2" || md.AWSAccountID != acctA || md.Description != "d" || !md.MultiRegion ||
		md.Arn != "arn:aws:kms:eu-west-2:"+acctA+":key/"+md.KeyID || md.KeyState != backends.KeyStateEnabled ||
		md.KeyUsage != backends.KeyUsageEncryptDecrypt || !md.CreationDate.Equal(f.clock.Now()) || md.KeyID[:4] != "mrk-" {
		t.Fatalf("metadata %+v", md)
	}
	if _, err := backends.ParseKeyRef(md.Arn); err != nil {
		t.Fatal(err)
	}
	_, err := f.a.CreateKey(bg, &local.CreateKeyInput{KeyUsage: backends.KeyUsageSignVerify})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "CreateKey of a SIGN_VERIFY key")
	_, err = f.a.CreateKey(bg, &local.CreateKeyInput{Policy: "{"})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "CreateKey with a malformed policy")
	bad := local.New(local.WithRegion("Not A Region"))
	_, err = bad.Client(local.Identity{Account: acctA}).CreateKey(bg, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "CreateKey in a service of a malformed region")
	for _, id := range []local.Identity{{Account: "123"}, {Account: acctA, Principal: roleB}, {Account: acctA, Principal: "bob"}} {
		_, err = f.svc.Client(id).CreateKey(bg, nil)
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("CreateKey by %+v", id))
	}
	mustOK(t, f.svc.Close())
	_, err = f.a.CreateKey(bg, nil)
	kmstest.WantKind(t, err, backends.ErrInternal, "CreateKey after Close")
}

func TestPartitionAndAccessors(t *testing.T) {
	f := newFixture(t, local.WithPartition("aws-cn"), local.WithRegion("cn-north-1"))
	if f.svc.Region() != "cn-north-1" || f.svc.Partition() != "aws-cn" {
		t.Fatalf("Region %q Partition %q", f.svc.Region(), f.svc.Partition())
	}
	root := f.svc.Client(local.Identity{Account: acctA})
	if id := root.Identity(); id.Principal != "arn:aws-cn:iam::"+acctA+":root" {
		t.Fatalf("default principal %q", id.Principal)
	}
	md := f.key(root, nil)
	if md.Arn != "arn:aws-cn:kms:cn-north-1:"+acctA+":key/"+md.KeyID {
		t.Fatalf("KeyID %s", md.Arn)
	}
	f.encrypt(root, md.Arn, []byte("x"), nil)
	_, err := root.Encrypt(bg, &backends.EncryptInput{KeyID: "arn:aws:kms:cn-north-1:" + acctA + ":key/" + md.KeyID})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt in an aws-cn service by an aws key ARN")
	bad := local.New(local.WithPartition("nope"))
	_, err = bad.Client(local.Identity{Account: acctA}).CreateKey(bg, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "CreateKey in a service of an unknown partition")
}

// TestNilInputs checks the admin operations, which the client checks itself, and
// the cryptographic ones through a Front, which checks them for every driver.
func TestNilInputs(t *testing.T) {
	f := newFixture(t)
	c := f.a
	kms := backends.NewFront(c)
	for name, call := range map[string]func() error{
		"Encrypt":             func() error { _, err := kms.Encrypt(bg, nil); return err },
		"Decrypt":             func() error { _, err := kms.Decrypt(bg, nil); return err },
		"ReEncrypt":           func() error { _, err := kms.ReEncrypt(bg, nil); return err },
		"GenerateDataKey":     func() error { _, err := kms.GenerateDataKey(bg, nil); return err },
		"DescribeKey":         func() error { _, err := kms.DescribeKey(bg, nil); return err },
		"EnableKey":           func() error { return c.EnableKey(bg, nil) },
		"DisableKey":          func() error { return c.DisableKey(bg, nil) },
		"ScheduleKeyDeletion": func() error { _, err := c.ScheduleKeyDeletion(bg, nil); return err },
		"CancelKeyDeletion":   func() error { _, err := c.CancelKeyDeletion(bg, nil); return err },
		"CreateAlias":         func() error { return c.CreateAlias(bg, nil) },
		"UpdateAlias":         func() error { return c.UpdateAlias(bg, nil) },
		"DeleteAlias":         func() error { return c.DeleteAlias(bg, nil) },
		"PutKeyPolicy":        func() error { return c.PutKeyPolicy(bg, nil) },
		"GetKeyPolicy":        func() error { _, err := c.GetKeyPolicy(bg, nil); return err },
		"CreateGrant":         func() error { _, err := c.CreateGrant(bg, nil); return err },
		"RetireGrant":         func() error { return c.RetireGrant(bg, nil) },
		"RevokeGrant":         func() error { return c.RevokeGrant(bg, nil) },
		"ListGrants":          func() error { _, err := c.ListGrants(bg, nil); return err },
		"EnableKeyRotation":   func() error { return c.EnableKeyRotation(bg, nil) },
		"DisableKeyRotation":  func() error { return c.DisableKeyRotation(bg, nil) },
		"GetKeyRotationStatus": func() error {
			_, err := c.GetKeyRotationStatus(bg, nil)
			return err
		},
		"RotateKeyOnDemand": func() error { _, err := c.RotateKeyOnDemand(bg, nil); return err },
	} {
		t.Run(name, func(t *testing.T) { kmstest.WantKind(t, call(), backends.ErrInvalidArgument, name+" with a nil input") })
	}
}
