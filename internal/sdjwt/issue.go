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
	if len(disclosable) > MaxDisclosures {
		return "", fmt.Errorf("%w: issue: %d disclosable claims, limit %d", ErrTooLarge, len(disclosable), MaxDisclosures)
	}
	if decoys < 0 || decoys > MaxDisclosures {
		return "", fmt.Errorf("sdjwt: issue: decoys must be in [0, %d], got %d", MaxDisclosures, decoys)
	}
	if rnd == nil {
		rnd = rand.Reader
	}

	// Round-trip the claims through JSON: this copies them (the caller's map is untouched),
	// normalises them to the types Parse produces, and applies the same depth limit.
	raw, err := encodeJSON(claims)
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: claims do not encode as JSON: %w", err)
	}
	payload, err := decodeObject(raw, "claims")
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: %w", err)
	}
	for _, k := range []string{sdKey, sdAlgKey, ellipsisKey} {
		if _, ok := payload[k]; ok {
			return "", fmt.Errorf("sdjwt: issue: claims must not contain %q", k)
		}
	}
	if p := findSDKeys(payload, ""); p != "" {
		return "", fmt.Errorf("sdjwt: issue: claims must not contain %q (nested selective disclosure is not supported)", strings.TrimPrefix(p, "."))
	}

	digests := make([]string, 0, len(disclosable)+decoys)
	encoded := make([]string, 0, len(disclosable))
	seen := make(map[string]bool, len(disclosable))
	for _, name := range disclosable {
		if reserved[name] {
			return "", fmt.Errorf("sdjwt: issue: claim %q must not be selectively disclosable", name)
		}
		if seen[name] {
			return "", fmt.Errorf("sdjwt: issue: claim %q listed twice in disclosable", name)
		}
		seen[name] = true
		value, ok := payload[name]
		if !ok {
			return "", fmt.Errorf("sdjwt: issue: disclosable claim %q not in claims", name)
		}
		salt, err := randomB64(rnd)
		if err != nil {
			return "", fmt.Errorf("sdjwt: issue: salt for %q: %w", name, err)
		}
		arr, err := encodeJSON([]any{salt, name, value})
		if err != nil {
			return "", fmt.Errorf("sdjwt: issue: disclosure for %q: %w", name, err)
		}
		e := b64.EncodeToString(arr)
		encoded = append(encoded, e)
		digests = append(digests, digest(e))
		delete(payload, name)
	}
	for i := 0; i < decoys; i++ {
		r, err := randomB64(rnd)
		if err != nil {
			return "", fmt.Errorf("sdjwt: issue: decoy: %w", err)
		}
		digests = append(digests, digest(r))
	}
	slices.Sort(digests) // hides the order of the claims and which digests are decoys
	if len(digests) > 0 {
		payload[sdKey] = digests
	}
	payload[sdAlgKey] = sdAlg

	body, err := encodeJSON(payload)
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: %w", err)
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: sign: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: serialize: %w", err)
	}

	var b strings.Builder
	b.WriteString(compact)
	b.WriteByte('~')
	for _, e := range encoded {
		b.WriteString(e)
		b.WriteByte('~')
	}
	if b.Len() > MaxSize {
		return "", fmt.Errorf("%w: issue: SD-JWT is %d bytes, limit %d", ErrTooLarge, b.Len(), MaxSize)
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
