package backends_test

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// A Front in front of a driver, with interceptors: a metrics hook that counts
// calls by operation and outcome, and retries of the answers a retry can cure.
// The driver here is a stand-in that is throttled once.
func ExampleFront_Use() {
	ctx := context.Background()
	kms := backends.NewFront(&flaky{})
	counts := map[string]int{}
	kms.Use(
		func(ctx context.Context, c *backends.Call, invoke backends.Invoker) error {
			err := invoke(ctx)
			outcome := "ok"
			if k := backends.KindOf(err); k != nil {
				outcome = k.Name()
			}
			counts[c.Op+" "+outcome]++
			return err
		},
		backends.Retry(backends.RetryPolicy{BaseDelay: time.Millisecond}),
	)
	out, err := kms.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/orders", Plaintext: []byte("a data key")})
	fmt.Println(out.KeyID, err, counts)
	// Output: alias/orders <nil> map[Encrypt ok:1]
}

// flaky is a driver that answers ThrottlingException to its first call.
type flaky struct{ calls int }

func (f *flaky) Encrypt(_ context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	if f.calls++; f.calls == 1 {
		return nil, backends.Errorf(backends.ErrThrottling, "Encrypt", in.KeyID, "rate exceeded")
	}
	return &backends.EncryptOutput{CiphertextBlob: []byte("sealed"), KeyID: in.KeyID}, nil
}

func (f *flaky) Decrypt(context.Context, *backends.DecryptInput) (*backends.DecryptOutput, error) {
	return nil, backends.Errorf(backends.ErrUnsupported, "Decrypt", "", "not in this example")
}
