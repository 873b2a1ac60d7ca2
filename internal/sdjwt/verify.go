package sdjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// VerifyIssuer verifies the issuer JWS with key and processes the disclosures, returning the
// processed claims: the verified payload without "_sd" and "_sd_alg", plus one claim per
// disclosure. key is the issuer's public key: an ed25519.PublicKey, a P-256 *ecdsa.PublicKey,
// or a jose.JSONWebKey or *jose.JSONWebKey holding one of those.
//
// The JWS must use an algorithm in Algs that matches the key (so "none", HS256 and the like
// fail), carry typ TypeSDJWTVC or TypeSDJWTVCLegacy, have no "crit" or "b64" header, and verify.
// Then "_sd_alg" must be absent or "sha-256", "_sd" must be absent or an array of distinct
// strings, and the payload must not use nested or array-element selective disclosure. Each
// disclosure's digest must appear in "_sd", no two disclosures may share a digest or a claim
// name, and no disclosure may use a reserved name (see Issue) or a name the payload already has
// in the clear.
//
// VerifyIssuer does not look at exp, nbf, iat or iss: the caller must check the returned claims
// against its clock and its list of trusted issuers. Errors wrap ErrSignature or ErrDisclosure
// (naming the disclosure's claim where known). It does not modify s and is safe for concurrent
// use.
func (s *SDJWT) VerifyIssuer(key any) (map[string]any, error) {
	pub, keyAlg, err := verificationKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	own := s.own != nil && s.own.issuerJWT == s.IssuerJWT // Parse decoded this very string
	var header map[string]any
	if own {
		header = s.own.header
	} else if header, err = jwsHeader(s.IssuerJWT, "issuer JWT"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if typ, _ := header["typ"].(string); typ != TypeSDJWTVC && typ != TypeSDJWTVCLegacy {
		return nil, fmt.Errorf("%w: typ is %q, want %q", ErrSignature, typ, TypeSDJWTVC)
	}
	body, err := verifyJWS(s.IssuerJWT, header, pub, keyAlg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	var payload map[string]any
	if own {
		payload = cloneJSON(s.own.payload).(map[string]any) // the caller gets claims of its own
	} else if payload, err = decodeObject(body, "issuer JWT payload"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}

	if v, ok := payload[sdAlgKey]; ok && v != sdAlg {
		return nil, fmt.Errorf("%w: unsupported _sd_alg %v, want %q", ErrDisclosure, v, sdAlg)
	}
	// The issuer's digests, each of which may be used by at most one disclosure.
	signed := map[string]bool{}
	if v, ok := payload[sdKey]; ok {
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: _sd is not an array", ErrDisclosure)
		}
		for _, e := range arr {
			d, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: _sd holds a non-string", ErrDisclosure)
			}
			if signed[d] {
				return nil, fmt.Errorf("%w: digest %s appears more than once in _sd", ErrDisclosure, d)
			}
			signed[d] = true
		}
	}
	delete(payload, sdKey)
	delete(payload, sdAlgKey)
	if p := sdKeyPath(payload, ""); p != "" {
		return nil, fmt.Errorf("%w: payload has %q: nested or array-element selective disclosure is not supported", ErrDisclosure, p[1:])
	}

	used := make(map[string]bool, len(s.Disclosures))      // digests
	disclosed := make(map[string]bool, len(s.Disclosures)) // claim names
	for i, d := range s.Disclosures {
		// Work from the encoded string only, never from the decoded fields a caller could change.
		if s.own != nil && i < len(s.own.disclosures) && s.own.disclosures[i].Encoded == d.Encoded {
			d = s.own.disclosures[i]
			d.Value = cloneJSON(d.Value)
		} else if d, err = parseDisclosure(d.Encoded, i); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDisclosure, err)
		}
		switch {
		case used[d.Digest]:
			return nil, fmt.Errorf("%w: claim %q: disclosure %d repeats an earlier disclosure", ErrDisclosure, d.Name, i+1)
		case !signed[d.Digest]:
			return nil, fmt.Errorf("%w: claim %q: digest of disclosure %d is not in the issuer's _sd", ErrDisclosure, d.Name, i+1)
		case reserved[d.Name]:
			return nil, fmt.Errorf("%w: claim %q: name must not be selectively disclosed", ErrDisclosure, d.Name)
		case disclosed[d.Name]:
			return nil, fmt.Errorf("%w: claim %q: disclosed by two different disclosures", ErrDisclosure, d.Name)
		}
		if _, clash := payload[d.Name]; clash {
			return nil, fmt.Errorf("%w: claim %q: disclosure would override a plain claim", ErrDisclosure, d.Name)
		}
		if p := sdKeyPath(d.Value, d.Name); p != "" {
			return nil, fmt.Errorf("%w: claim %q: value has %q: recursive disclosure is not supported", ErrDisclosure, d.Name, p)
		}
		used[d.Digest] = true
		disclosed[d.Name] = true
		payload[d.Name] = d.Value
	}
	return payload, nil
}

