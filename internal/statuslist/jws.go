package statuslist

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/strictjson"
)

// Algs is the allow-list of JWS algorithms this package signs with and accepts: EdDSA (Ed25519)
// and ES256 (P-256). MAC algorithms and "none" are never accepted, as the draft requires.
var Algs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// maxDepth is the deepest nesting of JSON objects and arrays accepted in a header or payload.
const maxDepth = 32

// signerType returns the typ header that signer will write, or "".
func signerType(signer jose.Signer) string {
	if signer == nil {
		return ""
	}
	switch v := signer.Options().ExtraHeaders[jose.HeaderType].(type) {
	case string:
		return v
	case jose.ContentType:
		return string(v)
	}
	return ""
}

// signerContentType returns the cty header that signer will write, or "".
func signerContentType(signer jose.Signer) string {
	switch v := signer.Options().ExtraHeaders[jose.HeaderContentType].(type) {
	case string:
		return v
	case jose.ContentType:
		return string(v)
	}
	return ""
}

// sign serializes payload (with encoding/json, so map keys come out sorted and the bytes are
// deterministic) and signs it in JWS compact serialization.
func sign(payload any, signer jose.Signer) (string, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("encoding payload: %w", err)
	}
	obj, err := signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return obj.CompactSerialize()
}

// verificationKey checks that key is a public key of an allowed kind and returns it with the one
// algorithm it may be used with.
func verificationKey(key any) (any, jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, "", errors.New("bad Ed25519 public key length")
		}
		return k, jose.EdDSA, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, "", errors.New("ECDSA key must be on P-256")
		}
		return k, jose.ES256, nil
	case jose.JSONWebKey:
		if !k.IsPublic() {
			return nil, "", errors.New("JWK is not a public key")
		}
		return verificationKey(k.Key)
	case *jose.JSONWebKey:
		if k == nil {
			return nil, "", errors.New("nil JWK")
		}
		return verificationKey(*k)
	}
	return nil, "", fmt.Errorf("unsupported key type %T", key)
}

// verifyJWS checks the compact JWS tok: at most maxLen bytes (ErrTooLarge), a header that is a
// strict JSON object without "crit" or "b64", a typ in types, an algorithm in Algs that matches
// key, and a valid signature. It returns the decoded header and the verified payload. Errors
// wrap ErrTooLarge, ErrMalformed or ErrSignature.
func verifyJWS(tok string, key any, maxLen int, types ...string) (map[string]any, []byte, error) {
	if len(tok) > maxLen {
		return nil, nil, fmt.Errorf("%w: token of %d bytes, limit %d", ErrTooLarge, len(tok), maxLen)
	}
	pub, keyAlg, err := verificationKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: JWS has %d parts, want 3", ErrMalformed, len(parts))
	}
	for i, p := range parts {
		if _, err := decodeB64(p); err != nil {
			return nil, nil, fmt.Errorf("%w: JWS part %d: %v", ErrMalformed, i+1, err)
		}
	}
	rawHeader, _ := decodeB64(parts[0])
	header, err := decodeObject(rawHeader, "JWS header")
	if err != nil {
		return nil, nil, err
	}
	for _, h := range []string{"crit", "b64"} {
		if _, ok := header[h]; ok {
			return nil, nil, fmt.Errorf("%w: header parameter %q is not supported", ErrSignature, h)
		}
	}
	typ, _ := header["typ"].(string)
	okType := false
	for _, t := range types {
		// RFC 7515 section 4.1.9: "application/" may be omitted, and media types are
		// case-insensitive.
		if strings.EqualFold(typ, t) || strings.EqualFold(typ, "application/"+t) {
			okType = true
		}
	}
	if !okType {
		return nil, nil, fmt.Errorf("%w: typ is %q, want %q", ErrSignature, typ, types[0])
	}
	alg, _ := header["alg"].(string)
	if alg != string(keyAlg) {
		return nil, nil, fmt.Errorf("%w: alg is %q, the key needs %q", ErrSignature, alg, keyAlg)
	}
	obj, err := jose.ParseSignedCompact(tok, Algs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return header, payload, nil
}

// decodeObject decodes data as one strict JSON object with strictjson.Decode: valid UTF-8 and
// JSON, nothing after the value, no repeated member names (encoding/json keeps the last,
// another parser may keep the first), nesting at most maxDepth. A syntax error anywhere is
// reported first, and a value other than an object last. Numbers stay json.Number. Errors wrap
// ErrMalformed.
func decodeObject(data []byte, what string) (map[string]any, error) {
	v, err := strictjson.Decode(data, strictjson.Options{MaxDepth: maxDepth, SyntaxFirst: true})
	var e *strictjson.Error
	switch {
	case err == nil:
	case errors.As(err, &e) && e.Kind == strictjson.Depth:
		return nil, fmt.Errorf("%w: %s: nested deeper than %d", ErrMalformed, what, maxDepth)
	case e != nil && e.Kind == strictjson.Duplicate:
		return nil, fmt.Errorf("%w: %s: member %q appears twice", ErrMalformed, what, e.Name)
	default:
		return nil, fmt.Errorf("%w: %s is not valid JSON", ErrMalformed, what)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, what)
	}
	return m, nil
}

// numericDate reads the optional NumericDate claim name of claims. ok is false if it is absent.
func numericDate(claims map[string]any, name string) (t time.Time, ok bool, err error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a number", ErrMalformed, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a valid NumericDate", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// checkValidity applies the optional exp and nbf claims of claims at now: ErrExpired once
// now >= exp, ErrNotYetValid while now < nbf.
func checkValidity(claims map[string]any, now time.Time) (exp time.Time, err error) {
	exp, hasExp, err := numericDate(claims, "exp")
	if err != nil {
		return time.Time{}, err
	}
	if hasExp && !now.Before(exp) {
		return time.Time{}, fmt.Errorf("%w: exp %s is not after %s", ErrExpired, exp.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	nbf, hasNbf, err := numericDate(claims, "nbf")
	if err != nil {
		return time.Time{}, err
	}
	if hasNbf && now.Before(nbf) {
		return time.Time{}, fmt.Errorf("%w: nbf %s is after %s", ErrNotYetValid, nbf.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return exp, nil
}

// maxTokenLen is the longest JWS that can carry a list of at most maxBytes uncompressed bytes:
// DEFLATE can grow incompressible data by a little, and the lst or encodedList is base64url inside
// a base64url payload (4/3 squared, under 2), plus room for the other claims and the signature.
func maxTokenLen(maxBytes int) int {
	if maxBytes > (math.MaxInt-(1<<16))/2 {
		return math.MaxInt
	}
	return 2*(maxBytes+maxBytes/1000+64) + 1<<16
}
