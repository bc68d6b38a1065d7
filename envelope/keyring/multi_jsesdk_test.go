package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/jsesdk"
	"github.com/keyport/keyport/internal/testenv"
)

// interopKey is one wrapping key, as a keyport keyring and as a JS keyring.
type interopKey struct {
	desc string
	kr   envelope.Keyring
	js   jsesdk.Keyring
	// jsDecrypts is false for RSA PKCS#1 v1.5: Node 20 refuses that padding for
	// private-key decryption (CVE-2023-46809), so the JS side only encrypts with it.
	jsDecrypts bool
}

func pemKeys(t testing.TB, k *rsa.PrivateKey) (priv, pub string) {
	t.Helper()
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
}

// interopKeys makes raw AES keys of every size and raw RSA keys with every padding.
func interopKeys(t testing.TB) []interopKey {
	t.Helper()
	var keys []interopKey
	for i, n := range []int{16, 24, 32, 32} {
		key := make([]byte, n)
		rand.Read(key)
		ns, name := "interop-aes", fmt.Sprintf("aes-%d-%d", n*8, i)
		kr, err := keyring.NewRawAES(ns, name, key)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, interopKey{desc: name, kr: kr, js: jsesdk.Keyring{Type: "raw-aes", Namespace: ns, Name: name, Key: key}, jsDecrypts: true})
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := pemKeys(t, rk)
	for _, p := range []struct {
		pad  keyring.RSAPadding
		name string
	}{{keyring.PKCS1, "pkcs1"}, {keyring.OAEPSHA1, "oaep-sha1"}, {keyring.OAEPSHA256, "oaep-sha256"}, {keyring.OAEPSHA384, "oaep-sha384"}, {keyring.OAEPSHA512, "oaep-sha512"}} {
		ns, name := "interop-rsa", "rsa-2048-"+p.name
		kr, err := keyring.NewRawRSA(ns, name, nil, rk, p.pad)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, interopKey{
			desc: name, kr: kr,
			js:         jsesdk.Keyring{Type: "raw-rsa", Namespace: ns, Name: name, PrivateKeyPEM: priv, PublicKeyPEM: pub, Padding: p.name},
			jsDecrypts: p.pad != keyring.PKCS1,
		})
	}
	return keys
}

// interopCase is one randomly drawn message.
type interopCase struct {
	id        string
	suite     envelope.SuiteID
	frame     int
	pt        []byte
	ec        map[string]string
	keys      []interopKey // wrap for all; keys[0] generates
	decryptor interopKey   // the one key the peer decrypts with
}

var ecKeys = []string{"purpose", "Purpose", "a", "B", "Zeta", "émoji-🔑", "日本語", "straße", "Ωmega", "mixedCase", "UPPER", "ключ"}
var ecValues = []string{"", "value", "ÄÖÜ", "🙂", "中文", "x y z", "line\nbreak"}

func drawCases(t testing.TB, rng *mrand.Rand, keys []interopKey) []interopCase {
	t.Helper()
	var cases []interopCase
	big := 3<<20 + rng.IntN(1<<20)
	for i := 0; i < 48; i++ {
		c := interopCase{id: strconv.Itoa(i)}
		c.suite = envelope.SuiteAES256GCMHKDFSHA512CommitKey
		if rng.IntN(2) == 1 {
			c.suite = envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384
		}
		// Frame lengths 1 B to 64 KiB, biased towards small and edge values.
		switch rng.IntN(4) {
		case 0:
			c.frame = 1 + rng.IntN(16)
		case 1:
			c.frame = []int{1, 2, 16, 4096, 65535, 65536}[rng.IntN(6)]
		default:
			c.frame = 1 + rng.IntN(65536)
		}
		var size int
		switch i % 6 {
		case 0:
			size = 0
		case 1:
			size = 1
		case 2:
			size = c.frame - 1
		case 3:
			size = c.frame
		case 4:
			size = c.frame + 1
		case 5:
			size = rng.IntN(3 * c.frame)
		}
		if i == 46 || i == 47 { // several MiB, with frames that keep the peer fast
			c.frame = []int{4096, 65536}[i-46]
			size = big
		}
		c.pt = make([]byte, size)
		rand.Read(c.pt)
		c.ec = map[string]string{}
		for n := rng.IntN(5); n > 0; n-- {
			c.ec[ecKeys[rng.IntN(len(ecKeys))]] = ecValues[rng.IntN(len(ecValues))]
		}
		perm := rng.Perm(len(keys))
		for _, j := range perm[:1+rng.IntN(3)] {
			c.keys = append(c.keys, keys[j])
		}
		// The peer decrypts with one key it can use, drawn among the case's.
		var usable []interopKey
		for _, k := range c.keys {
			if k.jsDecrypts {
				usable = append(usable, k)
			}
		}
		if len(usable) == 0 {
			c.keys = append(c.keys, keys[0])
			usable = []interopKey{keys[0]}
		}
		c.decryptor = usable[rng.IntN(len(usable))]
		cases = append(cases, c)
	}
	return cases
}

func (c interopCase) String() string {
	names := ""
	for _, k := range c.keys {
		names += k.desc + " "
	}
	return fmt.Sprintf("case %s: suite %04x, frame %d, %d bytes, %d context pairs, keys [%s], peer decrypts with %s",
		c.id, uint16(c.suite), c.frame, len(c.pt), len(c.ec), names, c.decryptor.desc)
}