// KeyBindingOptions says what the verifier expects of the KB-JWT.
type KeyBindingOptions struct {
	// Audience is the required aud. "" accepts any aud, but aud must still be present.
	Audience string
	// Nonce is the required nonce. "" accepts any nonce, but nonce must still be present.
	Nonce string
	// Now is the verifier's current time; it must be set.
	Now time.Time
	// MaxAge is how old the KB-JWT may be: iat must lie in [Now-MaxAge-Skew, Now+Skew]. It must
	// be positive.
	MaxAge time.Duration
	// Skew is the clock difference tolerated between holder and verifier. It must not be
	// negative.
	Skew time.Duration
}

// VerifyKeyBinding checks the KB-JWT of the presentation against holderKey, the holder public key
// from the verified issuer payload (see HolderKey): a *jose.JSONWebKey or jose.JSONWebKey, an
// ed25519.PublicKey or a P-256 *ecdsa.PublicKey. The KB-JWT must be present, have typ "kb+jwt",
// no "crit" or "b64" header, an algorithm in Algs matching the key, and a valid signature; its
// iat must be a number within [opts.Now-opts.MaxAge-opts.Skew, opts.Now+opts.Skew]; exp and nbf,
// if present, must hold at opts.Now (give or take opts.Skew); aud and nonce must be non-empty
// strings equal to opts.Audience and opts.Nonce when those are set; and sd_hash must equal
// SDHash of the presentation up to and including the last '~' before the KB-JWT, rebuilt from
// IssuerJWT and Disclosures[i].Encoded.
//
// Call it after VerifyIssuer succeeded, whenever the verifier's policy requires key binding,
// whether or not the holder sent a KB-JWT. Errors wrap ErrKeyBinding with a precise reason (for
// example "kb-jwt expired: issued 75s ago, max 60s" or "sd_hash mismatch"); invalid opts give
// an error that wraps no sentinel. It does not modify s and is safe for concurrent use.
func (s *SDJWT) VerifyKeyBinding(holderKey any, opts KeyBindingOptions) error {
	if opts.Now.IsZero() || opts.MaxAge <= 0 || opts.Skew < 0 {
		return errors.New("sdjwt: KeyBindingOptions needs Now, a positive MaxAge and a non-negative Skew")
	}
	if s.KeyBinding == "" {
		return fmt.Errorf("%w: no KB-JWT in the presentation", ErrKeyBinding)
	}
	pub, keyAlg, err := verificationKey(holderKey)
	if err != nil {
		return fmt.Errorf("%w: holder key: %v", ErrKeyBinding, err)
	}
	own := s.own != nil && s.own.keyBinding == s.KeyBinding // Parse decoded this very string
	var header map[string]any
	if own {
		header = s.own.kbHeader
	} else if header, err = jwsHeader(s.KeyBinding, "KB-JWT"); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyBinding, err)
	}
	if typ, _ := header["typ"].(string); typ != TypeKB {
		return fmt.Errorf("%w: typ is %q, want %q", ErrKeyBinding, typ, TypeKB)
	}
	body, err := verifyJWS(s.KeyBinding, header, pub, keyAlg)
	if err != nil {
		return fmt.Errorf("%w: kb-jwt %v", ErrKeyBinding, err)
	}
	claims := map[string]any(nil)
	if own {
		claims = s.own.kbClaims // read only below
	} else if claims, err = decodeObject(body, "KB-JWT payload"); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyBinding, err)
	}

	iat, err := numericDate(claims, "iat", true)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyBinding, err)
	}
	if ahead := iat.Sub(opts.Now); ahead > opts.Skew {
		return fmt.Errorf("%w: kb-jwt issued in the future: iat %s ahead, max skew %s", ErrKeyBinding, seconds(ahead), seconds(opts.Skew))
	}
	if age := opts.Now.Sub(iat); age > opts.MaxAge+opts.Skew {
		return fmt.Errorf("%w: kb-jwt expired: issued %s ago, max %s", ErrKeyBinding, seconds(age), seconds(opts.MaxAge))
	}
	if exp, err := numericDate(claims, "exp", false); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyBinding, err)
	} else if !exp.IsZero() && !opts.Now.Before(exp.Add(opts.Skew)) {
		return fmt.Errorf("%w: kb-jwt expired: exp %s ago", ErrKeyBinding, seconds(opts.Now.Sub(exp)))
	}
	if nbf, err := numericDate(claims, "nbf", false); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyBinding, err)
	} else if !nbf.IsZero() && nbf.After(opts.Now.Add(opts.Skew)) {
		return fmt.Errorf("%w: kb-jwt not yet valid: nbf %s ahead", ErrKeyBinding, seconds(nbf.Sub(opts.Now)))
	}

	aud, ok := claims["aud"].(string)
	if !ok || aud == "" {
		return fmt.Errorf("%w: aud missing or not a single string", ErrKeyBinding)
	}
	if opts.Audience != "" && aud != opts.Audience {
		return fmt.Errorf("%w: aud mismatch: got %q, want %q", ErrKeyBinding, aud, opts.Audience)
	}
	nonce, ok := claims["nonce"].(string)
	if !ok || nonce == "" {
		return fmt.Errorf("%w: nonce missing or not a string", ErrKeyBinding)
	}
	if opts.Nonce != "" && subtle.ConstantTimeCompare([]byte(nonce), []byte(opts.Nonce)) != 1 {
		return fmt.Errorf("%w: nonce mismatch", ErrKeyBinding)
	}
	got, ok := claims["sd_hash"].(string)
	if !ok {
		return fmt.Errorf("%w: sd_hash missing or not a string", ErrKeyBinding)
	}
	if want := SDHash(s.sdPart()); subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: sd_hash mismatch: the KB-JWT was made for different disclosures", ErrKeyBinding)
	}
	return nil
}

