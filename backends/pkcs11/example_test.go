package pkcs11_test

import (
	"context"
	"fmt"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/pkcs11"
)

// A key reference names the token and the key; the PIN never appears in it.
func ExampleParseURI() {
	u, err := pkcs11.ParseURI("pkcs11:token=Payments;object=orders%20key;id=%0A%01?module-path=/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		panic(err)
	}
	fmt.Printf("token %q, key %q, id %x, module %s\n", u.Token, u.Object, u.ID, u.ModulePath)
	_, err = pkcs11.ParseURI("pkcs11:object=orders?pin-value=1234")
	fmt.Println(err)
	// Output:
	// token "Payments", key "orders key", id 0a01, module /usr/lib/softhsm/libsofthsm2.so
	// keyport: ValidationException: a pkcs11 key reference may not carry pin-value: give the PIN in a file or an environment variable (see Options)
}

// A Front opens the HSM the first time a key URL names it, and logs in once per
// token. (Not run here: it needs a PKCS#11 library and a token.)
func ExampleOpener() {
	ctx := context.Background()
	o := &pkcs11.Opener{Options: pkcs11.Options{
		Module:  "/usr/lib/softhsm/libsofthsm2.so",
		PINFile: "/etc/keyport/hsm.pin", // or PINEnv, or KEYPORT_PKCS11_PIN_FILE / KEYPORT_PKCS11_PIN
	}}
	defer o.Close()
	f := backends.NewFront(nil)
	if err := f.RegisterOpener(pkcs11.Scheme, o); err != nil {
		panic(err)
	}
	dataKey := make([]byte, 32)
	out, err := f.Encrypt(ctx, &backends.EncryptInput{
		KeyID:             "pkcs11:token=Payments;object=orders",
		Plaintext:         dataKey,
		EncryptionContext: map[string]string{"tenant": "acme"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("wrapped under", out.KeyID) // the canonical URI: token, object and id
}