func (c interopCase) keyring(t testing.TB) envelope.Keyring {
	t.Helper()
	rest := make([]envelope.Keyring, 0, len(c.keys)-1)
	for _, k := range c.keys[1:] {
		rest = append(rest, k.kr)
	}
	m, err := keyring.NewMulti(c.keys[0].kr, rest...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func interopSeed(t testing.TB) uint64 {
	if s := os.Getenv("KEYPORT_INTEROP_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestJSESDKInterop runs randomly drawn messages both ways between keyport and
// the AWS Encryption SDK for JavaScript: keyport encrypts and JS decrypts, JS
// encrypts and keyport decrypts. Each direction is one node process.
func TestJSESDKInterop(t *testing.T) {
	dir := testenv.Require(t, jsesdk.EnvDir, "the JS ESDK")
	ctx := context.Background()
	seed := interopSeed(t)
	t.Logf("seed %d (set KEYPORT_INTEROP_SEED to replay)", seed)
	rng := mrand.New(mrand.NewPCG(seed, 0x6b6579706f7274))
	keys := interopKeys(t)
	cases := drawCases(t, rng, keys)

	// keyport -> JS.
	var dec []jsesdk.DecryptCase
	for _, c := range cases {
		msg, err := envelope.Encrypt(ctx, c.pt, envelope.EncryptOptions{Keyring: c.keyring(t), Suite: c.suite, FrameLength: c.frame, EncryptionContext: c.ec})
		if err != nil {
			t.Fatalf("%v: keyport encrypt: %v", c, err)
		}
		dec = append(dec, jsesdk.DecryptCase{ID: c.id, Keyrings: []jsesdk.Keyring{c.decryptor.js}, Ciphertext: msg})
	}
	// A control that must fail: the JS raw AES keyring with its default
	// (localeCompare) order of the wrapping AAD refuses a context whose UTF-8 byte
	// order differs ("B" < "a"), which shows the context is really checked.
	aes := cases[0].decryptor
	for _, k := range keys {
		if k.js.Type == "raw-aes" {
			aes = k
			break
		}
	}
	ctlEC := map[string]string{"a": "lower", "B": "upper"}
	ctl, err := envelope.Encrypt(ctx, []byte("control"), envelope.EncryptOptions{Keyring: aes.kr, EncryptionContext: ctlEC, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey})
	if err != nil {
		t.Fatal(err)
	}
	localeOrder := false
	ctlKR := aes.js
	ctlKR.UTF8Sorting = &localeOrder
	dec = append(dec,
		jsesdk.DecryptCase{ID: "control-utf8", Keyrings: []jsesdk.Keyring{aes.js}, Ciphertext: ctl},
		jsesdk.DecryptCase{ID: "control-locale", Keyrings: []jsesdk.Keyring{ctlKR}, Ciphertext: ctl})
	res, err := jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, dec)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[len(res)-2]; r.Error != "" || string(r.Plaintext) != "control" {
		t.Errorf("control with utf8Sorting: %q", r.Error)
	}
	if r := res[len(res)-1]; r.Error == "" {
		t.Error("control: the JS keyring with localeCompare order opened a message whose context sorts differently in UTF-8")
	}
	res = res[:len(res)-2]
	for i, r := range res {
		c := cases[i]
		if r.Error != "" {
			t.Errorf("%v: JS decrypt: %s", c, r.Error)
			continue
		}
		if !bytes.Equal(r.Plaintext, c.pt) || r.SuiteID != uint16(c.suite) {
			t.Errorf("%v: JS decrypted %d bytes (suite %04x)", c, len(r.Plaintext), r.SuiteID)
		}
		for k, v := range c.ec {
			if r.EncryptionContext[k] != v {
				t.Errorf("%v: JS sees context %q=%q, want %q", c, k, r.EncryptionContext[k], v)
			}
		}
	}

	// JS -> keyport.
	var enc []jsesdk.EncryptCase
	for _, c := range cases {
		ks := make([]jsesdk.Keyring, len(c.keys))
		for i, k := range c.keys {
			ks[i] = k.js
		}
		enc = append(enc, jsesdk.EncryptCase{ID: c.id, Keyrings: ks, SuiteID: uint16(c.suite), FrameLength: c.frame, EncryptionContext: c.ec, Plaintext: c.pt})
	}
	res, err = jsesdk.Encrypt(ctx, dir, jsesdk.Options{}, enc)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		c := cases[i]
		if r.Error != "" {
			t.Errorf("%v: JS encrypt: %s", c, r.Error)
			continue
		}
		// Every encrypted data key opens it in keyport, each key on its own.
		for _, k := range c.keys {
			pt, got, err := envelope.Decrypt(ctx, r.Ciphertext, envelope.DecryptOptions{Keyring: k.kr, EncryptionContext: c.ec})
			if err != nil {
				t.Errorf("%v: keyport decrypt with %s: %v", c, k.desc, err)
				continue
			}
			if !bytes.Equal(pt, c.pt) || got.Suite != c.suite || got.Header.FrameLength != c.frame || len(got.Header.EncryptedDataKeys) != len(c.keys) {
				t.Errorf("%v: keyport decrypted %d bytes, suite %04x, frame %d", c, len(pt), uint16(got.Suite), got.Header.FrameLength)
			}
		}
	}
}
