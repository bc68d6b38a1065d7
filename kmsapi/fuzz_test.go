package kmsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/kmsapi"
)

// FuzzRequest sends signed requests with any target and body through the whole
// handler: whatever the body (malformed JSON, wrong types, huge values, unknown
// members, unknown targets), the answer is a well-formed KMS answer with the
// status AWS gives (200, 400 or 413), never a panic or a 500.
func FuzzRequest(f *testing.F) {
	svc := local.New()
	srv, err := kmsapi.New(kmsapi.Options{Services: []*local.Service{svc}, MaxRequestBytes: 8 << 10,
		Principals: []kmsapi.Principal{{AccessKeyID: akidA, SecretAccessKey: secretFor + akidA, Account: accountA}}})
	if err != nil {
		f.Fatal(err)
	}
	seeds := map[string]string{
		"Encrypt":             `{"KeyId":"alias/x","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}`,
		"Decrypt":             `{"CiphertextBlob":"AAECAwQ=","GrantTokens":["t"]}`,
		"ReEncrypt":           `{"CiphertextBlob":"AAEC","DestinationKeyId":"k","DryRunModifiers":["IGNORE_CIPHERTEXT"]}`,
		"GenerateDataKey":     `{"KeyId":"k","NumberOfBytes":1e9}`,
		"GenerateRandom":      `{"NumberOfBytes":16}`,
		"CreateKey":           `{"Description":"d","Tags":[{"TagKey":"a"}],"Policy":"{}"}`,
		"CreateAlias":         `{"AliasName":"alias/a","TargetKeyId":null}`,
		"ListKeys":            `{"Limit":-1,"Marker":"\u0000"}`,
		"ListGrants":          `{"KeyId":["k"]}`,
		"CreateGrant":         `{"KeyId":"k","GranteePrincipal":"arn:aws:iam::111122223333:root","Operations":["Encrypt"],"Constraints":{"EncryptionContextEquals":{"a":1}}}`,
		"PutKeyPolicy":        `{"KeyId":"k","Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}`,
		"ScheduleKeyDeletion": `{"KeyId":"k","PendingWindowInDays":"7"}`,
		"Nope":                `{}`,
		"":                    `[`,
	}
	for target, body := range seeds {
		f.Add(target, []byte(body))
	}
	f.Add("DescribeKey", bytes.Repeat([]byte("["), 10000))
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "http://kms.local/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService."+strings.ToValidUTF8(target, ""))
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akidA, SecretAccessKey: secretFor + akidA},
			req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
			t.Skip("the signer refuses the request") // a target with bytes no header may carry
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("target %q: status %d: %s", target, rec.Code, rec.Body.Bytes())
		}
		if rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
			t.Fatalf("target %q: Content-Type %q", target, rec.Header().Get("Content-Type"))
		}
		if rec.Body.Len() == 0 {
			return // an operation without output
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("target %q: the answer is not a JSON object: %q", target, rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK {
			if typ, _ := answer["__type"].(string); typ == "" || typ == "KMSInternalException" {
				t.Fatalf("target %q: error answer without a client __type: %q", target, rec.Body.Bytes())
			}
		}
	})
}
