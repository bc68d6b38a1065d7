package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gcpkms"
)

// gcpAdmin manages Cloud KMS keys through the driver's own client (and so its
// credentials: Application Default Credentials). A keyport key is a CryptoKey.
// Cloud KMS keeps the state of a key per version, so the key-wide commands act
// on the CryptoKey's versions; a key URL that names a version
// (.../cryptoKeyVersions/N) makes enable, disable, schedule-deletion and
// cancel-deletion act on that version alone.
//
//	keyport keys        Cloud KMS
//	list KEY-RING       ListCryptoKeys of gcpkms://projects/P/locations/L/keyRings/R
//	create KEY          CreateCryptoKey: ENCRYPT_DECRYPT, GOOGLE_SYMMETRIC_ENCRYPTION,
//	                    protection level --key-type SOFTWARE (default) or HSM
//	describe KEY        GetCryptoKey (the driver): the primary version's state
//	disable KEY         every ENABLED version to DISABLED: nothing encrypts or decrypts
//	enable KEY          every DISABLED version to ENABLED
//	schedule-deletion   DestroyCryptoKeyVersion of every ENABLED or DISABLED version,
//	                    after the key's destroy_scheduled_duration
//	cancel-deletion     RestoreCryptoKeyVersion of every DESTROY_SCHEDULED version
//	                    (they come back DISABLED, as AWS KMS leaves a key)
//	rotate KEY          CreateCryptoKeyVersion, then UpdateCryptoKeyPrimaryVersion
//	alias, policy       unsupported: no aliases; access is IAM, not a key policy
//
// The notes registered in init say the same in each command's help.
type gcpAdmin struct {
	unsupportedAdmin
	b *gcpkms.Backend
}

const gcpService = "Google Cloud KMS"

func init() {
	adminFactories = append(adminFactories, func(d backends.Backend) keyAdmin {
		if b, ok := d.(*gcpkms.Backend); ok {
			return &gcpAdmin{unsupportedAdmin{gcpService}, b}
		}
		return nil
	})
	// Keys route by scheme: any Cloud KMS key stands for a key ring, whose
	// form ListKeys checks.
	locationProbes = append(locationProbes, func(location string) (string, bool) {
		scheme, _, _ := strings.Cut(location, "://")
		if !strings.EqualFold(scheme, gcpkms.Scheme) && !strings.EqualFold(scheme, gcpkms.TinkScheme) {
			return "", false
		}
		return gcpkms.Scheme + "://projects/keyport/locations/global/keyRings/keyport/cryptoKeys/location", true
	})
	keysNotes = append(keysNotes, serviceNotes{service: gcpService, notes: map[string]string{
		"list": "give the key ring, gcpkms://projects/P/locations/L/keyRings/R; every " +
			"CryptoKey in it is listed with its primary version's state.",
		"create": "name the key gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K in an " +
			"existing key ring (key rings are never deleted, so keyport makes none); the " +
			"key is a symmetric ENCRYPT_DECRYPT CryptoKey whose protection level is --key-type " +
			"SOFTWARE (the default) or HSM. Cloud KMS keys have no description, alias or key policy.",
		"enable": "every DISABLED version of the CryptoKey is enabled (a version disabled on " +
			"its own too); a key URL ending in /cryptoKeyVersions/N enables that version alone.",
		"disable": "every ENABLED version of the CryptoKey is disabled, so that old " +
			"ciphertexts no longer decrypt either; a key URL ending in /cryptoKeyVersions/N " +
			"disables that version alone.",
		"schedule-deletion": "every ENABLED or DISABLED version is scheduled for destruction " +
			"(DestroyCryptoKeyVersion). Cloud KMS destroys them after the key's own " +
			"destroy-scheduled duration, fixed when the key was made (30 days unless set " +
			"otherwise), which the result reports; a different --pending-window-in-days is " +
			"refused before anything changes.",
		"cancel-deletion": "every version scheduled for destruction is restored " +
			"(RestoreCryptoKeyVersion), a version scheduled on its own too; restored versions " +
			"are DISABLED until keyport keys enable.",
		"rotate": "a new version is made and becomes the primary version: new encryptions " +
			"use it, and the old versions still decrypt.",
		"policy get": "unsupported: access to a CryptoKey is IAM (gcloud kms keys get-iam-policy).",
		"policy put": "unsupported: access to a CryptoKey is IAM (gcloud kms keys set-iam-policy).",
	}})
}

