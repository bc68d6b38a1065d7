package blob

import (
	"bytes"
	"testing"

	"github.com/keyport/keyport/backends"
)

// FuzzAppendContext: AppendContext is backends.EncodeEncryptionContext, appended.
func FuzzAppendContext(f *testing.F) {
	f.Add([]byte("a\x00b\x00c\x00d"), []byte("pre"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte("1\x002\x003\x004\x005\x006\x007\x008\x009\x0010\x0011\x0012\x0013\x0014\x0015\x0016\x0017\x0018\x00"), []byte(nil))
	f.Fuzz(func(t *testing.T, pairs, prefix []byte) {
		ec := map[string]string{}
		parts := bytes.Split(pairs, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			ec[string(parts[i])] = string(parts[i+1])
		}
		want := append(bytes.Clone(prefix), backends.EncodeEncryptionContext(ec)...)
		if got := AppendContext(bytes.Clone(prefix), ec); !bytes.Equal(got, want) {
			t.Fatalf("AppendContext = %x, want %x", got, want)
		}
		var small [8]pair
		if n := pairsLen(sortedPairs(ec, &small)); n != len(want)-len(prefix) {
			t.Fatalf("pairsLen = %d, encoding is %d bytes", n, len(want)-len(prefix))
		}
	})
}
