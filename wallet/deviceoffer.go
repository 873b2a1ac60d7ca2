package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/secret"
)

// Receiving a credential through OpenID4VCI for a holder key on the device: the wallet runs
// the flow up to the proof of possession, the phone signs the proof, the wallet finishes.

// receiptSecrets is what CompleteDeviceOffer needs, sealed at rest: the flow so far (with the
// issuer's access token) and the proof's signing input.
type receiptSecrets struct {
	State        offerState `json:"state"`
	SigningInput string     `json:"signing_input"`
}

// StartDeviceOffer redeems an OpenID4VCI offer for the device holder key holderKeyID of the
// session's citizen, up to the proof of possession: it reads the issuer's metadata, exchanges
// the pre-authorized code (and txCode) for an access token, gets a c_nonce, and returns the
// proof JWT for the phone to sign (header {"alg", "typ": "openid4vci-proof+jwt", "jwk"},
// payload {"aud": the credential issuer, "iat", "nonce"}), kept for the session's device for
// ReceiptValidity. Errors: ErrNotFound (no such holder key), ErrOffer, ErrTxCodeRequired.
func (s *Service) StartDeviceOffer(ctx context.Context, sess Session, holderKeyID, offerURI, txCode string) (SigningRequest, error) {
	ks, err := s.deviceKeys()
	if err != nil {
		return SigningRequest{}, err
	}
	hk, err := ks.HolderKeyByID(ctx, sess.Citizen.ID, holderKeyID)
	if err != nil {
		return SigningRequest{}, err
	}
	st, err := s.prepareOffer(ctx, offerURI, txCode)
	if err != nil {
		return SigningRequest{}, err
	}
	jwk, err := jose.JSONWebKey{Key: hk.Key.Key}.MarshalJSON()
	if err != nil {
		return SigningRequest{}, err
	}
	header, err := json.Marshal(struct {
		Alg string          `json:"alg"`
		Typ string          `json:"typ"`
		JWK json.RawMessage `json:"jwk"`
	}{hk.Alg, "openid4vci-proof+jwt", jwk})
	if err != nil {
		return SigningRequest{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	payload, err := json.Marshal(struct {
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Nonce string `json:"nonce,omitempty"`
	}{st.CredentialIssuer, now.Unix(), st.Nonce})
	if err != nil {
		return SigningRequest{}, err
	}
	input := b64(string(header)) + "." + b64(string(payload))
	p := DeviceSigning{ID: secret.ID("ds"), CitizenID: sess.Citizen.ID, DeviceID: sess.Device.ID, HolderKeyID: hk.ID, Kind: SigningReceipt,
		CreatedAt: now, ExpiresAt: now.Add(ReceiptValidity)}
	if err := s.saveSigning(ctx, ks, p, receiptSecrets{State: *st, SigningInput: input}); err != nil {
		return SigningRequest{}, err
	}
	return SigningRequest{ID: p.ID, HolderKey: hk.ID, Alg: hk.Alg, SigningInput: input, Header: header, Payload: payload, ExpiresAt: p.ExpiresAt}, nil
}

// CompleteDeviceOffer finishes an offer StartDeviceOffer began: it checks signature (base64url
// of the 64-byte JWS signature of the signing input) with the registered holder key, marks the
// request used, sends the credential request with the proof, and checks and keeps what the
// issuer answers (bound to that holder key), as RedeemOffer does. Errors: ErrNotFound (also for
// another citizen's or device's request), ErrSigningExpired, ErrSigningUsed,
// ErrDeviceSignature (nothing sent, nothing stored), then RedeemOffer's errors.
func (s *Service) CompleteDeviceOffer(ctx context.Context, sess Session, id, signature string) ([]Credential, error) {
	ks, p, sealed, err := s.openSigning(ctx, sess, id, SigningReceipt)
	if err != nil {
		return nil, err
	}
	var sec receiptSecrets
	if err := json.Unmarshal(sealed, &sec); err != nil {
		return nil, fmt.Errorf("signing request %s: %w", p.ID, err)
	}
	hk, err := ks.HolderKeyByID(ctx, sess.Citizen.ID, p.HolderKeyID)
	if err != nil {
		return nil, err
	}
	if _, err := ParseSignature(signature); err != nil {
		return nil, err
	}
	proof := sec.SigningInput + "." + signature
	jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(hk.Alg)})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDeviceSignature, err)
	}
	if _, err := jws.Verify(hk.Key); err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify with holder key %s", ErrDeviceSignature, hk.ID)
	}
	if err := ks.UseSigning(ctx, sess.Citizen.ID, p.ID, s.now().UTC()); err != nil {
		return nil, err
	}
	return s.finishOffer(ctx, sess.Citizen, &sec.State, proof)
}
