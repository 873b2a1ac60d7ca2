package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/secret"
)

// Holder keys on the device. Besides the holder key the wallet keeps sealed for each citizen,
// the app can register holder keys it keeps itself (in the phone's secure hardware): the
// wallet stores only the public key. A credential whose cnf.jwk is such a key is in device
// mode: to show it, the wallet prepares the key-binding JWT and the app signs it
// (StartPresentation, CompletePresentation); to receive one through OpenID4VCI, the wallet
// prepares the proof JWT and the app signs it (StartDeviceOffer, CompleteDeviceOffer). The
// wallet assembles what was signed and checks the signature against the registered key before
// using it. Design: docs/design/0005-bridge-auth.md, "Holder keys on the phone".

// Errors of holder keys on the device.
var (
	// ErrHolderKeyProof: the registration proof is malformed, not signed by the key it
	// carries, stale, or made for another audience or device.
	ErrHolderKeyProof = errors.New("holder key proof rejected")
	// ErrHolderKeyInUse: the key is registered to another citizen.
	ErrHolderKeyInUse = fmt.Errorf("%w: the holder key is registered to another account", problem.ErrConflict)
	// ErrHolderKeyIsDeviceKey: the app offered its DPoP device key as a holder key; they must
	// be distinct keys.
	ErrHolderKeyIsDeviceKey = errors.New("the holder key must not be a device (DPoP) key")
	// ErrHolderKeyOnDevice: the credential's holder key is on the phone, so the server cannot
	// sign for it; use the two-step presentation.
	ErrHolderKeyOnDevice = errors.New("the credential's holder key is held on the device: use POST /bridge/v1/credentials/{id}/presentations")
	// ErrHolderKeyOnServer: the credential's holder key is held by the wallet; use the
	// one-step QR.
	ErrHolderKeyOnServer = errors.New("the credential's holder key is held by the wallet: use POST /bridge/v1/credentials/{id}/qr")
	// ErrDeviceSignature: the signature the app sent does not verify with the holder key
	// over the signing input the wallet gave it.
	ErrDeviceSignature = errors.New("device signature rejected")
	// ErrSigningExpired: the signing request is older than its lifetime.
	ErrSigningExpired = errors.New("the signing request has expired; start again")
	// ErrSigningUsed: the signing request was completed before.
	ErrSigningUsed = errors.New("the signing request was completed before")
	// errNoDeviceKeyStore is returned when the Store cannot keep device holder keys.
	errNoDeviceKeyStore = errors.New("wallet: the store does not keep device holder keys")
)

// HolderKeyProofType is the typ header of the JWT with which the app proves possession of a
// holder key it registers.
const HolderKeyProofType = "holder-key+jwt"

// Limits of what the app sends.
const (
	// MaxHolderKeyProof is the longest registration proof accepted.
	MaxHolderKeyProof = 4 << 10
	// holderKeyProofMaxAge is how old a registration proof's iat may be, and proofSkew how
	// far ahead of the wallet's clock.
	holderKeyProofMaxAge = 5 * time.Minute
	proofSkew            = 30 * time.Second
	// ReceiptValidity is how long the app has to sign an OpenID4VCI proof.
	ReceiptValidity = 2 * time.Minute
)

