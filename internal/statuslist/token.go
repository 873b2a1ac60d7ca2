package statuslist

import (
	"fmt"
	"math"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TokenType is the typ header of a Status List Token in JWT format.
const TokenType = "statuslist+jwt"

// TokenInfo is what a verified Status List Token says about itself besides the list.
type TokenInfo struct {
	// Subject is the sub claim: the URI of the Status List Token.
	Subject string
	// Issuer is the iss claim, or "" if the token has none. The caller must compare it with the
	// iss of the Referenced Token when either has one.
	Issuer string
	// IssuedAt is the iat claim.
	IssuedAt time.Time
	// ExpiresAt is the exp claim, or the zero time if the token has none.
	ExpiresAt time.Time
	// TTL is the ttl claim, the most a consumer may cache the token, or 0 if it has none.
	TTL time.Duration
}

// NewTokenSigner returns a signer for Status List Tokens: key must be an Ed25519 private key with
// algorithm EdDSA or a P-256 private key with ES256 (or a *jose.JSONWebKey holding one); the
// header gets typ "statuslist+jwt" and, if kid is not "", that kid. Another algorithm gives an
// error wrapping ErrSignature; a key that does not suit the algorithm, go-jose's error.
func NewTokenSigner(key jose.SigningKey, kid string) (jose.Signer, error) {
	return newSigner(key, kid, TokenType, "")
}

func newSigner(key jose.SigningKey, kid, typ, cty string) (jose.Signer, error) {
	if key.Algorithm != jose.EdDSA && key.Algorithm != jose.ES256 {
		return nil, fmt.Errorf("%w: algorithm %q is not allowed", ErrSignature, key.Algorithm)
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	if cty != "" {
		opts = opts.WithContentType(jose.ContentType(cty))
	}
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	return jose.NewSigner(key, opts)
}

// SignToken signs l as a Status List Token (JWT) for the list at uri: claims sub (uri), iat,
// exp (iat+ttl, omitted if ttl is 0), ttl (in whole seconds, omitted if 0) and status_list.
// signer must write typ "statuslist+jwt" (NewTokenSigner builds one) and should set a kid; its
// algorithm should be one of Algs, or verifiers will reject the token. The exp claim makes a
// stale copy fail after ttl; issuers that want ttl only as a cache hint should re-sign more often
// than ttl anyway.
//
// The output is deterministic for Ed25519 keys. Errors wrap ErrMalformed for a bad uri, ttl or
// signer typ, or come from encoding and signing.
func SignToken(l *List, uri string, iat time.Time, ttl time.Duration, signer jose.Signer) (string, error) {
	if uri == "" {
		return "", fmt.Errorf("%w: empty list URI", ErrMalformed)
	}
	if ttl < 0 || ttl%time.Second != 0 {
		return "", fmt.Errorf("%w: ttl %v is not a whole, non-negative number of seconds", ErrMalformed, ttl)
	}
	if typ := signerType(signer); typ != TokenType {
		return "", fmt.Errorf("%w: signer writes typ %q, want %q", ErrMalformed, typ, TokenType)
	}
	lst, err := l.Encode()
	if err != nil {
		return "", err
	}
	claims := map[string]any{
		"sub":         uri,
		"iat":         iat.Unix(),
		"status_list": lst,
	}
	if ttl > 0 {
		claims["exp"] = iat.Add(ttl).Unix()
		claims["ttl"] = int64(ttl / time.Second)
	}
	return sign(claims, signer)
}

// VerifyToken verifies the Status List Token jws with key (an ed25519.PublicKey, a P-256
// *ecdsa.PublicKey, or a jose.JSONWebKey or *jose.JSONWebKey holding one) and returns its list.
//
// It checks, in order: the length (ErrTooLarge past what a list of maxSize entries can need);
// that the header is strict JSON with typ "statuslist+jwt" (or "application/statuslist+jwt"), no
// crit or b64, and an alg in Algs matching key, and that the signature verifies (ErrSignature;
// this rejects "none" and HS256); that the payload is a strict JSON object (no repeated names) with
// sub equal to uri (ErrSubject), an iat, an optional positive ttl, and exp and nbf valid at now
// (ErrExpired, ErrNotYetValid); and that status_list decodes with Decode(…, maxSize) (ErrMalformed,
// ErrTooLarge). Other claims are ignored. It does not check iss: see TokenInfo.Issuer.
func VerifyToken(jws string, key any, uri string, now time.Time, maxSize int) (*List, TokenInfo, error) {
	var info TokenInfo
	if maxSize <= 0 || maxSize > math.MaxInt/8 {
		return nil, info, fmt.Errorf("%w: limit of %d entries", ErrTooLarge, maxSize)
	}
	_, payload, err := verifyJWS(jws, key, maxTokenLen(maxSize) /* at most 8 bits per entry */, TokenType)
	if err != nil {
		return nil, info, err
	}
	claims, err := decodeObject(payload, "Status List Token payload")
	if err != nil {
		return nil, info, err
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || sub != uri {
		return nil, info, fmt.Errorf("%w: sub is %q, want %q", ErrSubject, sub, uri)
	}
	info.Subject = sub
	if v, ok := claims["iss"]; ok {
		if info.Issuer, ok = v.(string); !ok {
			return nil, info, fmt.Errorf("%w: iss is not a string", ErrMalformed)
		}
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil {
		return nil, info, err
	}
	if !ok {
		return nil, info, fmt.Errorf("%w: no iat", ErrMalformed)
	}
	info.IssuedAt = iat
	if info.ExpiresAt, err = checkValidity(claims, now); err != nil {
		return nil, info, err
	}
	if v, ok := claims["ttl"]; ok {
		n, err := intValue(v)
		if err != nil || n <= 0 || int64(n) > math.MaxInt64/int64(time.Second) {
			return nil, info, fmt.Errorf("%w: ttl is not a positive integer", ErrMalformed)
		}
		info.TTL = time.Duration(n) * time.Second
	}
	m, ok := claims["status_list"].(map[string]any)
	if !ok {
		return nil, info, fmt.Errorf("%w: status_list is not an object", ErrMalformed)
	}
	l, err := Decode(m, maxSize)
	if err != nil {
		return nil, info, err
	}
	return l, info, nil
}

// StatusClaim returns the status claim a Referenced Token (an SD-JWT VC, say) carries to point at
// entry idx of the list at uri: {"status_list": {"idx": idx, "uri": uri}}.
func StatusClaim(uri string, idx int) map[string]any {
	return map[string]any{"status_list": map[string]any{"idx": idx, "uri": uri}}
}

// ParseStatusClaim reads the value of a Referenced Token's status claim, as decoded by
// encoding/json (numbers as float64 or json.Number), and returns the list URI and index of its
// status_list member. Other members of the status object (other status mechanisms) are ignored;
// status_list must hold exactly idx, a non-negative integer, and uri, a non-empty string. Errors
// wrap ErrMalformed.
func ParseStatusClaim(v any) (uri string, idx int, err error) {
	status, ok := v.(map[string]any)
	if !ok {
		return "", 0, fmt.Errorf("%w: status is not an object", ErrMalformed)
	}
	sl, ok := status["status_list"].(map[string]any)
	if !ok {
		return "", 0, fmt.Errorf("%w: status has no status_list object", ErrMalformed)
	}
	if len(sl) != 2 {
		return "", 0, fmt.Errorf("%w: status_list must hold exactly idx and uri", ErrMalformed)
	}
	uri, ok = sl["uri"].(string)
	if !ok || uri == "" {
		return "", 0, fmt.Errorf("%w: status_list.uri is not a non-empty string", ErrMalformed)
	}
	idx, err = intValue(sl["idx"])
	if err != nil || idx < 0 {
		return "", 0, fmt.Errorf("%w: status_list.idx is not a non-negative integer", ErrMalformed)
	}
	return uri, idx, nil
}
