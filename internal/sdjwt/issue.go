package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// saltBytes is the number of random bytes in each salt and decoy: 128 bits, as RFC 9901
// section 9.3 recommends.
const saltBytes = 16

// NewSigner returns a go-jose signer for key with the protected header parameters typ and kid
// set (each omitted when empty). The algorithm follows from the key: EdDSA for an
// ed25519.PrivateKey, ES256 for a P-256 *ecdsa.PrivateKey, and the same for any other
// crypto.Signer (a hardware or KMS key) whose public key is Ed25519 or P-256. Use typ
// TypeSDJWTVC for Issue and TypeKB for Present.
//
// It returns an error for a nil key or any other key type or curve. The returned signer is
// safe for concurrent use if key is.
func NewSigner(key crypto.Signer, typ, kid string) (jose.Signer, error) {
	var sk jose.SigningKey
	switch k := key.(type) {
	case nil:
		return nil, errors.New("sdjwt: new signer: nil key")
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("sdjwt: new signer: bad Ed25519 private key length")
		}
		sk = jose.SigningKey{Algorithm: jose.EdDSA, Key: k}
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, errors.New("sdjwt: new signer: ECDSA key must be on P-256")
		}
		sk = jose.SigningKey{Algorithm: jose.ES256, Key: k}
	default:
		switch pub := key.Public().(type) {
		case ed25519.PublicKey:
			sk = jose.SigningKey{Algorithm: jose.EdDSA, Key: cryptosigner.Opaque(key)}
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				return nil, errors.New("sdjwt: new signer: ECDSA key must be on P-256")
			}
			sk = jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(key)}
		default:
			return nil, fmt.Errorf("sdjwt: new signer: unsupported key type %T", pub)
		}
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts.WithType(jose.ContentType(typ))
	}
	if kid != "" {
		opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: new signer: %w", err)
	}
	return s, nil
}

// signerTyp returns the typ header value signer will put in its protected header, or "".
func signerTyp(signer jose.Signer) string {
	switch v := signer.Options().ExtraHeaders[jose.HeaderType].(type) {
	case string:
		return v
	case jose.ContentType:
		return string(v)
	}
	return ""
}

// Issue builds an SD-JWT from claims: each top-level claim named in disclosable is moved out of
// the claims into a Disclosure [salt, name, value] with a fresh 128-bit salt read from rnd; the
// digests of the disclosures, plus decoys decoy digests of random data (0 to MaxDisclosures),
// go sorted into "_sd"; "_sd_alg" is set to "sha-256"; and the payload is signed by signer as a
// compact JWS. The result is "<jws>~<d1>~...~<dN>~" (trailing "~", no KB-JWT), with the
// disclosures in the order of disclosable.
//
// signer supplies the protected header, and its typ must be TypeSDJWTVC or TypeSDJWTVCLegacy (see
// NewSigner) so that VerifyIssuer accepts the result. claims is not modified; it must encode as a
// JSON object (json.Number values are kept exactly) and must not use "_sd", "_sd_alg" or "..."
// at any depth. A disclosable name must be present in claims, listed once, and not reserved:
// "_sd", "_sd_alg", "..." and the claims SD-JWT VC requires in the clear (iss, nbf, exp, cnf,
// vct, vct#integrity, status). rnd supplies all randomness (salts first, in order, then decoys);
// nil means crypto/rand. Output is deterministic for a deterministic rnd and signer (Ed25519
// signatures are deterministic; ECDSA ones are not).
//
// Errors: invalid arguments as above, a short read from rnd, a signing failure, or a result
// over MaxSize or MaxDisclosures (wrapping ErrTooLarge). Issue is safe for concurrent use if
// signer and rnd are.
func Issue(signer jose.Signer, claims map[string]any, disclosable []string, decoys int, rnd io.Reader) (string, error) {
	if signer == nil {
		return "", errors.New("sdjwt: issue: nil signer")
	}
	if typ := signerTyp(signer); typ != TypeSDJWTVC && typ != TypeSDJWTVCLegacy {
		return "", fmt.Errorf("sdjwt: issue: signer typ is %q, want %q", typ, TypeSDJWTVC)
	}
	payload, encoded, err := build(claims, disclosable, decoys, rnd)
	if err != nil {
		return "", err
	}
	compact, err := signCompact(signer, payload)
	if err != nil {
		return "", err
	}
	return joinIssued(compact, encoded)
}

// signCompact signs payload with signer into a compact JWS.
func signCompact(signer jose.Signer, payload []byte) (string, error) {
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: sign: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: serialize: %w", err)
	}
	return compact, nil
}

