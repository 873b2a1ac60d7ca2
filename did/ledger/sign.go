package ledger

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
)

// MaxOpSize is the largest operation JWS accepted, in bytes.
const MaxOpSize = 16 << 10

// OpMediaType is the JWS "typ" of every operation.
const OpMediaType = "ez-op+jwt"

// algs is the signature algorithm allow-list.
var algs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// embedsKey reports whether operations of type t carry their signing key as the header "jwk"
// (create: the update key; recover and deactivate: the revealed recovery key) rather than
// naming it with "kid".
func embedsKey(t string) bool {
	return t == TypeCreate || t == TypeRecover || t == TypeDeactivate
}

// SignOp signs op with key (an Ed25519 or P-256 private key, or any crypto.Signer over one)
// and returns the compact JWS. For create, recover and deactivate the header carries key's
// public JWK and kid is ignored; for update kid may be "" and defaults to "<did>#update"; for
// the others kid is the DID URL of an assertionMethod key ("<did>#key-1"). It returns an error
// if op is not a valid operation (an *OpError) or key is of an unsupported type.
func SignOp(op Op, key crypto.Signer, kid string) (string, error) {
	payload, err := op.Canonical()
	if err != nil {
		return "", err
	}
	var sk jose.SigningKey
	switch k := key.(type) {
	case ed25519.PrivateKey:
		sk = jose.SigningKey{Algorithm: jose.EdDSA, Key: k}
	default: // including *ecdsa.PrivateKey: the adapter writes the low-S form ParseOp requires
		os, err := newOpaque(key)
		if err != nil {
			return "", fmt.Errorf("sign operation: %w", err)
		}
		sk = jose.SigningKey{Algorithm: os.Algs()[0], Key: os}
	}
	opts := (&jose.SignerOptions{}).WithType(OpMediaType)
	if embedsKey(op.Type) {
		opts.EmbedJWK = true
	} else {
		if kid == "" && op.Type == TypeUpdate {
			kid = op.DID + "#" + updateFragment
		}
		if kid == "" {
			return "", fmt.Errorf("sign %s operation: kid is required", op.Type)
		}
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		return "", fmt.Errorf("sign operation: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign operation: %w", err)
	}
	return jws.CompactSerialize()
}

// opaque adapts a crypto.Signer holding an Ed25519 or P-256 key to go-jose.
type opaque struct {
	s   crypto.Signer
	alg jose.SignatureAlgorithm
}

func newOpaque(s crypto.Signer) (*opaque, error) {
	switch p := s.Public().(type) {
	case ed25519.PublicKey:
		return &opaque{s, jose.EdDSA}, nil
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return &opaque{s, jose.ES256}, nil
		}
	}
	return nil, fmt.Errorf("unsupported key type %T: want Ed25519 or P-256", s.Public())
}

func (o *opaque) Public() *jose.JSONWebKey        { return &jose.JSONWebKey{Key: o.s.Public()} }
func (o *opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{o.alg} }

