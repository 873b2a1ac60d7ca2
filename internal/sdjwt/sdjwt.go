// Package sdjwt issues, presents and verifies Selective Disclosure JWTs (SD-JWT, RFC 9901) in
// the compact serialization, as used for SD-JWT VC credentials ("dc+sd-jwt") in the ezheng
// wallet: an issuer hides chosen top-level claims behind salted SHA-256 digests, the holder
// reveals only the claims a verifier needs and proves possession of its key with a Key Binding
// JWT ("kb+jwt"), and the verifier checks the issuer signature, every disclosure and the key
// binding.
//
// Scope: selective disclosure of top-level object claims only. Nested "_sd" objects, recursive
// disclosures and array-element disclosures ("..." entries, two-element disclosures) are
// rejected as unsupported rather than silently passed through. The hash algorithm is sha-256,
// the signature algorithms are EdDSA (Ed25519) and ES256 (P-256) (see Algs), and all
// cryptography is done by go-jose v4 and the standard library.
//
// Parsing is strict: the whole input is limited to MaxSize bytes and MaxDisclosures
// disclosures, every base64url part must be canonical, and every JSON text must be valid UTF-8,
// free of repeated member names and nested at most 32 deep. Numbers are decoded as json.Number
// so that large integers survive a round trip unchanged.
//
// A verifier calls Parse, then VerifyIssuer with the issuer's key, then (when its policy requires
// key binding, whether or not the holder sent a KB-JWT) HolderKey and VerifyKeyBinding. Each
// failed check returns an error wrapping exactly one of the sentinel errors below, so the caller
// can tell which check failed with errors.Is. VerifyIssuer does not check time-based validity
// claims (exp, nbf, iat) of the issuer JWT nor who the issuer is; the caller must.
package sdjwt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Sentinel errors, one per failed check. Errors returned by this package wrap one of them with
// %w and a specific reason.
var (
	// ErrSyntax means the input is not an SD-JWT at all or is structurally broken: bad
	// separators, non-canonical base64url, invalid or duplicate-keyed JSON, a malformed
	// disclosure or holder key.
	ErrSyntax = errors.New("sdjwt: malformed")
	// ErrTooLarge means the input exceeds MaxSize, holds more than MaxDisclosures disclosures,
	// or nests JSON too deep.
	ErrTooLarge = errors.New("sdjwt: too large")
	// ErrSignature means the issuer JWS is not acceptable: a disallowed algorithm (none, HS256,
	// anything not in Algs), a wrong or unsupported key, a bad signature, an unsupported
	// critical header or a typ that is not an SD-JWT type.
	ErrSignature = errors.New("sdjwt: issuer signature invalid")
	// ErrDisclosure means a disclosure is not covered by the issuer signature or breaks the
	// processing rules: its digest is not in "_sd", it is repeated, it uses a reserved or
	// non-disclosable claim name, it would override a plain claim, or the payload uses
	// features this package does not support ("_sd_alg" other than sha-256, nested "_sd").
	ErrDisclosure = errors.New("sdjwt: disclosure not covered by issuer signature")
	// ErrKeyBinding means the KB-JWT is missing or invalid: wrong typ, disallowed algorithm,
	// bad signature, sd_hash mismatch, aud or nonce mismatch, or iat too old or in the future.
	ErrKeyBinding = errors.New("sdjwt: key binding invalid")
)

// MaxSize is the largest SD-JWT or presentation, in bytes, that Parse accepts and that Issue
// and Present produce.
const MaxSize = 64 << 10

// MaxDisclosures is the largest number of disclosures in one SD-JWT.
const MaxDisclosures = 256

// Header "typ" values.
const (
	// TypeSDJWTVC is the typ of an issuer-signed SD-JWT VC (draft-ietf-oauth-sd-jwt-vc).
	TypeSDJWTVC = "dc+sd-jwt"
	// TypeSDJWTVCLegacy is the typ earlier SD-JWT VC drafts used; VerifyIssuer accepts it.
	TypeSDJWTVCLegacy = "vc+sd-jwt"
	// TypeKB is the typ of a Key Binding JWT (RFC 9901 section 4.3).
	TypeKB = "kb+jwt"
)

