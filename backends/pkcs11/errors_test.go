package pkcs11

import (
	"errors"
	"slices"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
)

// TestCKRTable checks the rules the issue names and that every kind in the
// table belongs to the taxonomy.
func TestCKRTable(t *testing.T) {
	for _, tc := range []struct {
		call    string
		code    uint
		kind    *backends.Kind
		recover recovery
	}{
		{"C_Login", p11.CKR_PIN_INCORRECT, backends.ErrAccessDenied, giveUp},
		{"C_Encrypt", p11.CKR_KEY_HANDLE_INVALID, backends.ErrNotFound, reresolve},
		{"C_Decrypt", p11.CKR_ENCRYPTED_DATA_INVALID, backends.ErrInvalidCiphertext, giveUp},
		{"C_Decrypt", p11.CKR_GENERAL_ERROR, backends.ErrInvalidCiphertext, giveUp},
		{"C_Encrypt", p11.CKR_GENERAL_ERROR, backends.ErrInternal, giveUp},
		{"C_Encrypt", p11.CKR_DEVICE_REMOVED, backends.ErrKeyUnavailable, freshSession},
		{"C_EncryptInit", p11.CKR_SESSION_HANDLE_INVALID, backends.ErrKeyUnavailable, freshSession},
		{"C_EncryptInit", p11.CKR_USER_NOT_LOGGED_IN, backends.ErrAccessDenied, relogin},
		{"C_EncryptInit", p11.CKR_ARGUMENTS_BAD, backends.ErrUnsupported, giveUp},
		{"C_Encrypt", p11.CKR_ARGUMENTS_BAD, backends.ErrInternal, giveUp},
		{"C_Encrypt", 0x80001234, backends.ErrInternal, giveUp},
	} {
		r := ruleFor(tc.call, tc.code)
		if r.kind != tc.kind || r.recover != tc.recover {
			t.Errorf("%s %#x: kind %s recovery %d, want %s %d", tc.call, tc.code, r.kind.Name(), r.recover, tc.kind.Name(), tc.recover)
		}
	}
	for _, table := range []map[uint]ckrRule{ckrRules, initRules, decryptRules} {
		for code, r := range table {
			if !slices.Contains(backends.Kinds, r.kind) || r.why == "" {
				t.Errorf("code %#x: kind %v is not in the taxonomy, or the rule says nothing", code, r.kind)
			}
		}
	}
	e := ckrError("Decrypt", "pkcs11:object=k", "C_Decrypt", uint(p11.CKR_ENCRYPTED_DATA_INVALID), errors.New("library error"))
	if e.Op != "Decrypt" || e.KeyID != "pkcs11:object=k" || !strings.Contains(e.Message, "C_Decrypt") || e.Unwrap() == nil {
		t.Errorf("ckrError = %+v", e)
	}
}
