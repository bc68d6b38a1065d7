package jsesdk_test

import (
	"encoding/json"
	"fmt"

	"github.com/keyport/keyport/internal/jsesdk"
)

// A case for the JS ESDK: a raw AES generator and a raw RSA child. Encrypt sends
// a batch of such cases to one node process; here the case is only serialized,
// as the node scripts receive it.
func Example() {
	c := jsesdk.EncryptCase{
		ID: "1",
		Keyrings: []jsesdk.Keyring{
			{Type: "raw-aes", Namespace: "ns", Name: "aes", Key: make([]byte, 16)},
			{Type: "raw-rsa", Namespace: "ns", Name: "rsa", PublicKeyPEM: "-----BEGIN PUBLIC KEY-----...", Padding: "oaep-sha256"},
		},
		SuiteID:           0x0478,
		FrameLength:       4096,
		EncryptionContext: map[string]string{"purpose": "example"},
		Plaintext:         []byte("hi"),
	}
	b, _ := json.Marshal(c)
	fmt.Println(string(b))
	// Output:
	// {"id":"1","keyrings":[{"type":"raw-aes","namespace":"ns","name":"aes","key":"AAAAAAAAAAAAAAAAAAAAAA=="},{"type":"raw-rsa","namespace":"ns","name":"rsa","publicKeyPem":"-----BEGIN PUBLIC KEY-----...","padding":"oaep-sha256"}],"suiteId":1144,"frameLength":4096,"encryptionContext":{"purpose":"example"},"plaintext":"aGk="}
}
