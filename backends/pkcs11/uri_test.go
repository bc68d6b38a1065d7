package pkcs11

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want URI
	}{
		{"pkcs11:token=Keys;object=orders", URI{Token: "Keys", Object: "orders"}},
		{"PKCS11:object=my%20key;id=%01%a2;type=secret-key", URI{Object: "my key", ID: []byte{1, 0xa2}, Type: TypeSecretKey}},
		{"pkcs11:serial=0123abc;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=a", URI{Serial: "0123abc", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Object: "a"}},
		{"pkcs11:slot-id=7;slot-description=s;slot-manufacturer=m;object=a", URI{SlotID: 7, SlotDescription: "s", SlotManufacturer: "m", Object: "a"}},
		{"pkcs11:library-manufacturer=SoftHSM;library-description=d;library-version=2.6;id=%ff", URI{LibraryManufacturer: "SoftHSM", LibraryDescription: "d", LibraryVersion: "2.6", ID: []byte{0xff}}},
		{"pkcs11:object=a?module-path=/usr/lib/softhsm/libsofthsm2.so&module-name=softhsm2", URI{Object: "a", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", ModuleName: "softhsm2"}},
		{"pkcs11:object=a;x-vendor=1?x-other=2", URI{Object: "a"}},
		{"pkcs11:object=a&b=c", URI{Object: "a&b=c"}},
		{"pkcs11:", URI{}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := ParseURI(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.SlotID == 0 {
				tc.want.SlotID = -1
			}
			if u.Token != tc.want.Token || u.Object != tc.want.Object || !bytes.Equal(u.ID, tc.want.ID) || u.Type != tc.want.Type ||
				u.Serial != tc.want.Serial || u.Manufacturer != tc.want.Manufacturer || u.Model != tc.want.Model ||
				u.SlotID != tc.want.SlotID || u.SlotDescription != tc.want.SlotDescription || u.SlotManufacturer != tc.want.SlotManufacturer ||
				u.LibraryManufacturer != tc.want.LibraryManufacturer || u.LibraryDescription != tc.want.LibraryDescription ||
				u.LibraryVersion != tc.want.LibraryVersion || u.ModulePath != tc.want.ModulePath || u.ModuleName != tc.want.ModuleName {
				t.Errorf("ParseURI = %+v, want %+v", *u, tc.want)
			}
			again, err := ParseURI(u.String())
			if err != nil || again.String() != u.String() {
				t.Errorf("String %q does not parse back to itself: %v", u.String(), err)
			}
		})
	}
}

func TestParseURIRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *backends.Kind
	}{
		{"vault://transit/x", backends.ErrNotFound},
		{"pkcs11", backends.ErrNotFound},
		{"pkcs11:object", backends.ErrNotFound},
		{"pkcs11:=a", backends.ErrNotFound},
		{"pkcs11:object=a;object=b", backends.ErrNotFound},
		{"pkcs11:object=a;;id=%01", backends.ErrNotFound},
		{"pkcs11:object=%zz", backends.ErrNotFound},
		{"pkcs11:object=%4", backends.ErrNotFound},
		{"pkcs11:object=a b", backends.ErrNotFound},
		{"pkcs11:object=\xc3\xa9", backends.ErrNotFound},
		{"pkcs11:object=a#frag", backends.ErrNotFound},
		{"pkcs11:color=red", backends.ErrNotFound},
		{"pkcs11:type=key", backends.ErrNotFound},
		{"pkcs11:slot-id=-1", backends.ErrNotFound},
		{"pkcs11:object=a?what=1", backends.ErrNotFound},
		{"pkcs11:object=a?module-path=x&module-path=y", backends.ErrNotFound},
		{"pkcs11:object=a?" + strings.Repeat("x", 2100), backends.ErrNotFound},
		{"pkcs11:object=a?pin-value=s3cret-pin", backends.ErrInvalidArgument},
		{"pkcs11:object=a?pin-source=file:/etc/pin", backends.ErrInvalidArgument},
		{"pkcs11:object=a;pin-value=s3cret-pin", backends.ErrInvalidArgument},
		{"pkcs11:pin-source=file:/etc/pin;object=a", backends.ErrInvalidArgument},
		{"pkcs11:object=a;PIN-VALUE=s3cret-pin", backends.ErrInvalidArgument},
		{"pkcs11:object=a;color=red;pin-value=s3cret-pin", backends.ErrNotFound},
		{"pkcs11:object=a;pin-value=s3cret-pin?module-path=x&module-path=y", backends.ErrInvalidArgument},
	} {
		t.Run(tc.in[:min(len(tc.in), 60)], func(t *testing.T) {
			u, err := ParseURI(tc.in)
			if u != nil || !errors.Is(err, tc.want) {
				t.Fatalf("ParseURI = %v, %v; want %s", u, err, tc.want.Name())
			}
			if strings.Contains(err.Error(), "s3cret-pin") || strings.Contains(err.Error(), "/etc/pin") {
				t.Errorf("the error carries the PIN: %v", err)
			}
		})
	}
}

func TestKeyURIAndRedact(t *testing.T) {
	if got, want := keyURI("My Token", "a;b", []byte{0, 0xab}), "pkcs11:token=My%20Token;object=a%3Bb;id=%00%AB"; got != want {
		t.Errorf("keyURI = %q, want %q", got, want)
	}
	if got, want := keyURI("t", "k", nil), "pkcs11:token=t;object=k"; got != want {
		t.Errorf("keyURI without id = %q, want %q", got, want)
	}
	if got := backends.RedactKeyRef("pkcs11:object=a?pin-value=1234&module-path=/x"); strings.Contains(got, "1234") || !strings.Contains(got, "module-path=/x") {
		t.Errorf("RedactKeyRef = %q", got)
	}
	if got := backends.RedactKeyRef("pkcs11:object=a;pin-value=1234;id=%01"); strings.Contains(got, "1234") || !strings.Contains(got, "id=%01") {
		t.Errorf("RedactKeyRef of a path attribute = %q", got)
	}
}
