package oid4vci

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ProofJWTType is the typ header of a jwt key proof (Appendix F.1).
const ProofJWTType = "openid4vci-proof+jwt"

// MaxProofSize is the longest proof JWT VerifyProof accepts: 8 KiB.
const MaxProofSize = 8 << 10

// Default proof time checks, used when ProofOptions leaves them zero.
const (
	// DefaultProofMaxAge is how old a proof's iat may be.
	DefaultProofMaxAge = 5 * time.Minute
	// DefaultProofSkew is how far iat may lie in the future, and the slack on MaxAge.
	DefaultProofSkew = 30 * time.Second
)

// DefaultProofAlgs is the proof algorithm allow-list used when ProofOptions.Algs is nil.
var DefaultProofAlgs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// NewProofSigner returns a jose.Signer for BuildProof: it signs with key (an ed25519.PrivateKey
// with EdDSA or a P-256 *ecdsa.PrivateKey with ES256), sets typ openid4vci-proof+jwt, and names
// the key with kid when kid is non-empty (for example a DID URL) or else embeds the public key
// as jwk. Errors come from jose.NewSigner or name an unsupported key.
func NewProofSigner(key any, kid string) (jose.Signer, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("oid4vci: proof signer: only P-256 ECDSA keys are supported")
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("oid4vci: proof signer: unsupported key type %T", key)
	}
	opts := (&jose.SignerOptions{}).WithType(ProofJWTType)
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(alg)}
	} else {
		opts.EmbedJWK = true
	}
	return jose.NewSigner(sk, opts)
}

