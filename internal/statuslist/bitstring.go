package statuslist

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MinBitstringEntries is the smallest Bitstring Status List allowed: 131,072 entries, 16 KiB
// uncompressed, the minimum W3C Bitstring Status List v1.0 sets for group privacy.
const MinBitstringEntries = 131072

// Names and values of W3C Bitstring Status List v1.0 and the VC Data Model 2.0 that this package
// writes and checks.
const (
	// CredentialsV2Context is the base context of a VCDM 2.0 credential; it defines the Bitstring
	// Status List terms too.
	CredentialsV2Context = "https://www.w3.org/ns/credentials/v2"
	// CredentialType is the typ header of a VCDM 2.0 credential secured as a JWS (VC-JOSE-COSE).
	CredentialType = "vc+jwt"
	// CredentialContentType is the cty header of such a JWS.
	CredentialContentType = "vc"
	// PurposeRevocation marks a list whose set bits mean revoked, for good.
	PurposeRevocation = "revocation"
	// PurposeSuspension marks a list whose set bits mean suspended, which can be undone.
	PurposeSuspension = "suspension"
	// PurposeRefresh marks a list whose set bits mean the holder should refresh the credential.
	PurposeRefresh = "refresh"
)

// validPurpose reports whether p is a status purpose this package supports. "message" is not
// one: it needs statusSize above 1 and statusMessage, which this one-bit codec does not model.
func validPurpose(p string) bool {
	return p == PurposeRevocation || p == PurposeSuspension || p == PurposeRefresh
}

// Bitstring is a W3C Bitstring Status List held uncompressed in memory, one bit per entry,
// entry 0 being the most significant bit of byte 0. The zero value is not usable; build one with
// NewBitstring or DecodeList.
type Bitstring struct {
	data []byte
}

// NewBitstring returns a Bitstring Status List of entries entries, all clear. entries must be a
// multiple of 8 and at least MinBitstringEntries; otherwise the error wraps ErrMalformed.
func NewBitstring(entries int) (*Bitstring, error) {
	if entries < MinBitstringEntries || entries%8 != 0 || entries > math.MaxInt/2 {
		return nil, fmt.Errorf("%w: %d entries, want a multiple of 8 of at least %d", ErrMalformed, entries, MinBitstringEntries)
	}
	return &Bitstring{data: make([]byte, entries/8)}, nil
}

// Len returns the number of entries of b.
func (b *Bitstring) Len() int { return len(b.data) * 8 }

// Bytes returns a copy of the uncompressed bitstring of b.
func (b *Bitstring) Bytes() []byte { return bytes.Clone(b.data) }

func (b *Bitstring) locate(i int) (int, byte, error) {
	if i < 0 || i >= len(b.data)*8 {
		return 0, 0, fmt.Errorf("%w: %d not in [0, %d)", ErrIndex, i, len(b.data)*8)
	}
	return i / 8, 0x80 >> (i % 8), nil
}

// Get reports whether entry i is set. The error wraps ErrIndex if i is not in [0, Len()).
func (b *Bitstring) Get(i int) (bool, error) {
	n, mask, err := b.locate(i)
	if err != nil {
		return false, err
	}
	return b.data[n]&mask != 0, nil
}

// Set sets entry i to v. The error wraps ErrIndex if i is not in [0, Len()).
func (b *Bitstring) Set(i int, v bool) error {
	n, mask, err := b.locate(i)
	if err != nil {
		return err
	}
	if v {
		b.data[n] |= mask
	} else {
		b.data[n] &^= mask
	}
	return nil
}

// EncodeList returns the encodedList of b: "u" (the multibase prefix of base64url without
// padding) followed by base64url of the GZIP-compressed bitstring, at the best compression level
// with an empty GZIP header (no name, no modification time), so the output is deterministic.
func (b *Bitstring) EncodeList() (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(b.data); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return "u" + b64.EncodeToString(buf.Bytes()), nil
}

// DecodeList parses an encodedList: "u", then canonical base64url of exactly one GZIP member with
// nothing after it, which inflates to at least MinBitstringEntries/8 bytes (ErrMalformed
// otherwise). maxEntries bounds the bitstring: inflation stops, through an io.LimitReader, as
// soon as it would exceed maxEntries/8 bytes, and the error wraps ErrTooLarge.
func DecodeList(s string, maxEntries int) (*Bitstring, error) {
	if maxEntries <= 0 {
		return nil, fmt.Errorf("%w: limit of %d entries", ErrTooLarge, maxEntries)
	}
	rest, ok := strings.CutPrefix(s, "u")
	if !ok {
		return nil, fmt.Errorf("%w: encodedList does not start with the multibase prefix \"u\"", ErrMalformed)
	}
	compressed, err := decodeB64(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: encodedList: %v", ErrMalformed, err)
	}
	r := bytes.NewReader(compressed)
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: encodedList: %v", ErrMalformed, err)
	}
	zr.Multistream(false)
	data, err := inflate(zr, r, (maxEntries+7)/8, "encodedList")
	if err != nil {
		return nil, err
	}
	if len(data)*8 < MinBitstringEntries {
		return nil, fmt.Errorf("%w: encodedList holds %d entries, fewer than %d", ErrMalformed, len(data)*8, MinBitstringEntries)
	}
	return &Bitstring{data: data}, nil
}

