package backends_test

import (
	"errors"
	"fmt"

	"github.com/keyport/keyport/backends"
)

func ExampleParseKeyRef() {
	for _, s := range []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"alias/orders",
		"arn:aws:kms:us-east-1:111122223333:alias/orders",
		"vault://transit/orders",
	} {
		ref, err := backends.ParseKeyRef(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-9s account=%q\n", ref.Form, ref.Account)
	}
	_, err := backends.ParseKeyRef("orders")
	fmt.Println(errors.Is(err, backends.ErrNotFound))
	// Output:
	// key ID    account=""
	// key ARN   account="111122223333"
	// alias name account=""
	// alias ARN account="111122223333"
	// URI       account=""
	// true
}

func ExampleError() {
	err := backends.Errorf(backends.ErrDisabled, "Encrypt", "alias/orders", "key is disabled")
	fmt.Println(errors.Is(err, backends.ErrDisabled), backends.IsRetryable(err))
	fmt.Println(err)
	// Output:
	// true false
	// keyport: Encrypt: DisabledException (key alias/orders): key is disabled
}