// Algs is the allow-list of JWS algorithms used everywhere in this package, for the issuer JWT
// and the KB-JWT alike: EdDSA (Ed25519) and ES256 (P-256). Callers must not modify it.
var Algs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// Claim names with a fixed meaning.
const (
	sdKey       = "_sd"
	sdAlgKey    = "_sd_alg"
	ellipsisKey = "..."
	sdAlg       = "sha-256"
)

// reserved holds the claim names that must never be selectively disclosable: the SD-JWT
// structural names (RFC 9901 section 4.2.1) and the claims SD-JWT VC requires in the clear
// (draft-ietf-oauth-sd-jwt-vc section 3.2.2.2: iss, nbf, exp, cnf, vct, vct#integrity, status).
// iat and sub may be selectively disclosed under SD-JWT VC and are not listed.
var reserved = map[string]bool{
	sdKey: true, sdAlgKey: true, ellipsisKey: true,
	"iss": true, "nbf": true, "exp": true, "cnf": true, "vct": true, "vct#integrity": true, "status": true,
}

// Disclosure is one selectively disclosable claim as it travels in an SD-JWT.
type Disclosure struct {
	// Encoded is the base64url (no padding) encoding of the JSON array [salt, name, value],
	// exactly as it appears in the token. The digest is computed over this string.
	Encoded string
	// Salt is the disclosure's salt.
	Salt string
	// Name is the claim name.
	Name string
	// Value is the claim value as decoded JSON: string, bool, nil, json.Number (numbers are
	// kept as json.Number so that they round-trip exactly), []any or map[string]any.
	Value any
	// Digest is base64url(SHA-256(Encoded)), the value the issuer put in "_sd".
	Digest string
}

// SDJWT is a parsed SD-JWT or SD-JWT+KB (a presentation with a Key Binding JWT), checked for
// syntax only: nothing in it is authenticated until VerifyIssuer and VerifyKeyBinding succeed.
//
// The verify methods work from IssuerJWT, Disclosures[i].Encoded and KeyBinding, never from
// the exported decoded fields, which are for display and routing only: for the strings Parse
// read they use the private copy Parse decoded alongside (so nothing is decoded twice), and
// they decode any other string anew. Methods do not modify the value; it is safe for
// concurrent use as long as nobody modifies it.
type SDJWT struct {
	// IssuerJWT is the issuer-signed JWT in JWS compact serialization.
	IssuerJWT string
	// Header is the decoded protected header of IssuerJWT.
	Header map[string]any
	// Payload is the decoded, unverified payload of IssuerJWT. Do not trust it before
	// VerifyIssuer succeeds; use the claims VerifyIssuer returns instead.
	Payload map[string]any
	// Disclosures are the disclosures in the order they appear in the token.
	Disclosures []Disclosure
	// KeyBinding is the Key Binding JWT in compact serialization, "" if absent.
	KeyBinding string

	own *decoded // what Parse decoded, beyond the reach of callers
}

// decoded is Parse's own copy of what it decoded, with the strings it decoded them from.
type decoded struct {
	issuerJWT          string
	header, payload    map[string]any
	disclosures        []Disclosure
	keyBinding         string
	kbHeader, kbClaims map[string]any
}