// build makes the payload and the encoded disclosures of Issue (whose documentation covers its
// arguments and errors), ready to sign.
func build(claims map[string]any, disclosable []string, decoys int, rnd io.Reader) (payload []byte, encoded []string, err error) {
	if len(disclosable) > MaxDisclosures {
		return nil, nil, fmt.Errorf("%w: issue: %d disclosable claims, limit %d", ErrTooLarge, len(disclosable), MaxDisclosures)
	}
	if decoys < 0 || decoys > MaxDisclosures {
		return nil, nil, fmt.Errorf("sdjwt: issue: decoys must be in [0, %d], got %d", MaxDisclosures, decoys)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	if claims == nil {
		return nil, nil, fmt.Errorf("%w: issue: claims: not a JSON object", ErrSyntax)
	}
	// The claims as they will be hashed and signed (see canonicalize): the caller's map is never
	// modified; the top level is copied because disclosed claims leave it.
	c, _, err := canonicalize(claims, 1)
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrSyntax) {
			return nil, nil, fmt.Errorf("sdjwt: issue: %w", err)
		}
		return nil, nil, fmt.Errorf("sdjwt: issue: claims do not encode as JSON: %w", err)
	}
	top, ok := c.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%w: issue: claims: not a JSON object", ErrSyntax)
	}
	for _, k := range []string{sdKey, sdAlgKey, ellipsisKey} {
		if _, ok := top[k]; ok {
			return nil, nil, fmt.Errorf("sdjwt: issue: claims must not contain %q", k)
		}
	}
	for _, v := range top {
		if hasSDKeys(v) {
			p := findSDKeys(top, "")
			return nil, nil, fmt.Errorf("sdjwt: issue: claims must not contain %q (nested selective disclosure is not supported)", strings.TrimPrefix(p, "."))
		}
	}
	payloadClaims := make(map[string]any, len(top)+2)
	for k, v := range top {
		payloadClaims[k] = v
	}

	// All the randomness in one read: the salts in order, then the decoys.
	rb := make([]byte, saltBytes*(len(disclosable)+decoys))
	if _, err := io.ReadFull(rnd, rb); err != nil {
		return nil, nil, fmt.Errorf("sdjwt: issue: salts: %w", err)
	}
	digests := make([]string, 0, len(disclosable)+decoys)
	encoded = make([]string, 0, len(disclosable))
	var buf []byte
	for i, name := range disclosable {
		if reserved[name] {
			return nil, nil, fmt.Errorf("sdjwt: issue: claim %q must not be selectively disclosable", name)
		}
		value, ok := payloadClaims[name]
		if !ok {
			if slices.Contains(disclosable[:i], name) {
				return nil, nil, fmt.Errorf("sdjwt: issue: claim %q listed twice in disclosable", name)
			}
			return nil, nil, fmt.Errorf("sdjwt: issue: disclosable claim %q not in claims", name)
		}
		// [salt, name, value], as encodeJSON writes it.
		buf = append(buf[:0], '[', '"')
		buf = b64.AppendEncode(buf, rb[i*saltBytes:(i+1)*saltBytes])
		buf = append(buf, '"', ',')
		buf = appendString(buf, name)
		buf = append(buf, ',')
		buf = appendJSON(buf, value)
		buf = append(buf, ']')
		e := b64.EncodeToString(buf)
		encoded = append(encoded, e)
		digests = append(digests, digest(e))
		delete(payloadClaims, name)
	}
	for i := range decoys {
		off := (len(disclosable) + i) * saltBytes
		digests = append(digests, digest(b64.EncodeToString(rb[off:off+saltBytes])))
	}
	slices.Sort(digests) // hides the order of the claims and which digests are decoys
	if len(digests) > 0 {
		sd := make([]any, len(digests))
		for i, d := range digests {
			sd[i] = d
		}
		payloadClaims[sdKey] = sd
	}
	payloadClaims[sdAlgKey] = sdAlg
	return appendJSON(nil, payloadClaims), encoded, nil
}

// joinIssued appends the encoded disclosures to the issuer-signed JWT: "<jws>~<d1>~...~<dN>~".
func joinIssued(jws string, encoded []string) (string, error) {
	n := len(jws) + 1
	for _, e := range encoded {
		n += len(e) + 1
	}
	if n > MaxSize {
		return "", fmt.Errorf("%w: issue: SD-JWT is %d bytes, limit %d", ErrTooLarge, n, MaxSize)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(jws)
	b.WriteByte('~')
	for _, e := range encoded {
		b.WriteString(e)
		b.WriteByte('~')
	}
	return b.String(), nil
}

// randomB64 reads saltBytes bytes from rnd and returns them base64url-encoded.
func randomB64(rnd io.Reader) (string, error) {
	var buf [saltBytes]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return "", err
	}
	return b64.EncodeToString(buf[:]), nil
}

