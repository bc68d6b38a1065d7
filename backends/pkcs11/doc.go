// Package pkcs11 is keyport's backend for hardware security modules reached
// through PKCS#11 (on-premises HSMs, CloudHSM, Luna, YubiHSM, Thales, SoftHSM2),
// over github.com/miekg/pkcs11.
//
// # Building: cgo
//
// PKCS#11 libraries are C shared objects, so the backend needs cgo. The files
// that call the library carry the build constraint "cgo"; a build with
// CGO_ENABLED=0 compiles a stand-in (nocgo.go) whose [Open] answers
// backends.ErrUnsupported, so a pure-Go build of keyport, or of any package that
// imports this one, never needs a C toolchain. Everything that does not touch
// the library ([ParseURI], the blob format, the error table, [Opener]) is
// plain Go in both builds.
//
// Why miekg/pkcs11 and not crypto11: the backend needs CKM_AES_GCM with its own
// additional authenticated data, CKM_RSA_PKCS_OAEP with a chosen hash, the
// CKA_EXTRACTABLE, CKA_SENSITIVE, CKA_ENCRYPT and CKA_DECRYPT attributes of each
// key, and its own session pool and error mapping. crypto11 hides all of that
// behind crypto.Signer and cipher.AEAD values, logs in per context, and panics on
// some paths; the thin miekg/pkcs11 binding gives the calls themselves.
//
// # With a Front
//
// Callers hold a backends.Front: register one Backend for its token with
// [Backend.Register], or an [Opener], which opens a Backend per library and token
// the first time a key URL names them:
//
//	f := backends.NewFront(nil)
//	err := f.RegisterOpener(pkcs11.Scheme, &pkcs11.Opener{Options: pkcs11.Options{
//		Module:  "/usr/lib/softhsm/libsofthsm2.so",
//		PINFile: "/etc/keyport/hsm.pin",
//	}})
//	out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "pkcs11:token=Payments;object=orders", Plaintext: dataKey})
//
// # Key references
//
// Keys are named by pkcs11: URIs (RFC 7512), for example
//
//	pkcs11:token=Payments;object=orders;id=%0A%01
//	pkcs11:serial=4a99c43a79f8752e;object=orders;type=secret-key
//	pkcs11:object=orders?module-path=/usr/lib/softhsm/libsofthsm2.so
//
// A [Backend] serves one token of one library: token=, serial=, manufacturer=,
// model=, slot-id= and module-path=, when present, must name that token and
// library (otherwise the key is not found). object= (CKA_LABEL) and id= (CKA_ID)
// select the key, type= its class. The reference must name exactly one key: two
// secret keys with one label, a secret key and a key pair, or two private keys
// are an error matching backends.ErrInvalidArgument, never a silent pick; add
// id= to choose. Every output names a key by its canonical URI,
// pkcs11:token=<label>;object=<label>;id=<id>, which is what envelope headers
// record.
//
// The PIN never travels in a key reference: [ParseURI] refuses pin-value and
// pin-source (a reference read from a message header must not make the process
// read a file), and no error or log names a PIN. [Open] reads it from
// Options.PINFile or Options.PINEnv, else from the file named by
// KEYPORT_PKCS11_PIN_FILE, else from KEYPORT_PKCS11_PIN. The backend keeps it in
// memory to log in again after the token logs out, and wipes it on Close.
//
// # Keys it uses, and keys it refuses
//
// An AES-256 secret key (CKK_AES, CKA_VALUE_LEN 32), or an RSA key pair of 2048,
// 3072 or 4096 bits (a private and a public key object with the same label and
// id, of one modulus). Keys that could leave the token are refused with
// backends.ErrInvalidKeyUsage: CKA_EXTRACTABLE true, or CKA_SENSITIVE false. So
// are keys whose usage attributes do not allow the call: Decrypt needs
// CKA_DECRYPT, and Encrypt needs both CKA_ENCRYPT and CKA_DECRYPT, so that
// nothing is encrypted that the key could not decrypt. [Backend.DescribeKey] and
// [Backend.KeyInfo] describe any key, usable or not (label, id, key spec,
// extractable, sensitive, encrypt, decrypt), so that the reason for a refusal is
// visible; [Backend.ListKeys] lists every key of the token that way, and
// [KeyInfo.Usable] says whether keyport uses one and why not. [Backend.CreateKey]
// makes keys the backend uses: not extractable, sensitive, private, able to
// encrypt and decrypt and nothing else. The backend destroys no key: a token
// does it at once, with no waiting period to cancel.
//
// # Ciphertext blobs
//
// A CiphertextBlob names the key that made it, so Decrypt needs no KeyID
// (backends.CiphertextInspector), and a blob of another key of the token is
// backends.ErrIncorrectKey rather than a damaged blob. Its layout:
//
//	offset  length  field
//	0       1       format: 0x01 AES-256-GCM, 0x02 RSA-OAEP-SHA-256, 0x03 RSA-OAEP-SHA-1
//	1       2       n, the length of the key's canonical URI (big-endian)
//	3       n       the key's canonical URI
//	3+n     12      the GCM IV (format 0x01 only; random, from crypto/rand)
//	...     rest    format 0x01: the GCM ciphertext and its 16-byte tag
//	                formats 0x02 and 0x03: the OAEP ciphertext
//
// Under an AES key the additional authenticated data of GCM is the whole header
// (every byte before the ciphertext) followed by the encryption context in
// keyport's unambiguous encoding, backends.EncodeEncryptionContext; so a changed
// header, or a context that differs in any pair, fails as
// backends.ErrInvalidCiphertext. A random 96-bit IV per call bounds a key to
// about 2^32 encryptions, as for any AES-GCM key used with random IVs. A token
// that replaces the IV it is given is refused (backends.ErrUnsupported).
//
// Under an RSA key pair the data key is encrypted with CKM_RSA_PKCS_OAEP, with
// SHA-256 and MGF1-SHA-256 by default (RSAES_OAEP_SHA_256) or SHA-1 when asked
// for by name (RSAES_OAEP_SHA_1). SoftHSM 2.6 implements OAEP with SHA-1 only, so
// the default is backends.ErrUnsupported there; the tests declare that as the
// token's deviation rather than weakening the default. An RSA key pair binds no
// encryption context (as with AWS KMS asymmetric keys: OAEP's label is ignored by
// some tokens), and Encrypt with one is backends.ErrInvalidArgument.
//
// [Backend.GenerateDataKey] makes data keys with the token's random number
// generator (C_GenerateRandom) and encrypts them under an AES key in the same
// session.
//
// # Sessions and errors
//
// A Backend holds a bounded pool of sessions (Options.MaxSessions, default
// [DefaultMaxSessions]); each call takes one for itself, waiting (until its ctx
// ends) when all are busy. The token is logged in once, when the backend opens;
// a library is initialised once per process and finalised when its last Backend
// closes. A missing library, a file that is not a PKCS#11 library, no such token
// and a wrong PIN are errors from [Open], never panics.
//
// CKR_* codes are mapped onto the taxonomy of package backends by one table
// (errors.go), which also says what to try first: a session that broke
// (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT) is closed and the call runs again on a new one; a token
// that logged out (CKR_USER_NOT_LOGGED_IN) is logged in again; a key whose handle
// went stale (CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID) is found again,
// and is backends.ErrNotFound if it is gone. CKR_PIN_INCORRECT is
// backends.ErrAccessDenied, CKR_ENCRYPTED_DATA_INVALID (and, from C_Decrypt only,
// the general errors SoftHSM answers for a bad GCM tag) backends.ErrInvalidCiphertext.
// The library's own pkcs11.Error stays reachable with errors.As. Calls into the
// library cannot be interrupted: ctx is honoured while waiting for a session.
//
// PKCS#11 has no key states, grants, accounts, dry-run or native re-encryption:
// every key is Enabled; GrantTokens are ignored; a DryRun does the real call
// (Decrypt checks the ciphertext and context), wipes any plaintext and answers
// backends.ErrDryRunOperation; a reencrypt.Engine re-encrypts to and from an HSM
// by decrypting and encrypting (the plaintext data key then passes through the
// process, and is wiped).
package pkcs11
