package pkcs11_test

import (
	"fmt"

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
