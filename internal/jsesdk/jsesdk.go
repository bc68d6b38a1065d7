// Package jsesdk drives the AWS Encryption SDK for JavaScript
// (@aws-crypto/client-node, pinned in package-lock.json) as an interop peer in
// tests. scripts/components/jsesdk.sh installs it and exports KEYPORT_JSESDK_DIR;
// Encrypt and Decrypt send a batch of cases to one node process (encrypt.js,
// decrypt.js) so that many cases cost one process start.
package jsesdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvDir is the environment variable that names the installed harness directory.
const EnvDir = "KEYPORT_JSESDK_DIR"

// Keyring describes one keyring of the JS ESDK. Type is "raw-aes", "raw-rsa" or
// "aws-kms"; the other fields are those of that type.
type Keyring struct {
	Type string `json:"type"`
	// Raw keyrings: key namespace (provider ID) and key name.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Key is the raw AES wrapping key (16, 24 or 32 bytes).
	Key []byte `json:"key,omitempty"`
	// UTF8Sorting=false selects the JS default (localeCompare) order of the raw AES
	// wrapping AAD; nil means true, the order every other ESDK uses.
	UTF8Sorting *bool `json:"utf8Sorting,omitempty"`
	// Raw RSA: PEM keys (PKCS#8 private, SPKI public) and padding: "pkcs1",
	// "oaep-sha1", "oaep-sha256", "oaep-sha384" or "oaep-sha512".
	PrivateKeyPEM string `json:"privateKeyPem,omitempty"`
	PublicKeyPEM  string `json:"publicKeyPem,omitempty"`
	Padding       string `json:"padding,omitempty"`
	// AWS KMS: a custom endpoint and static credentials, and either key IDs or
	// discovery with an optional filter.
	Endpoint        string           `json:"endpoint,omitempty"`
	Region          string           `json:"region,omitempty"`
	AccessKeyID     string           `json:"accessKeyId,omitempty"`
	SecretAccessKey string           `json:"secretAccessKey,omitempty"`
	GeneratorKeyID  string           `json:"generatorKeyId,omitempty"`
	KeyIDs          []string         `json:"keyIds,omitempty"`
	Discovery       bool             `json:"discovery,omitempty"`
	DiscoveryFilter *DiscoveryFilter `json:"discoveryFilter,omitempty"`
	GrantTokens     []string         `json:"grantTokens,omitempty"`
}

// DiscoveryFilter is the JS ESDK's discovery filter.
type DiscoveryFilter struct {
	AccountIDs []string `json:"accountIDs"`
	Partition  string   `json:"partition"`
}

// EncryptCase is one message to encrypt. The first keyring is the generator, the
// others are children of a multi-keyring.
type EncryptCase struct {
	ID                string            `json:"id"`
	Keyrings          []Keyring         `json:"keyrings"`
	SuiteID           uint16            `json:"suiteId,omitempty"`
	FrameLength       int               `json:"frameLength,omitempty"`
	EncryptionContext map[string]string `json:"encryptionContext"`
	Plaintext         []byte            `json:"plaintext"`
}

// DecryptCase is one message to decrypt. EncryptionContext, if set, holds pairs
// the message's encryption context must contain; decrypt.js fails the case
// otherwise (the JS ESDK's decrypt takes no context of its own).
type DecryptCase struct {
	ID                string            `json:"id"`
	Keyrings          []Keyring         `json:"keyrings"`
	Ciphertext        []byte            `json:"ciphertext"`
	EncryptionContext map[string]string `json:"encryptionContext,omitempty"`
}

// Result is the answer to one case: Error is set when the JS ESDK refused it.
type Result struct {
	ID                string            `json:"id"`
	Error             string            `json:"error,omitempty"`
	Ciphertext        []byte            `json:"ciphertext,omitempty"`
	Plaintext         []byte            `json:"plaintext,omitempty"`
	SuiteID           uint16            `json:"suiteId,omitempty"`
	EncryptionContext map[string]string `json:"encryptionContext,omitempty"`
}

// Options are the client options of a batch.
type Options struct {
	// CommitmentPolicy is a JS CommitmentPolicy name; empty means
	// REQUIRE_ENCRYPT_REQUIRE_DECRYPT.
	CommitmentPolicy     string `json:"commitmentPolicy,omitempty"`
	MaxEncryptedDataKeys int    `json:"maxEncryptedDataKeys,omitempty"`
}

// Encrypt encrypts every case in one node process started from dir.
func Encrypt(ctx context.Context, dir string, opts Options, cases []EncryptCase) ([]Result, error) {
	return run(ctx, dir, "encrypt.js", opts, cases, len(cases))
}

// Decrypt decrypts every case in one node process started from dir.
func Decrypt(ctx context.Context, dir string, opts Options, cases []DecryptCase) ([]Result, error) {
	return run(ctx, dir, "decrypt.js", opts, cases, len(cases))
}

func run(ctx context.Context, dir, script string, opts Options, cases any, n int) ([]Result, error) {
	in, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		return nil, fmt.Errorf("jsesdk: %w", err)
	}
	a, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("jsesdk: %w", err)
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, script), string(a))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("jsesdk: node %s: %w: %s", script, err, strings.TrimSpace(errb.String()))
	}
	var res struct {
		Results []Result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("jsesdk: node %s: bad answer: %w", script, err)
	}
	if len(res.Results) != n {
		return nil, fmt.Errorf("jsesdk: node %s answered %d cases of %d", script, len(res.Results), n)
	}
	return res.Results, nil
}
