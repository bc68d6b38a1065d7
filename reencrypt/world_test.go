package reencrypt

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

// The fixture of the tests against backends/local: two accounts, A (the caller's)
// and B. In the shared world one local Service holds both accounts and one Client
// (the caller's) serves both, so a ReEncrypt between them can run natively. In the
// split world each account lives in a Service of its own, standing in for two
// providers: the Router sends account B's ARNs to the second service, and a
// ReEncrypt between the accounts runs through the engine.

const (
	acctA     = "111111111111"
	acctB     = "222222222222"
	alice     = "arn:aws:iam::111111111111:user/alice"   // the caller
	adminA    = "arn:aws:iam::111111111111:role/admin"   // makes account A's keys
	adminB    = "arn:aws:iam::222222222222:role/admin"   // makes account B's keys
	otherUser = "arn:aws:iam::111111111111:user/mallory" // neither
)

var forms = []backends.RefForm{backends.FormKeyID, backends.FormKeyARN, backends.FormAliasName, backends.FormAliasARN}

// key is a key of the fixture, in its four reference forms.
type key struct{ id, arn, alias, aliasARN string }

func (k key) ref(f backends.RefForm) string {
	switch f {
	case backends.FormKeyID:
		return k.id
	case backends.FormKeyARN:
		return k.arn
	case backends.FormAliasName:
		return k.alias
	case backends.FormAliasARN:
		return k.aliasARN
	}
	panic("bad form")
}

type world struct {
	t      testing.TB
	split  bool
	front  *backends.Front
	adminA *local.Client
	adminB *local.Client
	a1, a2 key // account A keys with the default policy: alice may do everything
	b1     key // account B key whose policy lets account A use it
}

var aliasSeq atomic.Int64

// newWorld builds the shared (split=false) or split (split=true) world.
func newWorld(t testing.TB, split bool) *world {
	t.Helper()
	svcA := local.New()
	svcB := svcA
	if split {
		svcB = local.New()
	}
	w := &world{t: t, split: split, front: new(backends.Front)}
	w.adminA = svcA.Client(local.Identity{Account: acctA, Principal: adminA})
	w.adminB = svcB.Client(local.Identity{Account: acctB, Principal: adminB})
	callerA := svcA.Client(local.Identity{Account: acctA, Principal: alice})
	callerB := callerA
	if split {
		callerB = svcB.Client(local.Identity{Account: acctA, Principal: alice})
	}
	must(t, w.front.RegisterAccount(acctA, "", callerA))
	must(t, w.front.RegisterAccount(acctB, "", callerB))
	w.front.SetDefault(callerA)
	w.a1 = w.makeKey(w.adminA, "")
	w.a2 = w.makeKey(w.adminA, "")
	w.b1 = w.makeKey(w.adminB, policy(
		allow(`"`+adminB+`"`, "kms:*"),
		allow(`"`+acctA+`"`, "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey", "kms:GenerateDataKey*"),
	))
	return w
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// policy returns a key policy of the given statements.
func policy(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// allow returns a statement that lets principal (a JSON string) do actions.
func allow(principal string, actions ...string) string {
	return `{"Effect":"Allow","Principal":{"AWS":` + principal + `},"Action":["` +
		strings.Join(actions, `","`) + `"],"Resource":"*"}`
}

// makeKey makes a key with admin (empty pol: the default policy) and an alias for it.
func (w *world) makeKey(admin *local.Client, pol string) key {
	w.t.Helper()
	ctx := context.Background()
	out, err := admin.CreateKey(ctx, &local.CreateKeyInput{Policy: pol})
	must(w.t, err)
	md := out.KeyMetadata
	alias := "alias/reencrypt-test-" + strings.ReplaceAll(md.KeyID[:8], "-", "") + "-" + itoa(aliasSeq.Add(1))
	must(w.t, admin.CreateAlias(ctx, &local.CreateAliasInput{AliasName: alias, TargetKeyID: md.KeyID}))
	return key{id: md.KeyID, arn: md.Arn, alias: alias,
		aliasARN: backends.AliasARN("aws", md.Region, md.AWSAccountID, alias)}
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// encrypt encrypts pt under k (by ARN) through the Router.
func (w *world) encrypt(k key, pt []byte, ec map[string]string) []byte {
	w.t.Helper()
	out, err := w.front.Encrypt(context.Background(), &backends.EncryptInput{KeyID: k.arn, Plaintext: pt, EncryptionContext: ec})
	must(w.t, err)
	return out.CiphertextBlob
}

// decrypt decrypts blob under k (by ARN) through the Router.
func (w *world) decrypt(k key, blob []byte, ec map[string]string) ([]byte, error) {
	out, err := w.front.Decrypt(context.Background(), &backends.DecryptInput{KeyID: k.arn, CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	if out.KeyID != k.arn {
		return nil, errors.New("decrypted by " + out.KeyID + ", want " + k.arn)
	}
	return out.Plaintext, nil
}

// admin returns the admin client of k's account.
func (w *world) admin(k key) *local.Client {
	if strings.Contains(k.arn, ":"+acctB+":") {
		return w.adminB
	}
	return w.adminA
}

func (w *world) disable(k key) {
	w.t.Helper()
	must(w.t, w.admin(k).DisableKey(context.Background(), &local.DisableKeyInput{KeyID: k.id}))
}

func (w *world) scheduleDeletion(k key) {
	w.t.Helper()
	_, err := w.admin(k).ScheduleKeyDeletion(context.Background(), &local.ScheduleKeyDeletionInput{KeyID: k.id, PendingWindowInDays: 7})
	must(w.t, err)
}

// wantErr is kmstest.WantKind for an error of the engine, which names the
// operation ReEncrypt.
func wantErr(t testing.TB, err error, kind *backends.Kind, what string) {
	t.Helper()
	if e := kmstest.WantKind(t, err, kind, what); e != nil && e.Op != "ReEncrypt" {
		t.Errorf("%s: %v names the operation %q, want ReEncrypt", what, err, e.Op)
	}
}

// path is one way to run a ReEncrypt within one world.
type path struct {
	name   string
	split  bool
	via    backends.Via
	native bool
}

// engine returns the engine for the path: one that sets Via on every request.
func (p path) engine(f *backends.Front) viaEngine { return withVia(New(f), p.via) }

// viaEngine is an Engine that sets Via on every request it is given.
type viaEngine struct {
	e   *Engine
	via backends.Via
}

func withVia(e *Engine, via backends.Via) viaEngine { return viaEngine{e, via} }

func (v viaEngine) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	if in != nil && in.Via == backends.ViaAny {
		c := *in
		c.Via = v.via
		in = &c
	}
	return v.e.ReEncrypt(ctx, in)
}

// sameServicePaths run between two keys of account A of the shared world: natively,
// and through the engine.
var sameServicePaths = []path{
	{name: "native", native: true},
	{name: "engine", via: backends.ViaPlaintext},
}

// crossPaths run between account A and account B: in one service (native or
// engine) and across two services (engine).
var crossPaths = []path{
	{name: "native", native: true},
	{name: "engine", via: backends.ViaPlaintext},
	{name: "two services", split: true},
}