// Parse splits and decodes s, an SD-JWT ("<jws>~<d1>~...~<dN>~") or SD-JWT+KB
// ("<jws>~<d1>~...~<dN>~<kb-jwt>"), checking syntax only: the size limits, three canonical
// base64url parts in each JWT (the signature part may be empty, so that an unsigned "none"
// token reaches VerifyIssuer and is reported as ErrSignature), a protected header that is a JSON
// object with a string "alg", a payload that is a JSON object, no repeated JSON member names,
// no JSON nested deeper than 32, and disclosures that are non-empty canonical base64url of a
// JSON array [salt string, name string, value]. Two-element array-element disclosures are
// rejected as unsupported.
//
// Errors wrap ErrTooLarge (input over MaxSize, more than MaxDisclosures disclosures, JSON too
// deep) or ErrSyntax, with the reason. Parse does no cryptography and is safe for concurrent use.
func Parse(s string) (*SDJWT, error) {
	if len(s) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(s), MaxSize)
	}
	n := strings.Count(s, "~")
	if n == 0 {
		return nil, fmt.Errorf("%w: no '~' separator: not an SD-JWT", ErrSyntax)
	}
	if n-1 > MaxDisclosures {
		return nil, fmt.Errorf("%w: %d disclosures, limit %d", ErrTooLarge, n-1, MaxDisclosures)
	}
	parts := strings.Split(s, "~")
	sd := &SDJWT{IssuerJWT: parts[0], KeyBinding: parts[len(parts)-1]}

	var err error
	sd.Header, sd.Payload, err = parseJWT(sd.IssuerJWT, "issuer JWT")
	if err != nil {
		return nil, err
	}
	if typ, ok := sd.Header["typ"]; ok {
		if _, ok := typ.(string); !ok {
			return nil, fmt.Errorf("%w: issuer JWT header: typ is not a string", ErrSyntax)
		}
	}

	enc := parts[1 : len(parts)-1]
	if len(enc) > 0 {
		sd.Disclosures = make([]Disclosure, 0, len(enc))
	}
	for i, e := range enc {
		d, err := parseDisclosure(e, i)
		if err != nil {
			return nil, err
		}
		sd.Disclosures = append(sd.Disclosures, d)
	}

	own := &decoded{issuerJWT: sd.IssuerJWT, header: cloneJSON(sd.Header).(map[string]any), payload: cloneJSON(sd.Payload).(map[string]any),
		keyBinding: sd.KeyBinding}
	for _, d := range sd.Disclosures {
		d.Value = cloneJSON(d.Value)
		own.disclosures = append(own.disclosures, d)
	}
	if sd.KeyBinding != "" {
		if own.kbHeader, own.kbClaims, err = parseJWT(sd.KeyBinding, "KB-JWT"); err != nil {
			return nil, err
		}
	}
	sd.own = own
	return sd, nil
}

// cloneJSON deep-copies a decoded JSON value (maps and slices; the rest is immutable).
func cloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, e := range t {
			c[k] = cloneJSON(e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = cloneJSON(e)
		}
		return c
	}
	return v
}

// parseJWT splits a compact JWS and decodes its protected header and payload, both of which must
// be JSON objects; the header must name an algorithm. The signature must be canonical base64url
// but may be empty. what names the token in error messages.
func parseJWT(tok, what string) (header, payload map[string]any, err error) {
	h, p, err := splitJWT(tok, what)
	if err != nil {
		return nil, nil, err
	}
	header, err = decodeHeader(h, what)
	if err != nil {
		return nil, nil, err
	}
	pb, err := decodeB64(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s payload: %v", ErrSyntax, what, err)
	}
	payload, err = decodeObject(pb, what+" payload")
	if err != nil {
		return nil, nil, err
	}
	return header, payload, nil
}

// splitJWT splits a compact JWS into its encoded header and payload, checking that there are
// three parts, that header and payload are not empty, and that the signature is canonical
// base64url (possibly empty).
func splitJWT(tok, what string) (header, payload string, err error) {
	h, rest, ok1 := strings.Cut(tok, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return "", "", fmt.Errorf("%w: %s: not a compact JWS (want three '.'-separated parts)", ErrSyntax, what)
	}
	if h == "" || p == "" {
		return "", "", fmt.Errorf("%w: %s: empty header or payload", ErrSyntax, what)
	}
	if _, err := decodeB64(sig); err != nil {
		return "", "", fmt.Errorf("%w: %s signature: %v", ErrSyntax, what, err)
	}
	return h, p, nil
}

// decodeHeader decodes the encoded protected header h of a JWS, which must be a JSON object
// with a non-empty "alg" string.
func decodeHeader(h, what string) (map[string]any, error) {
	hb, err := decodeB64(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrSyntax, what, err)
	}
	header, err := decodeObject(hb, what+" header")
	if err != nil {
		return nil, err
	}
	if alg, ok := header["alg"].(string); !ok || alg == "" {
		return nil, fmt.Errorf("%w: %s header: no \"alg\" string", ErrSyntax, what)
	}
	return header, nil
}