// BitstringCredential returns the unsigned VCDM 2.0 BitstringStatusListCredential for b: @context
// [CredentialsV2Context], id, type [VerifiableCredential, BitstringStatusListCredential], issuer,
// validFrom (RFC 3339, UTC, whole seconds) and a credentialSubject {id: id+"#list", type
// BitstringStatusList, statusPurpose: purpose, encodedList}. purpose must be PurposeRevocation,
// PurposeSuspension or PurposeRefresh, and id and issuer must not be empty; otherwise the error
// wraps ErrMalformed. The id is the URL the signed credential is served at.
func BitstringCredential(id, issuer, purpose string, validFrom time.Time, b *Bitstring) (map[string]any, error) {
	if id == "" || issuer == "" {
		return nil, fmt.Errorf("%w: empty id or issuer", ErrMalformed)
	}
	if !validPurpose(purpose) {
		return nil, fmt.Errorf("%w: unsupported statusPurpose %q", ErrMalformed, purpose)
	}
	list, err := b.EncodeList()
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"@context":  []any{CredentialsV2Context},
		"id":        id,
		"type":      []any{"VerifiableCredential", "BitstringStatusListCredential"},
		"issuer":    issuer,
		"validFrom": validFrom.UTC().Truncate(time.Second).Format(time.RFC3339),
		"credentialSubject": map[string]any{
			"id":            id + "#list",
			"type":          "BitstringStatusList",
			"statusPurpose": purpose,
			"encodedList":   list,
		},
	}, nil
}

// NewCredentialSigner returns a signer for VCDM 2.0 credentials secured with JOSE: key must be an
// Ed25519 private key with algorithm EdDSA or a P-256 private key with ES256; the header gets typ
// "vc+jwt", cty "vc" and, if kid is not "", that kid. Another algorithm gives an error wrapping
// ErrSignature; a key that does not suit the algorithm, go-jose's error.
func NewCredentialSigner(key jose.SigningKey, kid string) (jose.Signer, error) {
	return newSigner(key, kid, CredentialType, CredentialContentType)
}

// SignBitstringCredential secures cred (from BitstringCredential) as VC-JOSE-COSE does: a compact
// JWS whose payload is the credential's JSON (members sorted, so Ed25519 output is deterministic).
// signer must write typ "vc+jwt" and cty "vc" (NewCredentialSigner builds one); otherwise the
// error wraps ErrMalformed.
func SignBitstringCredential(cred map[string]any, signer jose.Signer) (string, error) {
	if typ := signerType(signer); typ != CredentialType {
		return "", fmt.Errorf("%w: signer writes typ %q, want %q", ErrMalformed, typ, CredentialType)
	}
	if cty := signerContentType(signer); cty != CredentialContentType {
		return "", fmt.Errorf("%w: signer writes cty %q, want %q", ErrMalformed, cty, CredentialContentType)
	}
	return sign(cred, signer)
}

// VerifyBitstringCredential verifies a BitstringStatusListCredential secured as a JWS with key
// (as for VerifyToken) and returns its bitstring, statusPurpose and id.
//
// The header must be strict JSON with typ "vc+jwt" (or "application/vc+jwt"), cty "vc" if present,
// no crit or b64, an alg in Algs matching key, and a valid signature (ErrSignature). The payload
// must be a strict JSON object whose @context starts with CredentialsV2Context, whose type holds
// VerifiableCredential and BitstringStatusListCredential, with a non-empty id and one
// credentialSubject object of type BitstringStatusList with a supported statusPurpose, no
// statusSize other than 1, and an encodedList that DecodeList(…, maxEntries) accepts
// (ErrMalformed, ErrTooLarge). validFrom and validUntil, and the JWT claims nbf and exp, must hold
// at now (ErrNotYetValid, ErrExpired). The caller must check the issuer.
func VerifyBitstringCredential(jws string, key any, now time.Time, maxEntries int) (b *Bitstring, purpose, id string, err error) {
	if maxEntries <= 0 || maxEntries > math.MaxInt/2 {
		return nil, "", "", fmt.Errorf("%w: limit of %d entries", ErrTooLarge, maxEntries)
	}
	header, payload, err := verifyJWS(jws, key, maxTokenLen((maxEntries+7)/8), CredentialType)
	if err != nil {
		return nil, "", "", err
	}
	if v, ok := header["cty"]; ok {
		if cty, _ := v.(string); !strings.EqualFold(cty, CredentialContentType) && !strings.EqualFold(cty, "application/"+CredentialContentType) {
			return nil, "", "", fmt.Errorf("%w: cty is %v, want %q", ErrSignature, v, CredentialContentType)
		}
	}
	cred, err := decodeObject(payload, "credential")
	if err != nil {
		return nil, "", "", err
	}
	if ctx, _ := cred["@context"].([]any); len(ctx) == 0 || ctx[0] != CredentialsV2Context {
		return nil, "", "", fmt.Errorf("%w: @context does not start with %q", ErrMalformed, CredentialsV2Context)
	}
	types, _ := cred["type"].([]any)
	if !slices.Contains(types, any("VerifiableCredential")) || !slices.Contains(types, any("BitstringStatusListCredential")) {
		return nil, "", "", fmt.Errorf("%w: type is not a BitstringStatusListCredential", ErrMalformed)
	}
	if id, _ = cred["id"].(string); id == "" {
		return nil, "", "", fmt.Errorf("%w: no id", ErrMalformed)
	}
	if err := checkValidityPeriod(cred, now); err != nil {
		return nil, "", "", err
	}
	if _, err := checkValidity(cred, now); err != nil {
		return nil, "", "", err
	}
	subject, ok := cred["credentialSubject"].(map[string]any)
	if !ok {
		return nil, "", "", fmt.Errorf("%w: credentialSubject is not one object", ErrMalformed)
	}
	if subject["type"] != "BitstringStatusList" {
		return nil, "", "", fmt.Errorf("%w: credentialSubject.type is %v, want BitstringStatusList", ErrMalformed, subject["type"])
	}
	if purpose, _ = subject["statusPurpose"].(string); !validPurpose(purpose) {
		return nil, "", "", fmt.Errorf("%w: unsupported statusPurpose %v", ErrMalformed, subject["statusPurpose"])
	}
	if v, ok := subject["statusSize"]; ok {
		if n, err := intValue(v); err != nil || n != 1 {
			return nil, "", "", fmt.Errorf("%w: statusSize %v is not supported", ErrMalformed, v)
		}
	}
	list, ok := subject["encodedList"].(string)
	if !ok {
		return nil, "", "", fmt.Errorf("%w: encodedList is not a string", ErrMalformed)
	}
	if b, err = DecodeList(list, maxEntries); err != nil {
		return nil, "", "", err
	}
	return b, purpose, id, nil
}

