package did

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/hyperledger/aries-framework-go/component/kmscrypto/doc/util/fingerprint"
)

// contexts of the documents we generate.
var (
	contextDID     = "https://www.w3.org/ns/did/v1"
	contextJWK2020 = "https://w3id.org/security/suites/jws-2020/v1"
)

// Local resolves the self-describing methods did:key (Ed25519 and P-256) and did:jwk with no
// network and no storage. The zero value is ready to use and safe for concurrent use.
type Local struct{}

// Resolve implements Resolver for did:key and did:jwk.
func (Local) Resolve(_ context.Context, s string) (*Document, error) {
	d, err := Parse(s)
	if err != nil {
		return nil, err
	}
	switch d.Method {
	case "key":
		return resolveKey(d)
	case "jwk":
		return resolveJWK(d)
	}
	return nil, fmt.Errorf("%w: did:%s", ErrMethodNotSupported, d.Method)
}

// NewKey returns the did:key DID of pub (ed25519.PublicKey or P-256 *ecdsa.PublicKey) and the
// DID URL of its verification method, for use as a JWS kid.
func NewKey(pub crypto.PublicKey) (did, kid string, err error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		did, kid = fingerprint.CreateDIDKeyByCode(fingerprint.ED25519PubKeyMultiCodec, k)
		return did, kid, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			break
		}
		did, kid = fingerprint.CreateDIDKeyByCode(fingerprint.P256PubKeyMultiCodec, elliptic.MarshalCompressed(k.Curve, k.X, k.Y))
		return did, kid, nil
	}
	return "", "", fmt.Errorf("did:key: unsupported key type %T", pub)
}

func resolveKey(d DID) (*Document, error) {
	raw, code, err := fingerprint.PubKeyFromFingerprint(d.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: did:key: %v", ErrInvalidDID, err)
	}
	var pub crypto.PublicKey
	switch code {
	case fingerprint.ED25519PubKeyMultiCodec:
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: did:key: Ed25519 key of %d bytes", ErrInvalidDID, len(raw))
		}
		pub = ed25519.PublicKey(raw)
	case fingerprint.P256PubKeyMultiCodec:
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), raw)
		if x == nil {
			return nil, fmt.Errorf("%w: did:key: invalid P-256 point", ErrInvalidDID)
		}
		pub = &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
	default:
		return nil, fmt.Errorf("%w: did:key: unsupported multicodec 0x%x", ErrInvalidDID, code)
	}
	// Reject non-canonical encodings: the DID must be exactly what we would generate.
	did, kid, err := NewKey(pub)
	if err != nil || did != d.String() {
		return nil, fmt.Errorf("%w: did:key: non-canonical encoding", ErrInvalidDID)
	}
	return singleKeyDocument(did, kid, pub), nil
}

// NewJWK returns the did:jwk DID of the public key pub and the DID URL of its verification
// method ("#0").
func NewJWK(pub crypto.PublicKey) (did, kid string, err error) {
	jwk := jose.JSONWebKey{Key: pub}
	if !jwk.Valid() || !jwk.IsPublic() {
		return "", "", fmt.Errorf("did:jwk: not a valid public key (%T)", pub)
	}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return "", "", err
	}
	did = "did:jwk:" + base64.RawURLEncoding.EncodeToString(b)
	return did, did + "#0", nil
}

func resolveJWK(d DID) (*Document, error) {
	b, err := base64.RawURLEncoding.DecodeString(d.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: did:jwk: not base64url", ErrInvalidDID)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(b, &jwk); err != nil {
		return nil, fmt.Errorf("%w: did:jwk: %v", ErrInvalidDID, err)
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, fmt.Errorf("%w: did:jwk: not a public key", ErrInvalidDID)
	}
	switch k := jwk.Key.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: did:jwk: only P-256 curves", ErrInvalidDID)
		}
	default:
		return nil, fmt.Errorf("%w: did:jwk: unsupported key type", ErrInvalidDID)
	}
	did := d.String()
	return singleKeyDocument(did, did+"#0", jwk.Key), nil
}

func singleKeyDocument(did, kid string, pub crypto.PublicKey) *Document {
	return &Document{
		Context: []string{contextDID, contextJWK2020},
		ID:      did,
		VerificationMethod: []VerificationMethod{{
			ID: kid, Type: "JsonWebKey2020", Controller: did,
			PublicKeyJwk: &jose.JSONWebKey{Key: pub},
		}},
		Authentication:       []string{kid},
		AssertionMethod:      []string{kid},
		CapabilityInvocation: []string{kid},
		CapabilityDelegation: []string{kid},
	}
}
