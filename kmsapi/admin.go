package kmsapi

import (
	"strconv"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

// The administrative operations: keys, aliases, key states, deletion, rotation,
// key policies and grants, over backends/local's Client.

// operations maps X-Amz-Target operation names to their handlers.
var operations = map[string]operation{
	"Encrypt":                         encrypt,
	"Decrypt":                         decrypt,
	"ReEncrypt":                       reEncrypt,
	"GenerateDataKey":                 generateDataKey(true),
	"GenerateDataKeyWithoutPlaintext": generateDataKey(false),
	"GenerateRandom":                  generateRandom,
	"CreateKey":                       createKey,
	"DescribeKey":                     describeKey,
	"ListKeys":                        listKeys,
	"EnableKey":                       keyOp("EnableKey", enableKey),
	"DisableKey":                      keyOp("DisableKey", disableKey),
	"ScheduleKeyDeletion":             scheduleKeyDeletion,
	"CancelKeyDeletion":               keyOp("CancelKeyDeletion", cancelKeyDeletion),
	"CreateAlias":                     aliasOp(true),
	"UpdateAlias":                     aliasOp(false),
	"DeleteAlias":                     deleteAlias,
	"ListAliases":                     listAliases,
	"EnableKeyRotation":               enableKeyRotation,
	"DisableKeyRotation":              keyOp("DisableKeyRotation", disableKeyRotation),
	"GetKeyRotationStatus":            keyOp("GetKeyRotationStatus", getKeyRotationStatus),
	"RotateKeyOnDemand":               keyOp("RotateKeyOnDemand", rotateKeyOnDemand),
	"GetKeyPolicy":                    getKeyPolicy,
	"PutKeyPolicy":                    putKeyPolicy,
	"CreateGrant":                     createGrant,
	"ListGrants":                      listGrants,
	"RetireGrant":                     retireGrant,
	"RevokeGrant":                     revokeGrant,
}

// keyMetadata is KeyMetadata as the KMS API writes it.
type keyMetadata struct {
	AWSAccountID             string             `json:"AWSAccountId"`
	KeyID                    string             `json:"KeyId"`
	Arn                      string             `json:"Arn"`
	CreationDate             *epochTime         `json:"CreationDate,omitempty"`
	Enabled                  bool               `json:"Enabled"`
	Description              string             `json:"Description"`
	KeyUsage                 string             `json:"KeyUsage"`
	KeyState                 string             `json:"KeyState"`
	DeletionDate             *epochTime         `json:"DeletionDate,omitempty"`
	Origin                   string             `json:"Origin"`
	KeyManager               string             `json:"KeyManager"`
	CustomerMasterKeySpec    string             `json:"CustomerMasterKeySpec"`
	KeySpec                  string             `json:"KeySpec"`
	EncryptionAlgorithms     []string           `json:"EncryptionAlgorithms"`
	MultiRegion              bool               `json:"MultiRegion"`
	MultiRegionConfiguration *multiRegionConfig `json:"MultiRegionConfiguration,omitempty"`
	XksKeyConfiguration      *xksKeyConfig      `json:"XksKeyConfiguration,omitempty"`
}

// xksKeyConfig names the key of another provider behind an external key, as
// AWS KMS names the key of an external key store.
type xksKeyConfig struct {
	ID string `json:"Id"`
}

type multiRegionConfig struct {
	MultiRegionKeyType string         `json:"MultiRegionKeyType"`
	PrimaryKey         multiRegionKey `json:"PrimaryKey"`
	ReplicaKeys        []any          `json:"ReplicaKeys"`
}

type multiRegionKey struct {
	Arn    string `json:"Arn"`
	Region string `json:"Region"`
}

func toKeyMetadata(md *backends.KeyMetadata) *keyMetadata {
	k := &keyMetadata{
		AWSAccountID: md.AWSAccountID, KeyID: md.KeyID, Arn: md.Arn, CreationDate: epoch(md.CreationDate),
		Enabled: md.Enabled, Description: md.Description, KeyUsage: string(md.KeyUsage), KeyState: string(md.KeyState),
		DeletionDate: epoch(md.DeletionDate), Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		CustomerMasterKeySpec: md.KeySpec, KeySpec: md.KeySpec, MultiRegion: md.MultiRegion,
		EncryptionAlgorithms: []string{},
	}
	for _, a := range md.EncryptionAlgorithms {
		k.EncryptionAlgorithms = append(k.EncryptionAlgorithms, string(a))
	}
	if md.MultiRegion {
		k.MultiRegionConfiguration = &multiRegionConfig{MultiRegionKeyType: "PRIMARY",
			PrimaryKey: multiRegionKey{Arn: md.Arn, Region: md.Region}, ReplicaKeys: []any{}}
	}
	return k
}

type keyMetadataOutput struct {
	KeyMetadata *keyMetadata `json:"KeyMetadata"`
}

type tag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

type createKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    *string `json:"Description"`
	KeyUsage                       *string `json:"KeyUsage"`
	CustomerMasterKeySpec          *string `json:"CustomerMasterKeySpec"`
	KeySpec                        *string `json:"KeySpec"`
	Origin                         *string `json:"Origin"`
	CustomKeyStoreID               *string `json:"CustomKeyStoreId"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
	Tags                           []tag   `json:"Tags"`
	MultiRegion                    *bool   `json:"MultiRegion"`
	XksKeyID                       *string `json:"XksKeyId"`
}

func (in *createKeyInput) key() *string { return nil }

func (in *createKeyInput) check(v *checker) {
	checkPolicy(v, in.Policy)
	v.str("Description", in.Description, 0, 8192, false)
	v.enum("KeyUsage", in.KeyUsage, keyUsages)
	v.enum("CustomerMasterKeySpec", in.CustomerMasterKeySpec, customerMasterKeySpecs)
	v.enum("KeySpec", in.KeySpec, keySpecs)
	v.enum("Origin", in.Origin, origins)
	v.str("CustomKeyStoreId", in.CustomKeyStoreID, 1, 64, true)
	v.str("XksKeyId", in.XksKeyID, 1, 128, true)
	for i, t := range in.Tags {
		name := "Tags." + strconv.Itoa(i+1) + ".member."
		if v.required(name+"TagKey", t.TagKey != nil) {
			v.str(name+"TagKey", t.TagKey, 1, 128, true)
		}
		if v.required(name+"TagValue", t.TagValue != nil) {
			v.str(name+"TagValue", t.TagValue, 0, 256, true)
		}
	}
}

func createKey(c *call, body []byte) (any, error) {
	var in createKeyInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.KeySpec != nil && in.CustomerMasterKeySpec != nil:
		return nil, newAPIError(typeValidation, 400, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.")
	case in.CustomKeyStoreID != nil:
		return nil, noCustomKeyStore(*in.CustomKeyStoreID)
	case in.Origin != nil && *in.Origin != "AWS_KMS":
		return nil, unsupported("Only keys of origin AWS_KMS can be made: keyport does not import key material or use custom key stores.")
	case in.XksKeyID != nil:
		return nil, unsupported("XksKeyId is not supported: keyport has no external key stores.")
	case len(in.Tags) > 0:
		return nil, unsupported("Tags are not supported.")
	}
	spec := str(in.KeySpec)
	if spec == "" {
		spec = str(in.CustomerMasterKeySpec)
	}
	out, err := c.client.CreateKey(c.ctx, &local.CreateKeyInput{
		Description: str(in.Description), Policy: str(in.Policy), KeyUsage: backends.KeyUsage(str(in.KeyUsage)),
		KeySpec: spec, MultiRegion: flag(in.MultiRegion), BypassPolicyLockoutSafetyCheck: flag(in.BypassPolicyLockoutSafetyCheck),
	})
	if err != nil {
		return nil, err
	}
	c.keyID = out.KeyMetadata.Arn
	return &keyMetadataOutput{KeyMetadata: toKeyMetadata(out.KeyMetadata)}, nil
}

// keyInput is the input of an operation whose only member is KeyId (with
// GrantTokens for DescribeKey).
type keyInput struct {
	KeyID       *string  `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

func (in *keyInput) key() *string { return in.KeyID }

func (in *keyInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	v.grantTokens(in.GrantTokens)
}

// keyOp makes the administrative operation op whose only member is KeyId: do
// serves it for the key the request names.
func keyOp(op string, do func(c *call, id string) (any, error)) operation {
	return func(c *call, body []byte) (any, error) {
		var in keyInput
		if err := c.readAdmin(op, body, &in); err != nil {
			return nil, err
		}
		return do(c, *in.KeyID)
	}
}

func enableKey(c *call, id string) (any, error) {
	return nil, c.client.EnableKey(c.ctx, &local.EnableKeyInput{KeyID: id})
}

func disableKey(c *call, id string) (any, error) {
	return nil, c.client.DisableKey(c.ctx, &local.DisableKeyInput{KeyID: id})
}

func describeKey(c *call, body []byte) (any, error) {
	var in keyInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	k := c.external(*in.KeyID)
	if k == nil {
		md, err := c.client.DescribeKey(c.ctx, &backends.DescribeKeyInput{KeyID: *in.KeyID, GrantTokens: in.GrantTokens})
		if err != nil {
			return nil, err
		}
		return &keyMetadataOutput{KeyMetadata: toKeyMetadata(md)}, nil
	}
	md, err := c.describeExternal(k, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	km := toKeyMetadata(md)
	km.Origin, km.XksKeyConfiguration = "EXTERNAL_KEY_STORE", &xksKeyConfig{ID: k.URL}
	return &keyMetadataOutput{KeyMetadata: km}, nil
}

// listKeysInput is the input of ListKeys, and its members Limit and Marker
// those of every list operation.
type listKeysInput struct {
	Limit  *int64  `json:"Limit"`
	Marker *string `json:"Marker"`
}

func (in *listKeysInput) key() *string { return nil }

func (in *listKeysInput) check(v *checker) { checkPage(v, in.Limit, in.Marker) }

// checkPage checks the Limit and Marker of a list operation.
func checkPage(v *checker, limit *int64, marker *string) {
	v.intRange("Limit", limit, 1, 1000)
	v.str("Marker", marker, 1, 1024, false)
	v.pattern("Marker", marker, markerPattern, false)
}

func limit(n *int64) int {
	if n == nil {
		return 0
	}
	return int(*n)
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

func listKeys(c *call, body []byte) (any, error) {
	var in listKeysInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	// The external keys of the caller's account come first, on the first page.
	var ext []*extKey
	if in.Marker == nil {
		ext = c.externalKeys()
	}
	n := limit(in.Limit)
	if n == 0 {
		n = 100
	}
	if len(ext) > n {
		ext = ext[:n]
	}
	o := &listKeysOutput{Keys: []keyListEntry{}}
	for _, k := range ext {
		o.Keys = append(o.Keys, keyListEntry{KeyID: k.KeyID, KeyArn: k.arn})
	}
	if n == len(ext) {
		// A full page of external keys: the keys of backends/local follow.
		if more, err := c.client.ListKeys(c.ctx, &local.ListKeysInput{Limit: 1}); err == nil && len(more.Keys) > 0 {
			o.Truncated, o.NextMarker = true, firstPageMarker
		}
		return o, nil
	}
	marker := str(in.Marker)
	if marker == firstPageMarker {
		marker = ""
	}
	out, err := c.client.ListKeys(c.ctx, &local.ListKeysInput{Limit: n - len(ext), Marker: marker})
	if err != nil {
		return nil, err
	}
	o.NextMarker, o.Truncated = out.NextMarker, out.Truncated
	for _, k := range out.Keys {
		o.Keys = append(o.Keys, keyListEntry{KeyID: k.KeyID, KeyArn: k.KeyArn})
	}
	return o, nil
}

type scheduleKeyDeletionInput struct {
	KeyID               *string `json:"KeyId"`
	PendingWindowInDays *int64  `json:"PendingWindowInDays"`
}

type scheduleKeyDeletionOutput struct {
	KeyID               string     `json:"KeyId"`
	DeletionDate        *epochTime `json:"DeletionDate,omitempty"`
	KeyState            string     `json:"KeyState"`
	PendingWindowInDays int        `json:"PendingWindowInDays"`
}

func (in *scheduleKeyDeletionInput) key() *string { return in.KeyID }

func (in *scheduleKeyDeletionInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	v.intRange("PendingWindowInDays", in.PendingWindowInDays, 1, 365)
}

func scheduleKeyDeletion(c *call, body []byte) (any, error) {
	var in scheduleKeyDeletionInput
	if err := c.readAdmin("ScheduleKeyDeletion", body, &in); err != nil {
		return nil, err
	}
	days := 0
	if in.PendingWindowInDays != nil {
		days = int(*in.PendingWindowInDays)
	}
	out, err := c.client.ScheduleKeyDeletion(c.ctx, &local.ScheduleKeyDeletionInput{KeyID: *in.KeyID, PendingWindowInDays: days})
	if err != nil {
		return nil, err
	}
	return &scheduleKeyDeletionOutput{KeyID: out.KeyID, DeletionDate: epoch(out.DeletionDate), KeyState: string(out.KeyState), PendingWindowInDays: out.PendingWindowInDays}, nil
}

type keyIDOutput struct {
	KeyID string `json:"KeyId"`
}

func cancelKeyDeletion(c *call, id string) (any, error) {
	out, err := c.client.CancelKeyDeletion(c.ctx, &local.CancelKeyDeletionInput{KeyID: id})
	if err != nil {
		return nil, err
	}
	return &keyIDOutput{KeyID: out.KeyID}, nil
}

// aliasInput is the input of CreateAlias and UpdateAlias.
type aliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyID *string `json:"TargetKeyId"`
}

func (in *aliasInput) key() *string { return in.TargetKeyID }

func (in *aliasInput) check(v *checker) {
	checkAliasName(v, in.AliasName)
	v.keyID("TargetKeyId", in.TargetKeyID, true)
}

// checkAliasName checks a required AliasName.
func checkAliasName(v *checker, name *string) {
	if v.required("AliasName", name != nil) {
		v.str("AliasName", name, 1, 256, true)
		v.pattern("AliasName", name, aliasNamePattern, true)
	}
}

// aliasOp makes CreateAlias (create) or UpdateAlias.
func aliasOp(create bool) operation {
	op := "UpdateAlias"
	if create {
		op = "CreateAlias"
	}
	return func(c *call, body []byte) (any, error) {
		var in aliasInput
		if err := c.readAdmin(op, body, &in); err != nil {
			return nil, err
		}
		if k := c.external(*in.AliasName); k != nil {
			return nil, newAPIError(typeUnsupported, 400, "The alias "+printable(*in.AliasName)+" names "+k.arn+" in the server's configuration.")
		}
		if create {
			return nil, c.client.CreateAlias(c.ctx, &local.CreateAliasInput{AliasName: *in.AliasName, TargetKeyID: *in.TargetKeyID})
		}
		return nil, c.client.UpdateAlias(c.ctx, &local.UpdateAliasInput{AliasName: *in.AliasName, TargetKeyID: *in.TargetKeyID})
	}
}

type deleteAliasInput struct {
	AliasName *string `json:"AliasName"`
}

func (in *deleteAliasInput) key() *string { return in.AliasName }

func (in *deleteAliasInput) check(v *checker) { checkAliasName(v, in.AliasName) }

func deleteAlias(c *call, body []byte) (any, error) {
	var in deleteAliasInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	return nil, c.client.DeleteAlias(c.ctx, &local.DeleteAliasInput{AliasName: *in.AliasName})
}

type aliasListEntry struct {
	AliasName   string `json:"AliasName"`
	AliasArn    string `json:"AliasArn"`
	TargetKeyID string `json:"TargetKeyId,omitempty"`
}

type listAliasesOutput struct {
	Aliases    []aliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

type listAliasesInput struct {
	KeyID  *string `json:"KeyId"`
	Limit  *int64  `json:"Limit"`
	Marker *string `json:"Marker"`
}

func (in *listAliasesInput) key() *string { return in.KeyID }

func (in *listAliasesInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, false)
	checkPage(v, in.Limit, in.Marker)
}

func listAliases(c *call, body []byte) (any, error) {
	var in listAliasesInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	o := &listAliasesOutput{Aliases: []aliasListEntry{}}
	if k := c.external(str(in.KeyID)); k != nil {
		// The aliases of one external key: all of them, on one page.
		for _, a := range k.Aliases {
			o.Aliases = append(o.Aliases, aliasListEntry{AliasName: a, AliasArn: k.aliasARN(a), TargetKeyID: k.KeyID})
		}
		return o, nil
	}
	if in.Marker == nil && in.KeyID == nil {
		// The aliases of the account's external keys come first, on the first page.
		for _, k := range c.externalKeys() {
			for _, a := range k.Aliases {
				o.Aliases = append(o.Aliases, aliasListEntry{AliasName: a, AliasArn: k.aliasARN(a), TargetKeyID: k.KeyID})
			}
		}
	}
	out, err := c.client.ListAliases(c.ctx, &local.ListAliasesInput{KeyID: str(in.KeyID), Limit: limit(in.Limit), Marker: str(in.Marker)})
	if err != nil {
		return nil, err
	}
	o.NextMarker, o.Truncated = out.NextMarker, out.Truncated
	for _, a := range out.Aliases {
		o.Aliases = append(o.Aliases, aliasListEntry{AliasName: a.AliasName, AliasArn: a.AliasArn, TargetKeyID: a.TargetKeyID})
	}
	return o, nil
}

type enableKeyRotationInput struct {
	KeyID                *string `json:"KeyId"`
	RotationPeriodInDays *int64  `json:"RotationPeriodInDays"`
}

func (in *enableKeyRotationInput) key() *string { return in.KeyID }

func (in *enableKeyRotationInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	v.intRange("RotationPeriodInDays", in.RotationPeriodInDays, 90, 2560)
}

func enableKeyRotation(c *call, body []byte) (any, error) {
	var in enableKeyRotationInput
	if err := c.readAdmin("EnableKeyRotation", body, &in); err != nil {
		return nil, err
	}
	return nil, c.client.EnableKeyRotation(c.ctx, &local.EnableKeyRotationInput{KeyID: *in.KeyID, RotationPeriodInDays: limit(in.RotationPeriodInDays)})
}

func disableKeyRotation(c *call, id string) (any, error) {
	return nil, c.client.DisableKeyRotation(c.ctx, &local.DisableKeyRotationInput{KeyID: id})
}

type keyRotationStatusOutput struct {
	KeyRotationEnabled   bool       `json:"KeyRotationEnabled"`
	KeyID                string     `json:"KeyId"`
	RotationPeriodInDays int        `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate     *epochTime `json:"NextRotationDate,omitempty"`
}

func getKeyRotationStatus(c *call, id string) (any, error) {
	out, err := c.client.GetKeyRotationStatus(c.ctx, &local.GetKeyRotationStatusInput{KeyID: id})
	if err != nil {
		return nil, err
	}
	return &keyRotationStatusOutput{KeyRotationEnabled: out.KeyRotationEnabled, KeyID: out.KeyID,
		RotationPeriodInDays: out.RotationPeriodInDays, NextRotationDate: epoch(out.NextRotationDate)}, nil
}

func rotateKeyOnDemand(c *call, id string) (any, error) {
	out, err := c.client.RotateKeyOnDemand(c.ctx, &local.RotateKeyOnDemandInput{KeyID: id})
	if err != nil {
		return nil, err
	}
	return &keyIDOutput{KeyID: out.KeyID}, nil
}

type getKeyPolicyInput struct {
	KeyID      *string `json:"KeyId"`
	PolicyName *string `json:"PolicyName"`
}

func (in *getKeyPolicyInput) key() *string { return in.KeyID }

func (in *getKeyPolicyInput) check(v *checker) { checkPolicyKey(v, in.KeyID, in.PolicyName) }

type putKeyPolicyInput struct {
	KeyID                          *string `json:"KeyId"`
	PolicyName                     *string `json:"PolicyName"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
}

func (in *putKeyPolicyInput) key() *string { return in.KeyID }

func (in *putKeyPolicyInput) check(v *checker) {
	checkPolicyKey(v, in.KeyID, in.PolicyName)
	if v.required("Policy", in.Policy != nil) {
		checkPolicy(v, in.Policy)
	}
}

// checkPolicyKey checks the KeyId and PolicyName of GetKeyPolicy and PutKeyPolicy.
func checkPolicyKey(v *checker, keyID, policyName *string) {
	v.keyID("KeyId", keyID, true)
	v.str("PolicyName", policyName, 1, 128, true)
	v.pattern("PolicyName", policyName, policyNamePattern, true)
}

// checkPolicy checks a key policy's text.
func checkPolicy(v *checker, policy *string) {
	v.str("Policy", policy, 1, 131072, false)
	v.pattern("Policy", policy, policyPattern, false)
}

type keyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

func getKeyPolicy(c *call, body []byte) (any, error) {
	var in getKeyPolicyInput
	if err := c.readAdmin("GetKeyPolicy", body, &in); err != nil {
		return nil, err
	}
	out, err := c.client.GetKeyPolicy(c.ctx, &local.GetKeyPolicyInput{KeyID: *in.KeyID, PolicyName: str(in.PolicyName)})
	if err != nil {
		return nil, err
	}
	return &keyPolicyOutput{Policy: out.Policy, PolicyName: out.PolicyName}, nil
}

func putKeyPolicy(c *call, body []byte) (any, error) {
	var in putKeyPolicyInput
	if err := c.readAdmin("PutKeyPolicy", body, &in); err != nil {
		return nil, err
	}
	return nil, c.client.PutKeyPolicy(c.ctx, &local.PutKeyPolicyInput{KeyID: *in.KeyID, PolicyName: str(in.PolicyName),
		Policy: *in.Policy, BypassPolicyLockoutSafetyCheck: flag(in.BypassPolicyLockoutSafetyCheck)})
}

type grantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

type createGrantInput struct {
	KeyID                    *string           `json:"KeyId"`
	GranteePrincipal         *string           `json:"GranteePrincipal"`
	RetiringPrincipal        *string           `json:"RetiringPrincipal"`
	Operations               []string          `json:"Operations"`
	Constraints              *grantConstraints `json:"Constraints"`
	GrantTokens              []string          `json:"GrantTokens"`
	Name                     *string           `json:"Name"`
	DryRun                   *bool             `json:"DryRun"`
	GranteeServicePrincipal  *string           `json:"GranteeServicePrincipal"`
	RetiringServicePrincipal *string           `json:"RetiringServicePrincipal"`
}

type createGrantOutput struct {
	GrantToken string `json:"GrantToken"`
	GrantID    string `json:"GrantId"`
}

// noDryRun refuses DryRun on the grant operations, which backends/local cannot
// check without acting.
func noDryRun(op string, d *bool) error {
	if flag(d) {
		return unsupported("DryRun is not supported for " + op + ".")
	}
	return nil
}

func (in *createGrantInput) key() *string { return in.KeyID }

func (in *createGrantInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	if in.GranteeServicePrincipal == nil {
		v.required("GranteePrincipal", in.GranteePrincipal != nil)
	}
	for _, p := range []struct {
		name string
		s    *string
	}{{"GranteePrincipal", in.GranteePrincipal}, {"RetiringPrincipal", in.RetiringPrincipal}} {
		v.str(p.name, p.s, 1, 256, true)
		v.pattern(p.name, p.s, principalPattern, true)
	}
	v.required("Operations", in.Operations != nil)
	for i := range in.Operations {
		v.enum("Operations", &in.Operations[i], grantOps)
	}
	v.grantTokens(in.GrantTokens)
	v.str("Name", in.Name, 1, 256, true)
	v.pattern("Name", in.Name, grantNamePattern, true)
}

func createGrant(c *call, body []byte) (any, error) {
	var in createGrantInput
	if err := c.readAdmin("CreateGrant", body, &in); err != nil {
		return nil, err
	}
	if in.GranteeServicePrincipal != nil || in.RetiringServicePrincipal != nil {
		return nil, unsupported("Service principals are not supported in grants.")
	}
	if err := noDryRun("CreateGrant", in.DryRun); err != nil {
		return nil, err
	}
	gin := &local.CreateGrantInput{KeyID: *in.KeyID, GranteePrincipal: *in.GranteePrincipal, RetiringPrincipal: str(in.RetiringPrincipal),
		Name: str(in.Name), GrantTokens: in.GrantTokens}
	for _, o := range in.Operations {
		gin.Operations = append(gin.Operations, local.GrantOperation(o))
	}
	if in.Constraints != nil {
		gin.Constraints = &local.GrantConstraints{EncryptionContextEquals: in.Constraints.EncryptionContextEquals,
			EncryptionContextSubset: in.Constraints.EncryptionContextSubset}
	}
	out, err := c.client.CreateGrant(c.ctx, gin)
	if err != nil {
		return nil, err
	}
	return &createGrantOutput{GrantToken: out.GrantToken, GrantID: out.GrantID}, nil
}

type listGrantsInput struct {
	Limit                   *int64  `json:"Limit"`
	Marker                  *string `json:"Marker"`
	KeyID                   *string `json:"KeyId"`
	GrantID                 *string `json:"GrantId"`
	GranteePrincipal        *string `json:"GranteePrincipal"`
	GranteeServicePrincipal *string `json:"GranteeServicePrincipal"`
}

type grantListEntry struct {
	KeyID             string            `json:"KeyId"`
	GrantID           string            `json:"GrantId"`
	Name              string            `json:"Name,omitempty"`
	CreationDate      *epochTime        `json:"CreationDate,omitempty"`
	GranteePrincipal  string            `json:"GranteePrincipal,omitempty"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string            `json:"IssuingAccount"`
	Operations        []string          `json:"Operations"`
	Constraints       *grantConstraints `json:"Constraints,omitempty"`
}

type listGrantsOutput struct {
	Grants     []grantListEntry `json:"Grants"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

func (in *listGrantsInput) key() *string { return in.KeyID }

func (in *listGrantsInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	checkPage(v, in.Limit, in.Marker)
	v.str("GrantId", in.GrantID, 1, 128, true)
	v.str("GranteePrincipal", in.GranteePrincipal, 1, 256, true)
	v.pattern("GranteePrincipal", in.GranteePrincipal, principalPattern, true)
}

func listGrants(c *call, body []byte) (any, error) {
	var in listGrantsInput
	if err := c.readAdmin("ListGrants", body, &in); err != nil {
		return nil, err
	}
	out, err := c.client.ListGrants(c.ctx, &local.ListGrantsInput{KeyID: *in.KeyID, GrantID: str(in.GrantID),
		GranteePrincipal: str(in.GranteePrincipal), Limit: limit(in.Limit), Marker: str(in.Marker)})
	if err != nil {
		return nil, err
	}
	o := &listGrantsOutput{Grants: []grantListEntry{}, NextMarker: out.NextMarker, Truncated: out.Truncated}
	if in.GranteeServicePrincipal != nil {
		// No grant has a service principal: the filter leaves none.
		o.NextMarker, o.Truncated = "", false
		return o, nil
	}
	for _, g := range out.Grants {
		e := grantListEntry{KeyID: g.KeyID, GrantID: g.GrantID, Name: g.Name, CreationDate: epoch(g.CreationDate),
			GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal, IssuingAccount: g.IssuingAccount,
			Operations: []string{}}
		for _, op := range g.Operations {
			e.Operations = append(e.Operations, string(op))
		}
		if g.Constraints != nil {
			e.Constraints = &grantConstraints{EncryptionContextEquals: g.Constraints.EncryptionContextEquals,
				EncryptionContextSubset: g.Constraints.EncryptionContextSubset}
		}
		o.Grants = append(o.Grants, e)
	}
	return o, nil
}

type retireGrantInput struct {
	GrantToken *string `json:"GrantToken"`
	KeyID      *string `json:"KeyId"`
	GrantID    *string `json:"GrantId"`
	DryRun     *bool   `json:"DryRun"`
}

func (in *retireGrantInput) key() *string { return in.KeyID }

func (in *retireGrantInput) check(v *checker) {
	v.str("GrantToken", in.GrantToken, 1, 8192, false)
	v.keyID("KeyId", in.KeyID, false)
	v.str("GrantId", in.GrantID, 1, 128, true)
}

func retireGrant(c *call, body []byte) (any, error) {
	var in retireGrantInput
	if err := c.readAdmin("RetireGrant", body, &in); err != nil {
		return nil, err
	}
	if err := noDryRun("RetireGrant", in.DryRun); err != nil {
		return nil, err
	}
	return nil, c.client.RetireGrant(c.ctx, &local.RetireGrantInput{GrantToken: str(in.GrantToken), KeyID: str(in.KeyID), GrantID: str(in.GrantID)})
}

type revokeGrantInput struct {
	KeyID   *string `json:"KeyId"`
	GrantID *string `json:"GrantId"`
	DryRun  *bool   `json:"DryRun"`
}

func (in *revokeGrantInput) key() *string { return in.KeyID }

func (in *revokeGrantInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	if v.required("GrantId", in.GrantID != nil) {
		v.str("GrantId", in.GrantID, 1, 128, true)
	}
}

func revokeGrant(c *call, body []byte) (any, error) {
	var in revokeGrantInput
	if err := c.readAdmin("RevokeGrant", body, &in); err != nil {
		return nil, err
	}
	if err := noDryRun("RevokeGrant", in.DryRun); err != nil {
		return nil, err
	}
	return nil, c.client.RevokeGrant(c.ctx, &local.RevokeGrantInput{KeyID: *in.KeyID, GrantID: *in.GrantID})
}