// HolderKey is a holder key the citizen's app keeps on the device; the wallet has only the
// public key.
type HolderKey struct {
	ID         string          `json:"id"`
	DID        string          `json:"did"` // did:jwk of the key: the holder of its credentials
	KID        string          `json:"kid"` // did:jwk URL of the key (DID + "#0")
	Thumbprint string          `json:"jkt"` // RFC 7638 SHA-256 thumbprint
	Alg        string          `json:"alg"` // ES256 or EdDSA
	Key        jose.JSONWebKey `json:"jwk"` // public
	DeviceID   string          `json:"device_id,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Kinds of device signing requests.
const (
	SigningPresentation = "presentation"
	SigningReceipt      = "receipt"
	SigningShare        = "share" // the KB-JWTs of an OpenID4VP response (oid4vp.go)
)

// DeviceSigning is a signature the wallet waits for from a device, as stored: who may
// complete it and until when. Its secrets are sealed apart.
type DeviceSigning struct {
	ID           string
	CitizenID    string
	DeviceID     string
	HolderKeyID  string
	Kind         string
	CredentialID string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	Used         bool
}

// DeviceKeyStore is the part of the Store for device holder keys and signing requests (found
// by type assertion); implementation: walletstore.
type DeviceKeyStore interface {
	// AddHolderKey stores k for the citizen unless they have a key with the same thumbprint
	// already (that one is returned, with created false). A key of another citizen gives
	// ErrHolderKeyInUse; a key that is some device's DPoP key ErrHolderKeyIsDeviceKey.
	AddHolderKey(ctx context.Context, citizenID string, k HolderKey) (stored HolderKey, created bool, err error)
	// HolderKeys lists the citizen's device holder keys, oldest first.
	HolderKeys(ctx context.Context, citizenID string) ([]HolderKey, error)
	// HolderKeyByThumbprint returns the citizen's holder key with that thumbprint, or
	// ErrNotFound; HolderKeyByID the one with that id, or ErrNotFound.
	HolderKeyByThumbprint(ctx context.Context, citizenID, jkt string) (HolderKey, error)
	HolderKeyByID(ctx context.Context, citizenID, id string) (HolderKey, error)
	// DeleteHolderKey deletes the citizen's holder key and its signing requests, or returns
	// ErrNotFound.
	DeleteHolderKey(ctx context.Context, citizenID, id string) error
	// SaveSigning stores a signing request with its sealed secrets, and forgets requests of
	// any citizen that expired before p.CreatedAt minus an hour.
	SaveSigning(ctx context.Context, p DeviceSigning, sealed []byte) error
	// Signing returns the citizen's signing request with its sealed secrets, or ErrNotFound.
	Signing(ctx context.Context, citizenID, id string) (DeviceSigning, []byte, error)
	// UseSigning marks the citizen's signing request used and drops its secrets, in one
	// statement: ErrSigningUsed if it was used already, ErrNotFound if there is none.
	UseSigning(ctx context.Context, citizenID, id string, now time.Time) error
}

func (s *Service) deviceKeys() (DeviceKeyStore, error) {
	ks, ok := s.store.(DeviceKeyStore)
	if !ok {
		return nil, errNoDeviceKeyStore
	}
	return ks, nil
}

// RegisterHolderKey registers the holder key that signed proof for the citizen of session
// sess. proof is a JWS (compact) with header {"alg": "ES256" or "EdDSA", "typ":
// "holder-key+jwt", "jwk": the public key} and payload {"aud": audience, "iat": now,
// "nonce": the session device's JWK thumbprint}: it shows the app holds the key and made the
// proof for this device. The key must not be a DPoP device key. Registering a key the citizen
// has already returns it with created false. Errors: ErrHolderKeyProof, ErrHolderKeyInUse,
// ErrHolderKeyIsDeviceKey; nothing is stored when it fails.
func (s *Service) RegisterHolderKey(ctx context.Context, sess Session, proof, audience string) (HolderKey, bool, error) {
	ks, err := s.deviceKeys()
	if err != nil {
		return HolderKey{}, false, err
	}
	now := s.now().UTC()
	key, err := ParseHolderKeyProof(proof, HolderKeyProofOptions{Audience: audience, Nonce: sess.Device.Thumbprint, Now: now})
	if err != nil {
		return HolderKey{}, false, err
	}
	hk, err := newHolderKey(key, sess.Device.ID, now)
	if err != nil {
		return HolderKey{}, false, err
	}
	if hk.Thumbprint == sess.Device.Thumbprint {
		return HolderKey{}, false, ErrHolderKeyIsDeviceKey
	}
	stored, created, err := ks.AddHolderKey(ctx, sess.Citizen.ID, hk)
	if err != nil {
		return HolderKey{}, false, err
	}
	if created {
		s.log.InfoContext(ctx, "device holder key registered", "citizen", sess.Citizen.ID, "holder_key", stored.ID, "alg", stored.Alg)
		s.audit(ctx, "holder_key.registered", sess.Citizen.ID, nil)
	}
	return stored, created, nil
}

// HolderKeys lists the device holder keys of c.
func (s *Service) HolderKeys(ctx context.Context, c Citizen) ([]HolderKey, error) {
	ks, err := s.deviceKeys()
	if err != nil {
		return nil, err
	}
	return ks.HolderKeys(ctx, c.ID)
}

// RemoveHolderKey forgets one of c's device holder keys and its pending signing requests.
// Credentials bound to it stay in the wallet but can no longer be shown through the bridge
// (credential-not-bound), nor can new ones bound to it be received. Errors: ErrNotFound (also
// for another citizen's key).
func (s *Service) RemoveHolderKey(ctx context.Context, c Citizen, id string) error {
	ks, err := s.deviceKeys()
	if err != nil {
		return err
	}
	if err := ks.DeleteHolderKey(ctx, c.ID, id); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "device holder key removed", "citizen", c.ID, "holder_key", id)
	s.audit(ctx, "holder_key.removed", c.ID, nil)
	return nil
}

// newHolderKey describes a public holder key: its algorithm, thumbprint and did:jwk.
func newHolderKey(key jose.JSONWebKey, deviceID string, now time.Time) (HolderKey, error) {
	alg, err := keyAlg(key)
	if err != nil {
		return HolderKey{}, err
	}
	pub := jose.JSONWebKey{Key: key.Key, Algorithm: alg}
	tp, err := dpop.Thumbprint(pub)
	if err != nil {
		return HolderKey{}, fmt.Errorf("%w: %v", ErrHolderKeyProof, err)
	}
	d, kid, err := did.NewJWK(key.Key)
	if err != nil {
		return HolderKey{}, fmt.Errorf("%w: %v", ErrHolderKeyProof, err)
	}
	return HolderKey{ID: secret.ID("hk"), DID: d, KID: kid, Thumbprint: tp, Alg: alg, Key: pub, DeviceID: deviceID,
		CreatedAt: now.UTC().Truncate(time.Second)}, nil
}

// keyAlg returns the JWS algorithm of a public P-256 or Ed25519 key.
func keyAlg(key jose.JSONWebKey) (string, error) {
	if !key.Valid() || !key.IsPublic() {
		return "", fmt.Errorf("%w: jwk must be a valid public key", ErrHolderKeyProof)
	}
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return string(jose.ES256), nil
		}
	case ed25519.PublicKey:
		return string(jose.EdDSA), nil
	}
	return "", fmt.Errorf("%w: jwk must be a P-256 (ES256) or Ed25519 (EdDSA) key", ErrHolderKeyProof)
}

// HolderKeyProofOptions are what ParseHolderKeyProof checks a registration proof against.
type HolderKeyProofOptions struct {
	Audience string    // required aud
	Nonce    string    // required nonce (the device's JWK thumbprint)
	Now      time.Time // the wallet's clock
}

// ParseHolderKeyProof parses and verifies a holder key registration proof (see
// RegisterHolderKey) and returns the public key it carries. It accepts only ES256 and EdDSA,
// a typ of HolderKeyProofType, a public jwk header matching alg, no kid, crit or other key
// header, one signature by that key, and a JSON object payload without duplicate members
// whose aud and nonce equal opts' and whose iat lies within the last 5 minutes (30 s skew).
// Every failure wraps ErrHolderKeyProof.
func ParseHolderKeyProof(proof string, opts HolderKeyProofOptions) (jose.JSONWebKey, error) {
	fail := func(format string, args ...any) (jose.JSONWebKey, error) {
		return jose.JSONWebKey{}, fmt.Errorf("%w: "+format, append([]any{ErrHolderKeyProof}, args...)...)
	}
	proof = strings.TrimSpace(proof)
	if proof == "" || len(proof) > MaxHolderKeyProof {
		return fail("proof must be a compact JWS of at most %d bytes", MaxHolderKeyProof)
	}
	if strings.Count(proof, ".") != 2 {
		return fail("proof is not a compact JWS")
	}
	jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		return fail("%v", err)
	}
	if len(jws.Signatures) != 1 {
		return fail("want one signature")
	}
	h := jws.Signatures[0].Protected
	var raw map[string]json.RawMessage
	hb, err := base64.RawURLEncoding.DecodeString(proof[:strings.IndexByte(proof, '.')])
	if err != nil || json.Unmarshal(hb, &raw) != nil {
		return fail("header is not a JSON object")
	}
	if err := noDuplicateMembers(hb, "header"); err != nil {
		return fail("%v", err)
	}
	for name := range raw {
		switch name {
		case "alg", "typ", "jwk":
		default:
			return fail("header parameter %q is not allowed", name)
		}
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != HolderKeyProofType {
		return fail("typ must be %q", HolderKeyProofType)
	}
	if h.JSONWebKey == nil {
		return fail("header has no jwk")
	}
	key := *h.JSONWebKey
	alg, err := keyAlg(key)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	if h.Algorithm != alg {
		return fail("alg %q does not fit the jwk (%s)", h.Algorithm, alg)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return fail("signature does not verify with the jwk")
	}
	if err := checkProofPayload(payload, opts); err != nil {
		return fail("%v", err)
	}
	return jose.JSONWebKey{Key: key.Key, Algorithm: alg}, nil
}

func checkProofPayload(payload []byte, opts HolderKeyProofOptions) error {
	if err := noDuplicateMembers(payload, "payload"); err != nil {
		return err
	}
	var p struct {
		Aud   *string      `json:"aud"`
		Iat   *json.Number `json:"iat"`
		Nonce *string      `json:"nonce"`
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	if p.Aud == nil || *p.Aud != opts.Audience {
		return fmt.Errorf("aud must be %q", opts.Audience)
	}
	if p.Nonce == nil || *p.Nonce != opts.Nonce {
		return errors.New("nonce must be the thumbprint of the device key of this session")
	}
	if p.Iat == nil {
		return errors.New("iat is required")
	}
	iat, err := p.Iat.Int64()
	if err != nil {
		return errors.New("iat must be an integer")
	}
	t := time.Unix(iat, 0)
	if t.After(opts.Now.Add(proofSkew)) || t.Before(opts.Now.Add(-holderKeyProofMaxAge-proofSkew)) {
		return fmt.Errorf("iat %d is not within the last %s", iat, holderKeyProofMaxAge)
	}
	return nil
}

// noDuplicateMembers checks that b is one JSON object whose top-level members are distinct;
// what names the part in errors.
func noDuplicateMembers(b []byte, what string) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%s is not a JSON object", what)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		name, _ := t.(string)
		if seen[name] {
			return fmt.Errorf("%s member %q appears twice", what, name)
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if dec.More() {
		return fmt.Errorf("%s has data after the object", what)
	}
	return nil
}

// ParseSignature decodes the signature the app sends for a signing input: base64url without
// padding of the 64-byte JWS signature (R||S for ES256, as RFC 7518 section 3.4 says; the
// Ed25519 signature for EdDSA). Errors wrap ErrDeviceSignature.
func ParseSignature(sig string) ([]byte, error) {
	if len(sig) != 86 {
		return nil, fmt.Errorf("%w: signature must be 86 base64url characters (64 bytes)", ErrDeviceSignature)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(b) != 64 {
		return nil, fmt.Errorf("%w: signature is not base64url of 64 bytes", ErrDeviceSignature)
	}
	return b, nil
}

// boundKey reports which of c's holder keys hk (a credential's cnf.jwk) is: the device
// holder key it names, or device false for the wallet-held key. Errors: ErrNotBound for
// neither.
func (s *Service) boundKey(ctx context.Context, c Citizen, hk *jose.JSONWebKey) (HolderKey, bool, error) {
	key, err := s.holderKey(ctx, c)
	if err != nil {
		return HolderKey{}, false, err
	}
	want := key.PublicJWK()
	if sameKey(hk, &want) {
		return HolderKey{}, false, nil
	}
	ks, ok := s.store.(DeviceKeyStore)
	if !ok {
		return HolderKey{}, false, ErrNotBound
	}
	tp, err := dpop.Thumbprint(*hk)
	if err != nil {
		return HolderKey{}, false, ErrNotBound
	}
	dk, err := ks.HolderKeyByThumbprint(ctx, c.ID, tp)
	if errors.Is(err, ErrNotFound) {
		return HolderKey{}, false, ErrNotBound
	}
	if err != nil {
		return HolderKey{}, false, err
	}
	return dk, true, nil
}

// credentialKey returns the holder key a stored credential (raw, verified when it was
// received and sealed since) is bound to: see boundKey. It reads only cnf.jwk of the issuer
// payload, since it runs on every counter QR.
func (s *Service) credentialKey(ctx context.Context, c Citizen, raw string) (HolderKey, bool, error) {
	jwt, _, _ := strings.Cut(raw, "~")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return HolderKey{}, false, errors.New("stored credential: not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return HolderKey{}, false, fmt.Errorf("stored credential: %w", err)
	}
	var p struct {
		Cnf struct {
			JWK json.RawMessage `json:"jwk"`
		} `json:"cnf"`
	}
	var hk jose.JSONWebKey
	if err := json.Unmarshal(b, &p); err != nil || hk.UnmarshalJSON(p.Cnf.JWK) != nil || !hk.Valid() || !hk.IsPublic() {
		return HolderKey{}, false, errors.New("stored credential: no public cnf.jwk")
	}
	// The wallet-held key's did:jwk is c.HolderDID: comparing it needs no unsealing. Should
	// the encoding ever differ, boundKey compares the keys themselves.
	if d, _, err := did.NewJWK(hk.Key); err == nil && c.HolderDID != "" && d == c.HolderDID {
		return HolderKey{}, false, nil
	}
	return s.boundKey(ctx, c, &hk)
}

// SigningRequest is what the app must sign with a device holder key: SigningInput, the JWS
// signing input (base64url(header) "." base64url(payload)), whose decoded Header and Payload
// are given so the app can show and check them. The app answers with the signature (see
// ParseSignature) before ExpiresAt.
type SigningRequest struct {
	ID           string          `json:"id"`
	HolderKey    string          `json:"holder_key"`
	Alg          string          `json:"alg"`
	SigningInput string          `json:"signing_input"`
	Header       json.RawMessage `json:"header"`
	Payload      json.RawMessage `json:"payload"`
	ExpiresAt    time.Time       `json:"expires_at"`
}

// PresentationRequest is a device-mode counter presentation waiting for the phone's
// signature: SDJWT is the credential with only the disclosed claims (ending in "~"), and
// the signing request is its KB-JWT (typ kb+jwt; aud, iat, nonce and sd_hash = base64url of
// SHA-256 of SDJWT).
type PresentationRequest struct {
	SigningRequest
	CredentialID string    `json:"credential_id"`
	SDJWT        string    `json:"sd_jwt"`
	Disclosed    []string  `json:"disclosed"`
	Audience     string    `json:"audience"`
	IssuedAt     time.Time `json:"issued_at"`
}

// presentationSecrets is what CompletePresentation needs, sealed at rest.
type presentationSecrets struct {
	SDJWT        string    `json:"sd_jwt"`
	SigningInput string    `json:"signing_input"`
	Disclosed    []string  `json:"disclosed"`
	Audience     string    `json:"audience"`
	Nonce        string    `json:"nonce"`
	IssuedAt     time.Time `json:"issued_at"`
}

func signingAAD(citizenID, id string) []byte { return []byte(citizenID + "/device-signing/" + id) }

// kbHeaders are the KB-JWT headers the wallet asks a phone to sign, byte for byte the ones a
// go-jose signer writes (and the compact QR knows by index).
var kbHeaders = map[string]string{
	string(jose.ES256): `{"alg":"ES256","typ":"kb+jwt"}`,
	string(jose.EdDSA): `{"alg":"EdDSA","typ":"kb+jwt"}`,
}

// StartPresentation prepares a counter presentation of credential id, which must be bound to
// one of the citizen's device holder keys: the SD-JWT with only the claims in disclose and the
// KB-JWT for the phone to sign (aud = audience or DefaultAudience, a fresh nonce, iat = now),
// kept for the session's device until the QR validity has passed. Errors: ErrNotFound,
// ErrUnknownClaim, ErrInvalidRequest, ErrHolderKeyOnServer; nothing is stored when it fails.
func (s *Service) StartPresentation(ctx context.Context, sess Session, id string, disclose []string, audience string) (PresentationRequest, error) {
	ks, err := s.deviceKeys()
	if err != nil {
		return PresentationRequest{}, err
	}
	c := sess.Citizen
	if len(disclose) == 0 {
		return PresentationRequest{}, fmt.Errorf("%w: say which claims to disclose", ErrInvalidRequest)
	}
	if audience == "" {
		audience = DefaultAudience
	}
	if len(audience) > 256 {
		return PresentationRequest{}, fmt.Errorf("%w: audience longer than 256 bytes", ErrInvalidRequest)
	}
	cr, err := s.Credential(ctx, c, id)
	if err != nil {
		return PresentationRequest{}, err
	}
	have := map[string]bool{}
	for _, n := range cr.Claims {
		have[n] = true
	}
	for _, n := range disclose {
		if !have[n] {
			return PresentationRequest{}, fmt.Errorf("%w: %q", ErrUnknownClaim, n)
		}
	}
	hk, onDevice, err := s.credentialKey(ctx, c, cr.Raw)
	if err != nil {
		return PresentationRequest{}, err
	}
	if !onDevice {
		return PresentationRequest{}, ErrHolderKeyOnServer
	}
	now := s.now().UTC().Truncate(time.Second)
	part, err := sdjwt.Present(cr.Raw, disclose, nil, "", "", now)
	if err != nil {
		return PresentationRequest{}, fmt.Errorf("present: %w", err)
	}
	nonce := secret.String(12)
	kb, err := kbToSign(hk, audience, nonce, part, now)
	if err != nil {
		return PresentationRequest{}, err
	}
	sec := presentationSecrets{SDJWT: part, SigningInput: kb.input, Disclosed: disclose, Audience: audience, Nonce: nonce, IssuedAt: now}
	p := DeviceSigning{ID: secret.ID("ds"), CitizenID: c.ID, DeviceID: sess.Device.ID, HolderKeyID: hk.ID, Kind: SigningPresentation,
		CredentialID: cr.ID, CreatedAt: now, ExpiresAt: now.Add(s.qrValidity)}
	if err := s.saveSigning(ctx, ks, p, sec); err != nil {
		return PresentationRequest{}, err
	}
	return PresentationRequest{
		SigningRequest: SigningRequest{ID: p.ID, HolderKey: hk.ID, Alg: hk.Alg, SigningInput: kb.input, Header: kb.header,
			Payload: kb.payload, ExpiresAt: p.ExpiresAt},
		CredentialID: cr.ID, SDJWT: part, Disclosed: disclose, Audience: audience, IssuedAt: now,
	}, nil
}

// kbJWT is a key-binding JWT for the phone to sign: its JWS signing input and the decoded
// header and payload.
type kbJWT struct {
	input           string
	header, payload json.RawMessage
}

// kbToSign prepares the KB-JWT of the presentation part (an SD-JWT ending in "~") for the
// device holder key hk: header kbHeaders[hk.Alg], payload {"aud", "iat", "nonce", "sd_hash"}.
func kbToSign(hk HolderKey, aud, nonce, part string, iat time.Time) (kbJWT, error) {
	header, ok := kbHeaders[hk.Alg]
	if !ok {
		return kbJWT{}, fmt.Errorf("holder key %s: no KB-JWT header for alg %q", hk.ID, hk.Alg)
	}
	payload, err := json.Marshal(struct {
		Aud    string `json:"aud"`
		Iat    int64  `json:"iat"`
		Nonce  string `json:"nonce"`
		SDHash string `json:"sd_hash"`
	}{aud, iat.Unix(), nonce, sdjwt.SDHash(part)})
	if err != nil {
		return kbJWT{}, err
	}
	return kbJWT{input: b64(header) + "." + b64(string(payload)), header: json.RawMessage(header), payload: payload}, nil
}

// keyBound appends the phone's signature of input (the KB-JWT kbToSign made for part) to
// part and checks the result as a verifier would — signature by the registered holder key
// holderKeyID of the citizen, typ, aud, nonce, iat, sd_hash — returning the presentation.
// Errors: ErrDeviceSignature, ErrNotFound (the holder key was removed).
func (s *Service) keyBound(ctx context.Context, ks DeviceKeyStore, citizenID, holderKeyID, part, input, signature, aud, nonce string) (string, error) {
	hk, err := ks.HolderKeyByID(ctx, citizenID, holderKeyID)
	if err != nil {
		return "", err
	}
	if _, err := ParseSignature(signature); err != nil {
		return "", err
	}
	text := part + input + "." + signature
	sd, err := sdjwt.Parse(text)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrDeviceSignature, err)
	}
	opts := sdjwt.KeyBindingOptions{Audience: aud, Nonce: nonce, Now: s.now().UTC(), MaxAge: s.qrValidity, Skew: time.Second}
	if err := sd.VerifyKeyBinding(&hk.Key, opts); err != nil {
		return "", fmt.Errorf("%w: %v", ErrDeviceSignature, err)
	}
	return text, nil
}

// CompletePresentation finishes a presentation StartPresentation prepared for credential id:
// it appends the KB-JWT (the signing input and signature, base64url of the 64-byte JWS
// signature) to the SD-JWT, checks the result against the registered holder key as a
// verifier would (signature, typ, aud, nonce, iat, sd_hash), marks the request used and
// returns the presentation. Errors: ErrNotFound (also for another citizen's or another
// device's request), ErrSigningExpired, ErrSigningUsed, ErrDeviceSignature; a failure changes
// nothing.
func (s *Service) CompletePresentation(ctx context.Context, sess Session, id, signingID, signature string) (Presentation, error) {
	ks, p, sealed, err := s.openSigning(ctx, sess, signingID, SigningPresentation)
	if err != nil {
		return Presentation{}, err
	}
	if p.CredentialID != id {
		return Presentation{}, fmt.Errorf("%w: no presentation %q of credential %q", ErrNotFound, signingID, id)
	}
	var sec presentationSecrets
	if err := json.Unmarshal(sealed, &sec); err != nil {
		return Presentation{}, fmt.Errorf("signing request %s: %w", p.ID, err)
	}
	text, err := s.keyBound(ctx, ks, sess.Citizen.ID, p.HolderKeyID, sec.SDJWT, sec.SigningInput, signature, sec.Audience, sec.Nonce)
	if err != nil {
		return Presentation{}, err
	}
	pres := Presentation{Text: text, Disclosed: sec.Disclosed, Audience: sec.Audience, IssuedAt: sec.IssuedAt, ExpiresAt: p.ExpiresAt}
	cr, err := s.Credential(ctx, sess.Citizen, id)
	if err != nil {
		return Presentation{}, err
	}
	if err := s.recordCounterQR(ctx, sess.Citizen, cr, pres); err != nil { // as Present: every presentation is recorded
		return Presentation{}, err
	}
	if err := ks.UseSigning(ctx, sess.Citizen.ID, p.ID, s.now().UTC()); err != nil {
		return Presentation{}, err
	}
	s.log.InfoContext(ctx, "device presentation completed", "citizen", sess.Citizen.ID, "credential", id)
	return pres, nil
}

// saveSigning seals sec with the citizen's data key and stores p.
func (s *Service) saveSigning(ctx context.Context, ks DeviceKeyStore, p DeviceSigning, sec any) error {
	b, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	cs, err := s.citizenSealer(ctx, p.CitizenID)
	if err != nil {
		return err
	}
	if err := ks.SaveSigning(ctx, p, cs.Seal(b, signingAAD(p.CitizenID, p.ID))); err != nil {
		return fmt.Errorf("save signing request: %w", err)
	}
	return nil
}

// openSigning returns the session's signing request id of kind with its secrets opened,
// if it may still be completed. Errors: ErrNotFound (absent, another citizen's, another
// device's, another kind), ErrSigningUsed, ErrSigningExpired.
func (s *Service) openSigning(ctx context.Context, sess Session, id, kind string) (DeviceKeyStore, DeviceSigning, []byte, error) {
	ks, err := s.deviceKeys()
	if err != nil {
		return nil, DeviceSigning{}, nil, err
	}
	p, sealed, err := ks.Signing(ctx, sess.Citizen.ID, id)
	if err != nil {
		return nil, DeviceSigning{}, nil, err
	}
	if p.DeviceID != sess.Device.ID || p.Kind != kind {
		return nil, DeviceSigning{}, nil, fmt.Errorf("%w: no %s signing request %q for this device", ErrNotFound, kind, id)
	}
	if p.Used {
		return nil, DeviceSigning{}, nil, ErrSigningUsed
	}
	if !s.now().Before(p.ExpiresAt) {
		return nil, DeviceSigning{}, nil, ErrSigningExpired
	}
	cs, err := s.citizenSealer(ctx, sess.Citizen.ID)
	if err != nil {
		return nil, DeviceSigning{}, nil, err
	}
	b, err := cs.Open(sealed, signingAAD(sess.Citizen.ID, p.ID))
	if err != nil {
		return nil, DeviceSigning{}, nil, fmt.Errorf("open signing request %s: %w", p.ID, err)
	}
	return ks, p, b, nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