// jwsHeader checks the syntax of the compact JWS tok and returns its decoded protected
// header, leaving the payload to be decoded once its signature has been verified.
func jwsHeader(tok, what string) (map[string]any, error) {
	h, p, err := splitJWT(tok, what)
	if err != nil {
		return nil, err
	}
	if _, err := decodeB64(p); err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrSyntax, what, err)
	}
	return decodeHeader(h, what)
}

// parseDisclosure decodes the i-th (0-based) disclosure string e.
func parseDisclosure(e string, i int) (Disclosure, error) {
	what := fmt.Sprintf("disclosure %d", i+1)
	if e == "" {
		return Disclosure{}, fmt.Errorf("%w: %s is empty", ErrSyntax, what)
	}
	raw, err := decodeB64(e)
	if err != nil {
		return Disclosure{}, fmt.Errorf("%w: %s: %v", ErrSyntax, what, err)
	}
	v, err := decodeJSON(raw, what)
	if err != nil {
		return Disclosure{}, err
	}
	arr, ok := v.([]any)
	if !ok {
		return Disclosure{}, fmt.Errorf("%w: %s is not a JSON array", ErrSyntax, what)
	}
	switch len(arr) {
	case 3:
	case 2:
		return Disclosure{}, fmt.Errorf("%w: %s is an array-element disclosure, which is not supported", ErrSyntax, what)
	default:
		return Disclosure{}, fmt.Errorf("%w: %s has %d elements, want 3 [salt, name, value]", ErrSyntax, what, len(arr))
	}
	salt, ok := arr[0].(string)
	if !ok {
		return Disclosure{}, fmt.Errorf("%w: %s: salt is not a string", ErrSyntax, what)
	}
	name, ok := arr[1].(string)
	if !ok {
		return Disclosure{}, fmt.Errorf("%w: %s: claim name is not a string", ErrSyntax, what)
	}
	return Disclosure{Encoded: e, Salt: salt, Name: name, Value: arr[2], Digest: digest(e)}, nil
}

// Encode returns the compact serialization of s: IssuerJWT, "~", each disclosure's Encoded
// followed by "~", then KeyBinding (possibly empty). For a value returned by Parse it is exactly
// the parsed input.
func (s *SDJWT) Encode() string {
	return s.sdPart() + s.KeyBinding
}

// sdPart returns the SD-JWT without the KB-JWT, ending in "~": the input of sd_hash.
func (s *SDJWT) sdPart() string {
	var b strings.Builder
	n := len(s.IssuerJWT) + 1 + len(s.KeyBinding)
	for _, d := range s.Disclosures {
		n += len(d.Encoded) + 1
	}
	b.Grow(n)
	b.WriteString(s.IssuerJWT)
	b.WriteByte('~')
	for _, d := range s.Disclosures {
		b.WriteString(d.Encoded)
		b.WriteByte('~')
	}
	return b.String()
}

// SDHash returns base64url(SHA-256(s)). Given the part of a presentation up to and including the
// last '~' before the KB-JWT, it is the KB-JWT's sd_hash; given a disclosure string, it is the
// disclosure's digest.
func SDHash(s string) string {
	return digest(s)
}

// AnchoredForm returns the bytes ezheng anchors for a credential: for an SD-JWT (with or
// without disclosures and key binding) its issuer-signed JWT, which commits to the digest of
// every disclosure, so the credential as issued and every presentation of it, whatever
// disclosures it keeps, share one anchor; for any other text (no '~'), the text itself.
func AnchoredForm(s string) []byte {
	if i := strings.IndexByte(s, '~'); i >= 0 {
		return []byte(s[:i])
	}
	return []byte(s)
}

// AnchorDigest returns the lower-case hex SHA-256 of AnchoredForm(s): the digest by which an
// issuer anchors a credential and a wallet asks for its receipt.
func AnchorDigest(s string) string {
	sum := sha256.Sum256(AnchoredForm(s))
	return hex.EncodeToString(sum[:])
}
