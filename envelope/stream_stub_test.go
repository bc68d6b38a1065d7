package envelope_test

import (
	"bytes"
	"context"
	"io"

	"github.com/keyport/keyport/envelope"
)

// streamDecrypt decrypts msg with the streaming API. On error it returns the
// plaintext released before the error.
func streamDecrypt(msg []byte, o envelope.DecryptOptions) ([]byte, error) {
	d, err := envelope.NewDecrypter(context.Background(), bytes.NewReader(msg), o)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, d)
	return out.Bytes(), err
}