// parseKeyRing parses a key ring location, gcpkms://projects/P/locations/L/keyRings/R
// (or gcp-kms://), into its resource name.
func parseKeyRing(location string) (string, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSuffix(location, "/"), "://")
	if !ok || !strings.EqualFold(scheme, gcpkms.Scheme) && !strings.EqualFold(scheme, gcpkms.TinkScheme) {
		return "", usagef("a Cloud KMS location is a key ring, gcpkms://projects/P/locations/L/keyRings/R, not %q", truncate(location))
	}
	// The driver's parser checks every part of a key in the ring.
	ref, err := gcpkms.ParseRef(gcpkms.Scheme + "://" + rest + "/cryptoKeys/k")
	if err != nil || ref.Version != "" {
		return "", usagef("a Cloud KMS location is a key ring, gcpkms://projects/P/locations/L/keyRings/R, not %q", truncate(location))
	}
	return strings.TrimSuffix(ref.Name(), "/cryptoKeys/k"), nil
}

func (g *gcpAdmin) parse(op, key string) (gcpkms.Ref, error) {
	ref, err := gcpkms.ParseRef(key)
	if err != nil {
		return gcpkms.Ref{}, backends.WithOp(err, op)
	}
	return ref, nil
}

func (g *gcpAdmin) ListKeys(ctx context.Context, location string) ([]keyEntry, error) {
	if location == "" {
		return nil, usagef("Cloud KMS lists the keys of a key ring: keyport keys list gcpkms://projects/P/locations/L/keyRings/R")
	}
	ring, err := parseKeyRing(location)
	if err != nil {
		return nil, err
	}
	var entries []keyEntry
	it := g.b.Client().ListCryptoKeys(ctx, &kmspb.ListCryptoKeysRequest{Parent: ring})
	for {
		ck, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, gcpkms.MapError(ctx, "ListKeys", gcpkms.Scheme+"://"+ring, err)
		}
		uri := gcpkms.Scheme + "://" + ck.GetName()
		e := keyEntry{KeyId: ck.GetName(), KeyArn: uri}
		if md, err := g.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: uri}); err == nil {
			e.KeyState, e.Description = string(md.KeyState), md.Description
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// protectionLevels are the --key-type values of a Cloud KMS key.
var protectionLevels = map[string]kmspb.ProtectionLevel{
	"":         kmspb.ProtectionLevel_SOFTWARE,
	"SOFTWARE": kmspb.ProtectionLevel_SOFTWARE,
	"HSM":      kmspb.ProtectionLevel_HSM,
}

func (g *gcpAdmin) CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error) {
	const op = "CreateKey"
	if in.Name == "" {
		return nil, usagef("a Cloud KMS key is named: keyport keys create gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K")
	}
	ref, err := g.parse(op, in.Name)
	if err != nil {
		return nil, err
	}
	if ref.Version != "" {
		return nil, usagef("name the CryptoKey, not a version: %q", truncate(in.Name))
	}
	if in.Alias != "" || in.Description != "" || in.Policy != "" {
		return nil, errUnsupported(op, ref.URI(), gcpService+": no aliases, descriptions or key policies")
	}
	level, ok := protectionLevels[strings.ToUpper(in.KeyType)]
	if !ok {
		return nil, usagef("--key-type %q: a Cloud KMS key's protection level is SOFTWARE (the default) or HSM", truncate(in.KeyType))
	}
	ring := strings.TrimSuffix(ref.Name(), "/cryptoKeys/"+ref.Key)
	_, err = g.b.Client().CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent:      ring,
		CryptoKeyId: ref.Key,
		CryptoKey: &kmspb.CryptoKey{
			Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{
				ProtectionLevel: level,
				Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
			},
		},
	})
	if err != nil {
		err = gcpkms.MapError(ctx, op, ref.URI(), err)
		if backends.KindOf(err) == backends.ErrNotFound {
			return nil, backends.Errorf(backends.ErrNotFound, op, ref.URI(),
				"no key ring %s: make it first (gcloud kms keyrings create %s --location %s); keyport makes no key rings, which Cloud KMS never deletes",
				ring, ref.KeyRing, ref.Location)
		}
		return nil, err
	}
	return g.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref.URI()})
}

// versions returns the versions a key-wide command acts on: the one ref names,
// or all of the CryptoKey's.
func (g *gcpAdmin) versions(ctx context.Context, op string, ref gcpkms.Ref) ([]*kmspb.CryptoKeyVersion, error) {
	c := g.b.Client()
	if ref.Version != "" {
		v, err := c.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: ref.VersionName()})
		if err != nil {
			return nil, gcpkms.MapError(ctx, op, ref.String(), err)
		}
		return []*kmspb.CryptoKeyVersion{v}, nil
	}
	var vs []*kmspb.CryptoKeyVersion
	it := c.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: ref.Name()})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return vs, nil
		}
		if err != nil {
			return nil, gcpkms.MapError(ctx, op, ref.URI(), err)
		}
		vs = append(vs, v)
	}
}

