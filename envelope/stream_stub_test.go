package envelope_test

import (
	"context"

	"github.com/keyport/keyport/envelope"
)

func streamDecrypt(msg []byte, o envelope.DecryptOptions) ([]byte, error) {
	pt, _, err := envelope.Decrypt(context.Background(), msg, o)
	return pt, err
}
