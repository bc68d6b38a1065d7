package backends

import (
	"errors"
	"testing"
)

func TestDataKeyLength(t *testing.T) {
	for _, tt := range []struct {
		in, want int
		ok       bool
	}{{0, DefaultDataKeyBytes, true}, {1, 1, true}, {32, 32, true}, {MaxDataKeyBytes, MaxDataKeyBytes, true}, {-1, 0, false}, {MaxDataKeyBytes + 1, 0, false}} {
		in := &GenerateDataKeyInput{KeyID: "alias/k", NumberOfBytes: tt.in}
		n, err := in.DataKeyLength("GenerateDataKey")
		if tt.ok && (err != nil || n != tt.want) {
			t.Errorf("NumberOfBytes %d: %d, %v; want %d", tt.in, n, err, tt.want)
		}
		var e *Error
		if !tt.ok && (!errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) || e.Op != "GenerateDataKey" || e.KeyID != "alias/k") {
			t.Errorf("NumberOfBytes %d: error %v, want an ErrInvalidArgument naming the op and key", tt.in, err)
		}
	}
}