// eachVersion calls fn for every version of vs in one of the states from, and
// returns how many it changed. None in those states, and none already in a
// state of done, is KMSInvalidState with why. An error after some changes says
// which versions changed.
func (g *gcpAdmin) eachVersion(ctx context.Context, op string, ref gcpkms.Ref, vs []*kmspb.CryptoKeyVersion,
	from, done []kmspb.CryptoKeyVersion_CryptoKeyVersionState, why string,
	fn func(v *kmspb.CryptoKeyVersion) (*kmspb.CryptoKeyVersion, error),
) ([]*kmspb.CryptoKeyVersion, error) {
	in := func(st kmspb.CryptoKeyVersion_CryptoKeyVersionState, set []kmspb.CryptoKeyVersion_CryptoKeyVersionState) bool {
		for _, s := range set {
			if st == s {
				return true
			}
		}
		return false
	}
	var changed []*kmspb.CryptoKeyVersion
	var names []string
	settled := false
	for _, v := range vs {
		switch {
		case in(v.GetState(), done):
			settled = true
		case in(v.GetState(), from):
			nv, err := fn(v)
			if err != nil {
				err = gcpkms.MapError(ctx, op, ref.String(), err)
				if len(names) > 0 {
					if e, ok := err.(*backends.Error); ok {
						c := *e
						c.Message += "; already changed: " + strings.Join(names, ", ")
						err = &c
					}
				}
				return changed, err
			}
			changed = append(changed, nv)
			names = append(names, "version "+versionID(v.GetName()))
		}
	}
	if len(changed) == 0 && !settled {
		return nil, backends.Errorf(backends.ErrInvalidState, op, ref.String(), "%s", why)
	}
	return changed, nil
}

// versionID returns N of a version name .../cryptoKeyVersions/N.
func versionID(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

func (g *gcpAdmin) setState(ctx context.Context, op, key string, to kmspb.CryptoKeyVersion_CryptoKeyVersionState) error {
	ref, err := g.parse(op, key)
	if err != nil {
		return err
	}
	vs, err := g.versions(ctx, op, ref)
	if err != nil {
		return err
	}
	from := kmspb.CryptoKeyVersion_ENABLED
	if to == kmspb.CryptoKeyVersion_ENABLED {
		from = kmspb.CryptoKeyVersion_DISABLED
	}
	_, err = g.eachVersion(ctx, op, ref, vs,
		[]kmspb.CryptoKeyVersion_CryptoKeyVersionState{from}, []kmspb.CryptoKeyVersion_CryptoKeyVersionState{to},
		"no version is enabled or disabled (pending deletion, destroyed or not yet generated)",
		func(v *kmspb.CryptoKeyVersion) (*kmspb.CryptoKeyVersion, error) {
			return g.b.Client().UpdateCryptoKeyVersion(ctx, &kmspb.UpdateCryptoKeyVersionRequest{
				CryptoKeyVersion: &kmspb.CryptoKeyVersion{Name: v.GetName(), State: to},
				UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"state"}},
			})
		})
	return err
}

func (g *gcpAdmin) EnableKey(ctx context.Context, key string) error {
	return g.setState(ctx, "EnableKey", key, kmspb.CryptoKeyVersion_ENABLED)
}

func (g *gcpAdmin) DisableKey(ctx context.Context, key string) error {
	return g.setState(ctx, "DisableKey", key, kmspb.CryptoKeyVersion_DISABLED)
}

// defaultDestroyScheduled is Cloud KMS's destroy-scheduled duration for a key
// that sets none.
const defaultDestroyScheduled = 30 * 24 * time.Hour

