// Package dpop parses, verifies and makes OAuth 2.0 DPoP proofs (RFC 9449): short JWTs a
// client signs with its device key for every request, so that an access token bound to that
// key (by its RFC 7638 thumbprint, "cnf.jkt") is useless to anyone who steals only the token.
//
// Parse checks a proof on its own (shape, typ, alg, the embedded public jwk, the signature
// made with it). A Verifier checks it against the request it came with: method, URL, the
// access token's hash, the key the token is bound to, freshness, a server nonce when asked
// for, and — last — that its jti was never seen before. Each failed check has its own
// sentinel error.
package dpop

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Type is the typ header of a DPoP proof.
const Type = "dpop+jwt"

// MaxProofLen bounds a proof's length; a real one is well under 1 KiB.
const MaxProofLen = 4096

// maxJTILen bounds the jti claim.
const maxJTILen = 256

// Algorithms are the signature algorithms a proof may use (the device keys phones hold).
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// AlgorithmNames is Algorithms as the space-separated list of the WWW-Authenticate "algs"
// parameter.
const AlgorithmNames = "ES256 EdDSA"

// Errors, one per failed check. Every one matches ErrInvalid.
var (
	// ErrInvalid is matched by every error below: the proof is not acceptable.
	ErrInvalid = errors.New("invalid DPoP proof")

	ErrMalformed   = fmt.Errorf("%w: malformed", ErrInvalid)
	ErrType        = fmt.Errorf("%w: typ is not %s", ErrInvalid, Type)
	ErrAlg         = fmt.Errorf("%w: algorithm not allowed (allowed: %s)", ErrInvalid, AlgorithmNames)
	ErrKey         = fmt.Errorf("%w: jwk header", ErrInvalid)
	ErrSignature   = fmt.Errorf("%w: signature does not verify with the jwk header", ErrInvalid)
	ErrMethod      = fmt.Errorf("%w: htm does not match the request method", ErrInvalid)
	ErrURL         = fmt.Errorf("%w: htu does not match the request URL", ErrInvalid)
	ErrIssuedAt    = fmt.Errorf("%w: iat outside the accepted window", ErrInvalid)
	ErrTokenHash   = fmt.Errorf("%w: ath does not match the access token", ErrInvalid)
	ErrKeyBinding  = fmt.Errorf("%w: proof key is not the key the access token is bound to", ErrInvalid)
	ErrReplay      = fmt.Errorf("%w: jti already used", ErrInvalid)
	ErrNonce       = fmt.Errorf("%w: a current server nonce is required (use_dpop_nonce)", ErrInvalid)
	errNotAnObject = errors.New("not a JSON object")
)

// Proof is a parsed DPoP proof whose signature verified with its own jwk header.
type Proof struct {
	Key        jose.JSONWebKey // public key from the jwk header
	Thumbprint string          // RFC 7638 SHA-256 thumbprint of Key, base64url (the cnf.jkt value)
	Alg        string
	Method     string // htm
	URL        string // htu
	IssuedAt   time.Time
	JTI        string
	TokenHash  string // ath, "" when absent
	Nonce      string // nonce, "" when absent
}

// Parse parses a compact DPoP proof and verifies its signature with the public key in its
// jwk header. It checks the shape (three parts, at most MaxProofLen bytes, no duplicate JSON
// members), typ, alg (Algorithms only), that jwk is a valid public key, and that the claims
// htm, htu, iat and jti are present with the right types. It does not look at time or the
// request: see Verifier. Errors: ErrMalformed, ErrType, ErrAlg, ErrKey, ErrSignature.
func Parse(s string) (*Proof, error) {
	if s == "" || len(s) > MaxProofLen {
		return nil, fmt.Errorf("%w: empty or longer than %d bytes", ErrMalformed, MaxProofLen)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var hdr struct {
		Typ  string          `json:"typ"`
		Alg  string          `json:"alg"`
		JWK  json.RawMessage `json:"jwk"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := strictObject(hb, &hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if hdr.Typ != Type {
		return nil, fmt.Errorf("%w (got %q)", ErrType, hdr.Typ)
	}
	if !allowed(hdr.Alg) {
		return nil, fmt.Errorf("%w (got %q)", ErrAlg, hdr.Alg)
	}
	if hdr.Crit != nil {
		return nil, fmt.Errorf("%w: critical header parameters are not understood", ErrMalformed)
	}
	if len(hdr.JWK) == 0 {
		return nil, fmt.Errorf("%w: missing", ErrKey)
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(hdr.JWK); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if !key.Valid() || !key.IsPublic() {
		return nil, fmt.Errorf("%w: not a valid public key", ErrKey)
	}
	jws, err := jose.ParseSigned(s, Algorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrMalformed)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, ErrSignature
	}
	var cl struct {
		HTM   *string      `json:"htm"`
		HTU   *string      `json:"htu"`
		IAT   *json.Number `json:"iat"`
		JTI   *string      `json:"jti"`
		ATH   *string      `json:"ath"`
		Nonce *string      `json:"nonce"`
	}
	if err := strictObject(payload, &cl); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if cl.HTM == nil || *cl.HTM == "" || cl.HTU == nil || *cl.HTU == "" || cl.IAT == nil || cl.JTI == nil || *cl.JTI == "" {
		return nil, fmt.Errorf("%w: htm, htu, iat and jti are required", ErrMalformed)
	}
	if len(*cl.JTI) > maxJTILen {
		return nil, fmt.Errorf("%w: jti longer than %d bytes", ErrMalformed, maxJTILen)
	}
	iat, err := numericDate(*cl.IAT)
	if err != nil {
		return nil, fmt.Errorf("%w: iat: %v", ErrMalformed, err)
	}
	tp, err := Thumbprint(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	p := &Proof{Key: key, Thumbprint: tp, Alg: hdr.Alg, Method: *cl.HTM, URL: *cl.HTU, IssuedAt: iat, JTI: *cl.JTI}
	if cl.ATH != nil {
		p.TokenHash = *cl.ATH
	}
	if cl.Nonce != nil {
		p.Nonce = *cl.Nonce
	}
	return p, nil
}

func allowed(alg string) bool {
	for _, a := range Algorithms {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// numericDate reads a JWT NumericDate given in whole seconds.
func numericDate(n json.Number) (time.Time, error) {
	i, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			return time.Time{}, errors.New("not a whole number of seconds")
		}
		i = int64(f)
	}
	if i < 0 || i > 1<<40 {
		return time.Time{}, errors.New("out of range")
	}
	return time.Unix(i, 0).UTC(), nil
}

// strictObject decodes a JSON object into v after checking it has no duplicate member names
// at any depth and nothing after it. Unknown members are allowed.
func strictObject(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errNotAnObject
	}
	if err := walkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	d2 := json.NewDecoder(bytes.NewReader(b))
	d2.UseNumber()
	return d2.Decode(v)
}

const maxDepth = 16

// walkObject reads the members of an object whose '{' was read, refusing duplicate names.
func walkObject(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deep")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("duplicate member %q", name)
		}
		seen[name] = true
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

func walkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return walkObject(dec, depth+1)
	case '[':
		if depth+1 > maxDepth {
			return errors.New("nested too deep")
		}
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return fmt.Errorf("unexpected %v", d)
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key, base64url without
// padding: the "jkt" an access token is bound to.
func Thumbprint(k jose.JSONWebKey) (string, error) {
	pub := k.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// TokenHash returns the ath value of an access token: base64url(SHA-256(token)).
func TokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