// Present builds a presentation from issued, an SD-JWT as returned by Issue (ending in "~", no
// KB-JWT). It keeps, in their original order, only the disclosures whose claim name is in keep,
// and, if kbSigner is not nil, appends a Key Binding JWT signed by kbSigner whose payload is
// {"aud": aud, "iat": now in Unix seconds, "nonce": nonce, "sd_hash": SDHash of the SD-JWT part}.
// The result is "<jws>~<kept disclosures>~<kb-jwt>", or ends in "~" when kbSigner is nil.
//
// kbSigner's typ must be TypeKB (see NewSigner), and aud and nonce must then be non-empty.
// Present does not verify the issuer signature: the wallet verifies an SD-JWT with VerifyIssuer
// when it receives it.
//
// Errors: issued does not parse (wrapping ErrSyntax or ErrTooLarge) or already has a KB-JWT; a
// name in keep matches no disclosure; a bad kbSigner, aud or nonce; a signing failure; a result
// over MaxSize (wrapping ErrTooLarge). Present is safe for concurrent use if kbSigner is.
func Present(issued string, keep []string, kbSigner jose.Signer, aud, nonce string, now time.Time) (string, error) {
	sd, err := Parse(issued)
	if err != nil {
		return "", fmt.Errorf("sdjwt: present: %w", err)
	}
	if sd.KeyBinding != "" {
		return "", errors.New("sdjwt: present: issued SD-JWT already carries a KB-JWT")
	}
	want := make(map[string]bool, len(keep))
	for _, k := range keep {
		want[k] = true
	}
	found := make(map[string]bool, len(keep))
	kept := sd.Disclosures[:0:0]
	for _, d := range sd.Disclosures {
		if want[d.Name] {
			kept = append(kept, d)
			found[d.Name] = true
		}
	}
	for _, k := range keep {
		if !found[k] {
			return "", fmt.Errorf("sdjwt: present: no disclosure for claim %q", k)
		}
	}
	sd.Disclosures = kept
	out := sd.sdPart()

	if kbSigner != nil {
		if typ := signerTyp(kbSigner); typ != TypeKB {
			return "", fmt.Errorf("sdjwt: present: KB signer typ is %q, want %q", typ, TypeKB)
		}
		if aud == "" || nonce == "" {
			return "", errors.New("sdjwt: present: key binding needs a non-empty aud and nonce")
		}
		body, err := encodeJSON(map[string]any{
			"aud":     aud,
			"iat":     now.Unix(),
			"nonce":   nonce,
			"sd_hash": SDHash(out),
		})
		if err != nil {
			return "", fmt.Errorf("sdjwt: present: %w", err)
		}
		jws, err := kbSigner.Sign(body)
		if err != nil {
			return "", fmt.Errorf("sdjwt: present: sign KB-JWT: %w", err)
		}
		kb, err := jws.CompactSerialize()
		if err != nil {
			return "", fmt.Errorf("sdjwt: present: serialize KB-JWT: %w", err)
		}
		out += kb
	}
	if len(out) > MaxSize {
		return "", fmt.Errorf("%w: present: %d bytes, limit %d", ErrTooLarge, len(out), MaxSize)
	}
	return out, nil
}

// Issuer issues SD-JWTs with one key: Issuer.Issue gives exactly what Issue gives with the
// signer NewSigner(key, typ, kid) returns, and is made for issuing many. For an Ed25519 key it
// encodes the protected header once and signs with crypto/ed25519 directly (the result is the
// same, Ed25519 being deterministic); other keys go through go-jose. An Issuer is safe for
// concurrent use.
type Issuer struct {
	prefix string // base64url(protected header) + "."
	ed     ed25519.PrivateKey

	mu     sync.Mutex // guards signer: go-jose does not promise its signers are safe for concurrent use
	signer jose.Signer
}

// NewIssuer returns an Issuer for key with the protected header parameters typ and kid, as
// NewSigner does; typ must be TypeSDJWTVC or TypeSDJWTVCLegacy.
func NewIssuer(key crypto.Signer, typ, kid string) (*Issuer, error) {
	if typ != TypeSDJWTVC && typ != TypeSDJWTVCLegacy {
		return nil, fmt.Errorf("sdjwt: new issuer: typ is %q, want %q", typ, TypeSDJWTVC)
	}
	signer, err := NewSigner(key, typ, kid)
	if err != nil {
		return nil, err
	}
	// The protected header exactly as go-jose writes it: the first part of any JWS it signs.
	compact, err := signCompact(signer, []byte("{}"))
	if err != nil {
		return nil, err
	}
	is := &Issuer{prefix: compact[:strings.IndexByte(compact, '.')+1], signer: signer}
	if k, ok := key.(ed25519.PrivateKey); ok {
		is.ed = k
	}
	return is, nil
}

// Issue is Issue (the function) with the Issuer's key.
func (is *Issuer) Issue(claims map[string]any, disclosable []string, decoys int, rnd io.Reader) (string, error) {
	payload, encoded, err := build(claims, disclosable, decoys, rnd)
	if err != nil {
		return "", err
	}
	if is.ed == nil {
		is.mu.Lock()
		compact, err := signCompact(is.signer, payload)
		is.mu.Unlock()
		if err != nil {
			return "", err
		}
		return joinIssued(compact, encoded)
	}
	in := make([]byte, 0, len(is.prefix)+b64.EncodedLen(len(payload))+1+b64.EncodedLen(ed25519.SignatureSize))
	in = append(in, is.prefix...)
	in = b64.AppendEncode(in, payload)
	sig := ed25519.Sign(is.ed, in)
	in = append(in, '.')
	in = b64.AppendEncode(in, sig)
	return joinIssued(string(in), encoded)
}