// proofClaims is the payload of a jwt proof as BuildProof writes it.
type proofClaims struct {
	Iss   string `json:"iss,omitempty"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
}

// BuildProof signs a jwt key proof for the Credential Issuer audience with signer, which must
// set typ openid4vci-proof+jwt and exactly one of jwk and kid (NewProofSigner does). clientID
// becomes iss and must be "" when the access token came from anonymous Pre-Authorized Code
// access; nonce is the c_nonce from the Nonce Endpoint ("" only if the issuer has none); iat is
// the signing time. BuildProof checks the header of what it signed and returns an error if the
// signer did not set it up as required.
func BuildProof(signer jose.Signer, clientID, audience, nonce string, iat time.Time) (string, error) {
	if audience == "" {
		return "", errors.New("oid4vci: build proof: audience is required")
	}
	payload, err := encodeJSON(proofClaims{Iss: clientID, Aud: audience, Iat: iat.Unix(), Nonce: nonce})
	if err != nil {
		return "", fmt.Errorf("oid4vci: build proof: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oid4vci: build proof: %w", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("oid4vci: build proof: %w", err)
	}
	var h proofHeader
	if err := decodeSegment(out[:strings.IndexByte(out, '.')], "proof header", &h); err != nil {
		return "", fmt.Errorf("oid4vci: build proof: %w", err)
	}
	if h.Typ == nil || *h.Typ != ProofJWTType {
		return "", fmt.Errorf("oid4vci: build proof: signer sets typ %s, want %q", describe(h.Typ), ProofJWTType)
	}
	if present(h.JWK) == (h.KID != nil) {
		return "", errors.New("oid4vci: build proof: signer must set exactly one of jwk and kid")
	}
	return out, nil
}

// KeyResolver returns the public key that kid (typically a DID URL such as did:key:...#...)
// names. It may do I/O bounded by ctx. It must return a public key, and an error when kid
// cannot be resolved; VerifyProof wraps that error with ErrInvalidProof and ErrProofKey.
type KeyResolver func(ctx context.Context, kid string) (*jose.JSONWebKey, error)

// ProofOptions are the expectations VerifyProof checks a proof against.
type ProofOptions struct {
	// Audience is the Credential Issuer Identifier; required.
	Audience string
	// Nonce is the c_nonce the issuer handed out; required. Single use of the nonce is the
	// caller's job.
	Nonce string
	// ClientID, when non-empty, must equal iss. When empty any string iss is accepted and
	// returned, since the specification only says iss must be omitted for anonymous access.
	ClientID string
	// Now is the verification time; required (the clock is injected).
	Now time.Time
	// MaxAge is how old iat may be; DefaultProofMaxAge when zero.
	MaxAge time.Duration
	// Skew is how far iat may lie in the future, and the slack on MaxAge and exp;
	// DefaultProofSkew when zero.
	Skew time.Duration
	// Algs is the alg allow-list; DefaultProofAlgs (EdDSA, ES256) when nil. Only EdDSA and
	// ES256 are ever accepted, so none, MAC and RSA algorithms are always rejected.
	Algs []jose.SignatureAlgorithm
	// ResolveKey resolves a kid header; when nil, proofs with kid are rejected.
	ResolveKey KeyResolver
}

// ProofResult is what a verified proof says.
type ProofResult struct {
	// HolderKey is the public key the credential is to be bound to.
	HolderKey *jose.JSONWebKey
	// KID is the kid header, or "" when the key came in a jwk header.
	KID string
	// ClientID is the iss claim, or "".
	ClientID string
	// Alg is the signing algorithm.
	Alg jose.SignatureAlgorithm
	// IssuedAt is the iat claim.
	IssuedAt time.Time
}

// proofHeader is the JOSE header of a proof as VerifyProof reads it.
type proofHeader struct {
	Alg            string          `json:"alg"`
	Typ            *string         `json:"typ"`
	KID            *string         `json:"kid"`
	JWK            json.RawMessage `json:"jwk"`
	X5C            json.RawMessage `json:"x5c"`
	Crit           json.RawMessage `json:"crit"`
	TrustChain     json.RawMessage `json:"trust_chain"`
	KeyAttestation json.RawMessage `json:"key_attestation"`
}

// proofPayload is the payload of a proof as VerifyProof reads it.
type proofPayload struct {
	Iss   json.RawMessage `json:"iss"`
	Aud   json.RawMessage `json:"aud"`
	Iat   json.RawMessage `json:"iat"`
	Exp   json.RawMessage `json:"exp"`
	Nonce json.RawMessage `json:"nonce"`
}

func proofErr(check error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalidProof, check, fmt.Sprintf(format, args...))
}

// VerifyProof verifies a jwt key proof (Appendix F.1) and returns the holder key it proves
// possession of. It checks, in order: size and compact JWS syntax with strict JSON header and
// payload (ErrProofSyntax); typ is exactly openid4vci-proof+jwt (ErrProofType); alg is on the
// allow-list (ErrProofAlg); no crit, x5c, trust_chain or key_attestation header, and exactly
// one of jwk and kid (ErrProofHeader); the jwk is a public Ed25519 or P-256 key matching alg,
// or kid resolves through opts.ResolveKey to one (ErrProofKey); the signature
// (ErrProofSignature); aud is the string opts.Audience, or an array of exactly that one string
// (ErrProofAudience); iat is a number within [Now-MaxAge-Skew, Now+Skew] and exp, if present,
// has not passed (ErrProofIssuedAt); iss is a string equal to opts.ClientID when that is set
// (ErrProofClientID); nonce is present (ErrProofNonceMissing) and equals opts.Nonce (otherwise
// ErrInvalidNonce, which alone is not wrapped with ErrInvalidProof). All failures but the
// nonce mismatch wrap ErrInvalidProof. Missing required options are reported as a plain error.
//
// ctx bounds opts.ResolveKey only.
func VerifyProof(ctx context.Context, jwt string, opts ProofOptions) (*ProofResult, error) {
	if opts.Audience == "" || opts.Nonce == "" || opts.Now.IsZero() {
		return nil, errors.New("oid4vci: verify proof: Audience, Nonce and Now are required")
	}
	maxAge, skew, algs := opts.MaxAge, opts.Skew, opts.Algs
	if maxAge == 0 {
		maxAge = DefaultProofMaxAge
	}
	if skew == 0 {
		skew = DefaultProofSkew
	}
	if algs == nil {
		algs = DefaultProofAlgs
	}
	algs = slices.DeleteFunc(slices.Clone(algs), func(a jose.SignatureAlgorithm) bool {
		return a != jose.EdDSA && a != jose.ES256
	})

	if len(jwt) > MaxProofSize {
		return nil, proofErr(ErrProofSyntax, "%d bytes, limit %d", len(jwt), MaxProofSize)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, proofErr(ErrProofSyntax, "not a compact JWS")
	}
	var h proofHeader
	if err := decodeSegment(parts[0], "proof header", &h); err != nil {
		return nil, proofErr(ErrProofSyntax, "%v", err)
	}
	if h.Typ == nil || *h.Typ != ProofJWTType {
		return nil, proofErr(ErrProofType, "typ %s", describe(h.Typ))
	}
	alg := jose.SignatureAlgorithm(h.Alg)
	if !slices.Contains(algs, alg) {
		return nil, proofErr(ErrProofAlg, "alg %q", h.Alg)
	}
	switch {
	case present(h.Crit):
		return nil, proofErr(ErrProofHeader, "crit header not supported")
	case present(h.X5C):
		return nil, proofErr(ErrProofHeader, "x5c header not supported")
	case present(h.TrustChain):
		return nil, proofErr(ErrProofHeader, "trust_chain header not supported")
	case present(h.KeyAttestation):
		return nil, proofErr(ErrProofHeader, "key_attestation header not supported")
	case present(h.JWK) && h.KID != nil:
		return nil, proofErr(ErrProofHeader, "both jwk and kid")
	case !present(h.JWK) && h.KID == nil:
		return nil, proofErr(ErrProofHeader, "neither jwk nor kid")
	}

	res := &ProofResult{Alg: alg}
	var key *jose.JSONWebKey
	if present(h.JWK) {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(h.JWK); err != nil {
			return nil, proofErr(ErrProofKey, "jwk: %v", err)
		}
		if !k.IsPublic() {
			return nil, proofErr(ErrProofKey, "jwk holds a private or symmetric key")
		}
		key = &k
	} else {
		res.KID = *h.KID
		if res.KID == "" {
			return nil, proofErr(ErrProofHeader, "empty kid")
		}
		if opts.ResolveKey == nil {
			return nil, proofErr(ErrProofKey, "kid %q: no key resolver", res.KID)
		}
		k, err := opts.ResolveKey(ctx, res.KID)
		if err != nil {
			return nil, proofErr(ErrProofKey, "kid %q: %v", res.KID, err)
		}
		if k == nil || !k.IsPublic() {
			return nil, proofErr(ErrProofKey, "kid %q did not resolve to a public key", res.KID)
		}
		key = k
	}
	if err := keyFitsAlg(key, alg); err != nil {
		return nil, proofErr(ErrProofKey, "%v", err)
	}
	res.HolderKey = key

	jws, err := jose.ParseSignedCompact(jwt, algs)
	if err != nil {
		return nil, proofErr(ErrProofSyntax, "%v", err)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, proofErr(ErrProofSignature, "%v", err)
	}
	var p proofPayload
	if err := decodeStrict(payload, MaxProofSize, "proof payload", &p); err != nil {
		return nil, proofErr(ErrProofSyntax, "%v", err)
	}

	if !audienceIs(p.Aud, opts.Audience) {
		return nil, proofErr(ErrProofAudience, "aud %s, want %q", describeRaw(p.Aud), opts.Audience)
	}
	iat, err := numericDate(p.Iat)
	if err != nil {
		return nil, proofErr(ErrProofIssuedAt, "iat: %v", err)
	}
	res.IssuedAt = iat
	if iat.After(opts.Now.Add(skew)) {
		return nil, proofErr(ErrProofIssuedAt, "iat %s is in the future", iat.UTC().Format(time.RFC3339))
	}
	if iat.Before(opts.Now.Add(-maxAge - skew)) {
		return nil, proofErr(ErrProofIssuedAt, "iat %s is older than %s", iat.UTC().Format(time.RFC3339), maxAge)
	}
	if present(p.Exp) {
		exp, err := numericDate(p.Exp)
		if err != nil {
			return nil, proofErr(ErrProofIssuedAt, "exp: %v", err)
		}
		if !opts.Now.Before(exp.Add(skew)) {
			return nil, proofErr(ErrProofIssuedAt, "expired at %s", exp.UTC().Format(time.RFC3339))
		}
	}
	if present(p.Iss) {
		if err := json.Unmarshal(p.Iss, &res.ClientID); err != nil {
			return nil, proofErr(ErrProofClientID, "iss is not a string")
		}
	}
	if opts.ClientID != "" && res.ClientID != opts.ClientID {
		return nil, proofErr(ErrProofClientID, "iss %q, want %q", res.ClientID, opts.ClientID)
	}
	if !present(p.Nonce) {
		return nil, proofErr(ErrProofNonceMissing, "no nonce claim")
	}
	var nonce string
	if err := json.Unmarshal(p.Nonce, &nonce); err != nil {
		return nil, proofErr(ErrProofSyntax, "nonce is not a string")
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(opts.Nonce)) != 1 {
		return nil, fmt.Errorf("%w: proof nonce does not match", ErrInvalidNonce)
	}
	return res, nil
}

// decodeSegment strictly decodes a base64url JSON object segment into v.
func decodeSegment(seg, what string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil || strings.ContainsAny(seg, "\r\n") {
		return fmt.Errorf("%s: not base64url", what)
	}
	return decodeStrict(b, MaxProofSize, what, v)
}

// present reports whether a raw member was present with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func describe(s *string) string {
	if s == nil {
		return "missing"
	}
	return fmt.Sprintf("%q", *s)
}

func describeRaw(raw json.RawMessage) string {
	if !present(raw) {
		return "missing"
	}
	if len(raw) > 100 {
		return string(raw[:100]) + "..."
	}
	return string(raw)
}

// audienceIs reports whether aud is the string want or an array holding exactly want. The
// specification makes aud a string; the one-element array is RFC 7519's other spelling and
// means the same.
func audienceIs(raw json.RawMessage, want string) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == want
	}
	var a []string
	if json.Unmarshal(raw, &a) == nil {
		return len(a) == 1 && a[0] == want
	}
	return false
}

// numericDate parses an RFC 7519 NumericDate, which may have a fraction.
func numericDate(raw json.RawMessage) (time.Time, error) {
	if !present(raw) {
		return time.Time{}, errors.New("missing")
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, errors.New("not a number")
	}
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// keyFitsAlg checks that key is a public key of the type alg signs with.
func keyFitsAlg(key *jose.JSONWebKey, alg jose.SignatureAlgorithm) error {
	switch k := key.Key.(type) {
	case ed25519.PublicKey:
		if alg != jose.EdDSA || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("Ed25519 key does not fit alg %s", alg)
		}
	case *ecdsa.PublicKey:
		if alg != jose.ES256 || k.Curve != elliptic.P256() {
			return fmt.Errorf("%s key does not fit alg %s", k.Curve.Params().Name, alg)
		}
	default:
		return fmt.Errorf("%T key not accepted", key.Key)
	}
	if key.Algorithm != "" && key.Algorithm != string(alg) {
		return fmt.Errorf("jwk alg %q does not match header alg %q", key.Algorithm, alg)
	}
	return nil
}
