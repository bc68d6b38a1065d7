package backends_test

import (
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestDataKeyLength(t *testing.T) {
	for _, tt := range []struct {
		in, want int
		ok       bool
	}{{0, backends.DefaultDataKeyBytes, true}, {1, 1, true}, {32, 32, true}, {backends.MaxDataKeyBytes, backends.MaxDataKeyBytes, true}, {-1, 0, false}, {backends.MaxDataKeyBytes + 1, 0, false}} {
		in := &backends.GenerateDataKeyInput{KeyID: "alias/k", NumberOfBytes: tt.in}
		n, err := in.DataKeyLength("GenerateDataKey")
		if tt.ok && (err != nil || n != tt.want) {
			t.Errorf("NumberOfBytes %d: %d, %v; want %d", tt.in, n, err, tt.want)
		}
		if tt.ok {
			continue
		}
		what := fmt.Sprintf("NumberOfBytes %d", tt.in)
		if e := kmstest.WantKind(t, err, backends.ErrInvalidArgument, what); e != nil && (e.Op != "GenerateDataKey" || e.KeyID != "alias/k") {
			t.Errorf("%s: error %v, want one naming the op and key", what, err)
		}

	}
}