func (o *opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != o.alg {
		return nil, jose.ErrUnsupportedAlgorithm
	}
	if alg == jose.EdDSA {
		return o.s.Sign(rand.Reader, payload, crypto.Hash(0))
	}
	sum := sha256.Sum256(payload)
	der, err := o.s.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 {
		return nil, errors.New("ECDSA signer returned a malformed signature")
	}
	if sig.R == nil || sig.S == nil || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("ECDSA signer returned a malformed signature")
	}
	if sig.S.Cmp(halfOrder) > 0 { // use the low-S form: one signature per (key, payload, r)
		sig.S.Sub(elliptic.P256().Params().N, sig.S)
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// halfOrder is half the order of P-256. ES256 signatures are malleable ((r, s) and (r, n-s)
// both verify), which would let anyone submit a different JWS, with a different leaf and
// versionId, for the same signed payload; the ledger accepts only s <= n/2.
var halfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// SignedOp is a parsed operation whose signature has not been checked yet: ParseOp checks
// syntax only, and the state machine verifies the signature against the key the DID's state
// authorises. It is not safe for concurrent use.
type SignedOp struct {
	JWS     string           // the operation as submitted; its bytes are the log leaf
	Op      Op               // the decoded payload
	Payload []byte           // the canonical payload bytes
	Alg     string           // "EdDSA" or "ES256"
	KeyID   string           // header kid, for operations signed by a named key
	JWK     *jose.JSONWebKey // header jwk, for create, recover and deactivate

	sig      *jose.JSONWebSignature
	verified []byte // canonical JWK of the key the signature last verified with
}

// ParseOp parses an operation JWS without any ledger state: size (at most MaxOpSize), compact
// syntax with canonical base64url, a protected header of exactly alg (EdDSA or ES256), typ
// (ez-op+jwt) and kid or jwk as the type requires, strict JSON (no duplicate members, nesting
// at most 8), a payload that is a valid operation and exactly its own canonical JSON, and the
// key-naming rules that need no state (the update kid is "<did>#update"; an anchor or status
// kid is a key of its issuer; the header jwk of create, recover and deactivate is the payload's
// update or recovery key). It does not verify the signature (see SignedOp.Verify). Errors are
// *OpError with the result code: too-large, malformed, non-canonical, bad-signature (alg),
// wrong-key, invalid-document.
func ParseOp(jws string) (*SignedOp, error) {
	if len(jws) > MaxOpSize {
		return nil, opErr(CodeTooLarge, "operation is %d bytes, at most %d", len(jws), MaxOpSize)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, opErr(CodeMalformed, "not a compact JWS (want three dot-separated parts)")
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := decodeB64(p)
		if err != nil || (len(b) == 0 && i < 2) {
			return nil, opErr(CodeMalformed, "JWS part %d is not non-empty canonical base64url", i+1)
		}
		raw[i] = b
	}
	hv, err := decodeStrict(raw[0], "header")
	if err != nil {
		return nil, err
	}
	h := newObject(hv, "header")
	alg := h.str("alg", true, 16)
	if h.err == nil && alg != string(jose.EdDSA) && alg != string(jose.ES256) {
		return nil, opErr(CodeBadSignature, "alg %q not allowed: EdDSA or ES256 only", alg)
	}
	if typ := h.str("typ", true, 32); h.err == nil && typ != OpMediaType {
		return nil, opErr(CodeMalformed, "typ %q, want %s", typ, OpMediaType)
	}
	kid := h.str("kid", false, 200)
	var hjwk *jose.JSONWebKey
	if v, ok := h.get("jwk", false); ok {
		hjwk, err = decodeJWK(v, "header jwk")
		if err != nil {
			return nil, err
		}
	}
	if err := h.done(); err != nil {
		return nil, err
	}
	switch {
	case alg == string(jose.EdDSA) && len(raw[2]) != ed25519.SignatureSize:
		return nil, opErr(CodeBadSignature, "EdDSA signature is not %d bytes", ed25519.SignatureSize)
	case alg == string(jose.ES256) && (len(raw[2]) != 64 || new(big.Int).SetBytes(raw[2][32:]).Cmp(halfOrder) > 0):
		return nil, opErr(CodeBadSignature, "ES256 signature is not 64 bytes in low-S form")
	}

	op, err := decodeOp(raw[1])
	if err != nil {
		return nil, err
	}
	m, err := op.members()
	if err != nil {
		return nil, err
	}
	if string(canonicalJSON(m)) != string(raw[1]) {
		return nil, opErr(CodeNonCanonical, "payload is not in canonical JSON form")
	}

	if embedsKey(op.Type) {
		if hjwk == nil || kid != "" {
			return nil, opErr(CodeMalformed, "a %s operation carries its key as header jwk, without kid", op.Type)
		}
		want := op.RecoveryKey
		if op.Type == TypeCreate {
			want = op.UpdateKey
		}
		if !sameKey(hjwk, want) {
			return nil, opErr(CodeWrongKey, "header jwk is not the payload's %s", map[bool]string{true: "update_key", false: "recovery_key"}[op.Type == TypeCreate])
		}
	} else {
		if kid == "" || hjwk != nil {
			return nil, opErr(CodeMalformed, "a %s operation names its key with kid, without jwk", op.Type)
		}
		d, frag, err := did.SplitURL(kid)
		if err != nil || frag == "" {
			return nil, opErr(CodeMalformed, "kid %q is not a DID URL with a fragment", kid)
		}
		if _, err := ParseDID(d.String()); err != nil {
			return nil, opErr(CodeMalformed, "kid %q: %v", kid, err)
		}
		switch op.Type {
		case TypeUpdate:
			if kid != op.DID+"#"+updateFragment {
				return nil, opErr(CodeWrongKey, "an update is signed by %s#%s, not %s", op.DID, updateFragment, kid)
			}
		case TypeAnchor, TypeStatus:
			if d.String() != op.Issuer {
				return nil, opErr(CodeWrongKey, "kid %s is not a key of the issuer %s", kid, op.Issuer)
			}
		}
	}

	sig, err := jose.ParseSignedCompact(jws, algs)
	if err != nil {
		return nil, opErr(CodeMalformed, "JWS: %v", err)
	}
	return &SignedOp{JWS: jws, Op: op, Payload: raw[1], Alg: alg, KeyID: kid, JWK: hjwk, sig: sig}, nil
}

// Verify checks the signature with key. It returns nil or an *OpError with CodeBadSignature.
// A successful check is remembered, so verifying again with the same key is free.
func (s *SignedOp) Verify(key *jose.JSONWebKey) error {
	ck, err := canonicalJWK(key)
	if err != nil {
		return opErr(CodeBadSignature, "verification key: %v", err)
	}
	if s.verified != nil && string(s.verified) == string(ck) {
		return nil
	}
	if _, err := s.sig.Verify(key.Key); err != nil {
		return opErr(CodeBadSignature, "signature does not verify with the authorised key")
	}
	s.verified = ck
	return nil
}

// VersionID returns VersionID(s.JWS).
func (s *SignedOp) VersionID() string { return VersionID(s.JWS) }

// LeafHash returns the operation's Merkle log leaf hash: the RFC 6962 leaf hash of its JWS.
func (s *SignedOp) LeafHash() []byte { return leafHash(s.JWS) }