func (g *gcpAdmin) ScheduleKeyDeletion(ctx context.Context, key string, days int) (*deletionResult, error) {
	const op = "ScheduleKeyDeletion"
	ref, err := g.parse(op, key)
	if err != nil {
		return nil, err
	}
	ck, err := g.b.Client().GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: ref.Name()})
	if err != nil {
		return nil, gcpkms.MapError(ctx, op, ref.URI(), err)
	}
	window := defaultDestroyScheduled
	if d := ck.GetDestroyScheduledDuration(); d != nil {
		window = d.AsDuration()
	}
	windowDays := int((window + 24*time.Hour - 1) / (24 * time.Hour))
	if days != 0 && time.Duration(days)*24*time.Hour != window {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref.URI(),
			"Cloud KMS destroys this key's versions %s after they are scheduled (the key's destroy-scheduled duration, fixed when it was made), not %d days: leave out --pending-window-in-days",
			window, days)
	}
	vs, err := g.versions(ctx, op, ref)
	if err != nil {
		return nil, err
	}
	destroyed, err := g.eachVersion(ctx, op, ref, vs,
		[]kmspb.CryptoKeyVersion_CryptoKeyVersionState{kmspb.CryptoKeyVersion_ENABLED, kmspb.CryptoKeyVersion_DISABLED}, nil,
		"no version can be scheduled for destruction: the key is already pending deletion or destroyed",
		func(v *kmspb.CryptoKeyVersion) (*kmspb.CryptoKeyVersion, error) {
			return g.b.Client().DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: v.GetName()})
		})
	if err != nil {
		return nil, err
	}
	var when time.Time
	for _, v := range destroyed {
		if dt := v.GetDestroyTime(); dt != nil && dt.AsTime().After(when) {
			when = dt.AsTime()
		}
	}
	r := &deletionResult{KeyId: ref.String(), DeletionDate: isoTime(when), PendingWindowInDays: windowDays, KeyState: string(backends.KeyStatePendingDeletion)}
	if md, err := g.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref.URI()}); err == nil {
		r.KeyState = string(md.KeyState) // the primary's: a version scheduled alone may not be it
	}
	return r, nil
}

func (g *gcpAdmin) CancelKeyDeletion(ctx context.Context, key string) (string, error) {
	const op = "CancelKeyDeletion"
	ref, err := g.parse(op, key)
	if err != nil {
		return "", err
	}
	vs, err := g.versions(ctx, op, ref)
	if err != nil {
		return "", err
	}
	_, err = g.eachVersion(ctx, op, ref, vs,
		[]kmspb.CryptoKeyVersion_CryptoKeyVersionState{kmspb.CryptoKeyVersion_DESTROY_SCHEDULED}, nil,
		"no version is scheduled for destruction: the key is not pending deletion",
		func(v *kmspb.CryptoKeyVersion) (*kmspb.CryptoKeyVersion, error) {
			return g.b.Client().RestoreCryptoKeyVersion(ctx, &kmspb.RestoreCryptoKeyVersionRequest{Name: v.GetName()})
		})
	if err != nil {
		return "", err
	}
	return ref.String(), nil
}

// generationWait bounds how long rotate waits for a new version's key material
// (HSM versions are PENDING_GENERATION for a moment).
const generationWait = time.Minute

func (g *gcpAdmin) RotateKey(ctx context.Context, key string) (string, error) {
	const op = "RotateKeyOnDemand"
	ref, err := g.parse(op, key)
	if err != nil {
		return "", err
	}
	if ref.Version != "" {
		return "", usagef("rotate the CryptoKey, not a version: %q", truncate(key))
	}
	c := g.b.Client()
	v, err := c.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: ref.Name(), CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
	if err != nil {
		return "", gcpkms.MapError(ctx, op, ref.URI(), err)
	}
	deadline := time.Now().Add(generationWait)
	for v.GetState() == kmspb.CryptoKeyVersion_PENDING_GENERATION && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return "", gcpkms.MapError(ctx, op, ref.URI(), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
		if v, err = c.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: v.GetName()}); err != nil {
			return "", gcpkms.MapError(ctx, op, ref.URI(), err)
		}
	}
	_, err = c.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: ref.Name(), CryptoKeyVersionId: versionID(v.GetName())})
	if err != nil {
		err = gcpkms.MapError(ctx, op, ref.URI(), err)
		if e, ok := err.(*backends.Error); ok {
			c := *e
			c.Message = fmt.Sprintf("version %s was made but is not primary: %s", versionID(v.GetName()), c.Message)
			err = &c
		}
		return "", err
	}
	return ref.URI(), nil
}

func (g *gcpAdmin) GetKeyPolicy(_ context.Context, key string) (string, error) {
	return "", errUnsupported("GetKeyPolicy", key, gcpService+": access is IAM, see gcloud kms keys get-iam-policy")
}

func (g *gcpAdmin) PutKeyPolicy(_ context.Context, key, _ string) error {
	return errUnsupported("PutKeyPolicy", key, gcpService+": access is IAM, see gcloud kms keys set-iam-policy")
}