// seconds formats d as whole seconds, "75s".
func seconds(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// numericDate reads a JWT NumericDate claim (RFC 7519: seconds since the epoch, possibly
// fractional). A missing claim is an error if required, else the zero time.
func numericDate(claims map[string]any, name string, required bool) (time.Time, error) {
	v, ok := claims[name]
	if !ok {
		if required {
			return time.Time{}, fmt.Errorf("%s missing", name)
		}
		return time.Time{}, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is not a number", name)
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > 1<<40 {
			return time.Time{}, fmt.Errorf("%s %d out of range", name, i)
		}
		return time.Unix(i, 0), nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, fmt.Errorf("%s %s out of range", name, n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// verifyJWS verifies the compact JWS tok, whose decoded protected header is header, with pub,
// allowing only the algorithms in Algs and only keyAlg, the one that matches the key. It returns
// the verified payload bytes.
func verifyJWS(tok string, header map[string]any, pub any, keyAlg jose.SignatureAlgorithm) ([]byte, error) {
	// go-jose honours "b64": false even without "crit", and understands "crit": ["b64"]; we
	// support neither, so that the payload is always the base64url-decoded middle part.
	for _, h := range []string{"crit", "b64"} {
		if _, ok := header[h]; ok {
			return nil, fmt.Errorf("header parameter %q is not supported", h)
		}
	}
	alg, _ := header["alg"].(string)
	if !slices.Contains(Algs, jose.SignatureAlgorithm(alg)) {
		return nil, fmt.Errorf("algorithm %q is not allowed", alg)
	}
	if jose.SignatureAlgorithm(alg) != keyAlg {
		return nil, fmt.Errorf("algorithm %s does not match the %s key", alg, keyAlg)
	}
	// The signature over the first two parts as sent, checked with the standard library as
	// go-jose would check it (its parse and re-encoding of the header cost as much as the
	// rest of verifying a presentation).
	dot := strings.LastIndexByte(tok, '.')
	input := tok[:dot]
	sig, err := decodeB64(tok[dot+1:])
	if err != nil {
		return nil, fmt.Errorf("unparseable JWS: signature: %v", err)
	}
	_, p, _ := strings.Cut(input, ".")
	body, err := decodeB64(p)
	if err != nil {
		return nil, fmt.Errorf("unparseable JWS: payload: %v", err)
	}
	ok := false
	switch k := pub.(type) {
	case ed25519.PublicKey:
		ok = keyAlg == jose.EdDSA && ed25519.Verify(k, []byte(input), sig)
	case *ecdsa.PublicKey:
		if keyAlg == jose.ES256 && len(sig) == 64 {
			h := sha256.Sum256([]byte(input))
			ok = ecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}
	}
	if !ok {
		return nil, errors.New("signature does not verify")
	}
	return body, nil
}

// verificationKey turns a caller-supplied public key into the key go-jose verifies with and the
// one algorithm in Algs that goes with it.
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
		return jwkKey(&k)
	case *jose.JSONWebKey:
		if k == nil {
			return nil, "", errors.New("nil key")
		}
		return jwkKey(k)
	case nil:
		return nil, "", errors.New("nil key")
	default:
		return nil, "", fmt.Errorf("unsupported key type %T (want an Ed25519 or P-256 public key)", key)
	}
}

// jwkKey is verificationKey for a JWK: it must hold a public key, and an "alg" it names must
// match the key.
func jwkKey(k *jose.JSONWebKey) (any, jose.SignatureAlgorithm, error) {
	if !k.IsPublic() {
		return nil, "", errors.New("JWK is not a public key")
	}
	switch k.Key.(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, "", fmt.Errorf("unsupported JWK key type %T", k.Key)
	}
	pub, alg, err := verificationKey(k.Key)
	if err != nil {
		return nil, "", err
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return nil, "", fmt.Errorf("JWK alg %q does not match its %s key", k.Algorithm, alg)
	}
	return pub, alg, nil
}

// HolderKey extracts the holder's public key from the "cnf" claim's "jwk" member of payload (the
// claims returned by VerifyIssuer, or SDJWT.Payload). The key must be a valid public Ed25519 or
// P-256 JWK. Errors wrap ErrSyntax when cnf or cnf.jwk is missing, malformed, private or of an
// unsupported type. HolderKey does not modify payload and is safe for concurrent use.
func HolderKey(payload map[string]any) (*jose.JSONWebKey, error) {
	cnf, ok := payload["cnf"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: holder key: no cnf object", ErrSyntax)
	}
	raw, ok := cnf["jwk"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: holder key: no cnf.jwk object", ErrSyntax)
	}
	if _, ok := raw["d"]; ok {
		return nil, fmt.Errorf("%w: holder key: cnf.jwk is a private key", ErrSyntax)
	}
	jwk, err := publicJWK(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: holder key: %v", ErrSyntax, err)
	}
	return jwk, nil
}

// publicJWK reads a decoded public JWK of the two kinds Algs allows: kty EC with crv P-256
// and 32-byte x and y on the curve, or kty OKP with crv Ed25519 and a 32-byte x; "alg", when
// present, must be the key's (ES256 or EdDSA) and "kid", when present, a string. Other members
// are ignored, as RFC 7517 asks. It does what a go-jose round trip through JSON did, at a
// tenth of the cost, for the key in every presentation.
func publicJWK(raw map[string]any) (*jose.JSONWebKey, error) {
	str := func(name string) (string, error) {
		v, ok := raw[name]
		if !ok {
			return "", fmt.Errorf("cnf.jwk has no %q", name)
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("cnf.jwk %q is not a string", name)
		}
		return s, nil
	}
	coord := func(name string) ([]byte, error) {
		s, err := str(name)
		if err != nil {
			return nil, err
		}
		b, err := decodeB64(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("cnf.jwk %q is not 32 bytes of base64url", name)
		}
		return b, nil
	}
	kty, err := str("kty")
	if err != nil {
		return nil, err
	}
	crv, err := str("crv")
	if err != nil {
		return nil, err
	}
	jwk := &jose.JSONWebKey{}
	switch {
	case kty == "EC" && crv == "P-256":
		x, err := coord("x")
		if err != nil {
			return nil, err
		}
		y, err := coord("y")
		if err != nil {
			return nil, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("cnf.jwk is not a point on P-256")
		}
		jwk.Key, jwk.Algorithm = pub, string(jose.ES256)
	case kty == "OKP" && crv == "Ed25519":
		if _, ok := raw["y"]; ok {
			return nil, errors.New("cnf.jwk of kty OKP has a y")
		}
		x, err := coord("x")
		if err != nil {
			return nil, err
		}
		jwk.Key, jwk.Algorithm = ed25519.PublicKey(x), string(jose.EdDSA)
	default:
		return nil, fmt.Errorf("unsupported cnf.jwk key type %q/%q (want EC P-256 or OKP Ed25519)", kty, crv)
	}
	if v, ok := raw["alg"]; ok {
		if alg, _ := v.(string); alg != jwk.Algorithm {
			return nil, fmt.Errorf("JWK alg %v does not match its %s key", v, jwk.Algorithm)
		}
	} else {
		jwk.Algorithm = ""
	}
	if v, ok := raw["kid"]; ok {
		kid, ok := v.(string)
		if !ok {
			return nil, errors.New("cnf.jwk kid is not a string")
		}
		jwk.KeyID = kid
	}
	return jwk, nil
}

// ClaimTime reads the JWT NumericDate claim name (iat, nbf, exp) from verified claims. present
// is false when the claim is absent; err is set when it is present but not a valid NumericDate
// (not a number, negative or absurdly large), which callers must treat as a failed check.
func ClaimTime(claims map[string]any, name string) (t time.Time, present bool, err error) {
	if _, ok := claims[name]; !ok {
		return time.Time{}, false, nil
	}
	t, err = numericDate(claims, name, true)
	return t.UTC(), true, err
}