// checkValidityPeriod applies the optional VCDM 2.0 validFrom and validUntil of cred at now.
func checkValidityPeriod(cred map[string]any, now time.Time) error {
	for _, name := range []string{"validFrom", "validUntil"} {
		v, ok := cred[name]
		if !ok {
			continue
		}
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("%w: %s is not an RFC 3339 date-time", ErrMalformed, name)
		}
		if name == "validFrom" && now.Before(t) {
			return fmt.Errorf("%w: validFrom %s is after %s", ErrNotYetValid, s, now.UTC().Format(time.RFC3339))
		}
		if name == "validUntil" && !now.Before(t) {
			return fmt.Errorf("%w: validUntil %s is not after %s", ErrExpired, s, now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// BitstringEntry returns the credentialStatus entry a W3C credential carries to point at entry
// idx of the list credential at listCredential: {id: listCredential+"#"+idx, type
// BitstringStatusListEntry, statusPurpose, statusListIndex (a decimal string), statusListCredential}.
func BitstringEntry(listCredential string, idx int, purpose string) map[string]any {
	i := strconv.Itoa(idx)
	return map[string]any{
		"id":                   listCredential + "#" + i,
		"type":                 "BitstringStatusListEntry",
		"statusPurpose":        purpose,
		"statusListIndex":      i,
		"statusListCredential": listCredential,
	}
}

// ParseBitstringEntry reads a BitstringStatusListEntry, as decoded by encoding/json, and returns
// its statusListCredential, index and statusPurpose. type must be BitstringStatusListEntry,
// statusPurpose supported, statusListIndex a canonical non-negative decimal string (no sign, no
// leading zeros), statusListCredential non-empty, and statusSize absent or 1. Errors wrap
// ErrMalformed.
func ParseBitstringEntry(v any) (listCredential string, idx int, purpose string, err error) {
	e, ok := v.(map[string]any)
	if !ok {
		return "", 0, "", fmt.Errorf("%w: status entry is not an object", ErrMalformed)
	}
	if e["type"] != "BitstringStatusListEntry" {
		return "", 0, "", fmt.Errorf("%w: type is %v, want BitstringStatusListEntry", ErrMalformed, e["type"])
	}
	if purpose, _ = e["statusPurpose"].(string); !validPurpose(purpose) {
		return "", 0, "", fmt.Errorf("%w: unsupported statusPurpose %v", ErrMalformed, e["statusPurpose"])
	}
	s, _ := e["statusListIndex"].(string)
	idx, err = strconv.Atoi(s)
	if err != nil || idx < 0 || strconv.Itoa(idx) != s {
		return "", 0, "", fmt.Errorf("%w: statusListIndex %v is not a canonical non-negative integer string", ErrMalformed, e["statusListIndex"])
	}
	if listCredential, _ = e["statusListCredential"].(string); listCredential == "" {
		return "", 0, "", fmt.Errorf("%w: statusListCredential is not a non-empty string", ErrMalformed)
	}
	if sz, ok := e["statusSize"]; ok {
		if n, err := intValue(sz); err != nil || n != 1 {
			return "", 0, "", fmt.Errorf("%w: statusSize %v is not supported", ErrMalformed, sz)
		}
	}
	return listCredential, idx, purpose, nil
}
