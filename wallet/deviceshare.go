package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ezheng/ezheng/internal/oid4vp"
	"github.com/ezheng/ezheng/internal/secret"
)

// Sharing online (OpenID4VP) a credential bound to a holder key on the phone: Share prepares
// the presentations and, instead of posting them, keeps them as a device signing request of
// kind SigningShare and hands the phone the KB-JWTs to sign (aud = the verifier's client_id,
// nonce = the request's nonce); CompleteShare checks the signatures against the registered
// keys, as the verifier will, and only then posts the response.

// ShareSigning is a consent that waits for the phone: the key-binding JWTs of the
// presentations whose holder key is on the device. The app signs each SigningInput with the
// holder key HolderKey names and posts the signatures, by query id, to
// POST /bridge/v1/share-requests/consent/{id}/complete before ExpiresAt. Nothing has been sent
// to the verifier yet.
type ShareSigning struct {
	ID       string           `json:"id"`
	Verifier VerifierIdentity `json:"verifier"`
	// Sign are the KB-JWTs to sign, one per presentation bound to a key on the phone.
	Sign []ShareKBJWT `json:"sign"`
	// Shared is what the response will hold once signed (wallet-held credentials included).
	Shared    []SharedCredential `json:"shared"`
	ExpiresAt time.Time          `json:"expires_at"`
}

// ShareKBJWT is one KB-JWT of a share for the phone to sign: SigningInput is its JWS signing
// input, Header and Payload decoded (payload {"aud": the verifier's client_id, "iat", "nonce":
// the request's nonce, "sd_hash": base64url of SHA-256 of SDJWT}), so the app can check what
// it signs before asking the citizen.
type ShareKBJWT struct {
	QueryID      string          `json:"query_id"`
	CredentialID string          `json:"credential_id"`
	HolderKey    string          `json:"holder_key"`
	Alg          string          `json:"alg"`
	SigningInput string          `json:"signing_input"`
	Header       json.RawMessage `json:"header"`
	Payload      json.RawMessage `json:"payload"`
	SDJWT        string          `json:"sd_jwt"`
	Disclosed    []string        `json:"disclosed"`
}

// shareOnPhone is a presentation of Share whose KB-JWT the phone signs.
type shareOnPhone struct {
	QueryID      string
	CredentialID string
	Disclosed    []string
	Key          HolderKey
}

// shareSecrets is what CompleteShare needs, sealed at rest: the request object (verified
// again when the signatures arrive), the presentations by query id (complete for wallet-held
// credentials, the SD-JWT part for those the phone signs), the KB-JWTs to sign, and what the
// history records.
type shareSecrets struct {
	Request     string                `json:"request"`
	Token       map[string]string     `json:"token"`
	Sign        []shareKBSecret       `json:"sign"`
	Shared      []SharedCredential    `json:"shared"`
	Credentials map[string]Credential `json:"credentials"` // metadata of the shared credentials
}

type shareKBSecret struct {
	QueryID      string `json:"query_id"`
	HolderKeyID  string `json:"holder_key_id"`
	SigningInput string `json:"signing_input"`
}

// startShareSigning keeps a consent whose presentations onPhone the phone must sign, for the
// session's device, until the QR validity has passed (the verifier accepts a KB-JWT that
// young) or the request expires, whichever is first.
func (s *Service) startShareSigning(ctx context.Context, sess Session, req *oid4vp.AuthorizationRequest, requestObject string, res ShareResult,
	token map[string]string, onPhone []shareOnPhone, creds map[string]Credential, now time.Time) (ShareSigning, error) {
	ks, err := s.deviceKeys()
	if err != nil {
		return ShareSigning{}, err
	}
	expires := now.Add(s.qrValidity)
	if exp := time.Unix(req.ExpiresAt, 0); req.ExpiresAt != 0 && exp.Before(expires) {
		expires = exp.UTC()
	}
	out := ShareSigning{ID: secret.ID("ds"), Verifier: res.Verifier, Shared: res.Shared, ExpiresAt: expires}
	sec := shareSecrets{Request: requestObject, Token: token, Shared: res.Shared, Credentials: map[string]Credential{}}
	for _, sh := range res.Shared {
		sec.Credentials[sh.CredentialID] = creds[sh.CredentialID]
	}
	for _, o := range onPhone {
		kb, err := kbToSign(o.Key, req.ClientID, req.Nonce, token[o.QueryID], now)
		if err != nil {
			return ShareSigning{}, err
		}
		out.Sign = append(out.Sign, ShareKBJWT{QueryID: o.QueryID, CredentialID: o.CredentialID, HolderKey: o.Key.ID, Alg: o.Key.Alg,
			SigningInput: kb.input, Header: kb.header, Payload: kb.payload, SDJWT: token[o.QueryID], Disclosed: o.Disclosed})
		sec.Sign = append(sec.Sign, shareKBSecret{QueryID: o.QueryID, HolderKeyID: o.Key.ID, SigningInput: kb.input})
	}
	p := DeviceSigning{ID: out.ID, CitizenID: sess.Citizen.ID, DeviceID: sess.Device.ID, HolderKeyID: onPhone[0].Key.ID, Kind: SigningShare,
		CreatedAt: now, ExpiresAt: expires}
	if err := s.saveSigning(ctx, ks, p, sec); err != nil {
		return ShareSigning{}, err
	}
	s.log.InfoContext(ctx, "share waits for the device's signatures", "citizen", sess.Citizen.ID, "verifier", res.Verifier.DID, "signatures", len(out.Sign))
	return out, nil
}

// CompleteShare finishes a consent Share left to the phone (ShareSigning.ID): signatures
// holds, per query id of ShareSigning.Sign, base64url of the 64-byte JWS signature of its
// signing input. It verifies the request object again, appends each KB-JWT and checks it
// against the registered holder key as a verifier would (signature, typ, aud, nonce, iat,
// sd_hash), marks the request used, posts the response and records it in the history, as
// Share does. Errors: ErrNotFound (also another citizen's or device's request, or a removed
// holder key), ErrSigningExpired, ErrSigningUsed, ErrInvalidRequest (a signature for a query
// not asked), ErrDeviceSignature, ErrVerifierIdentity, ErrShareRequest — all before anything
// is sent or stored — then ErrShareRefused.
func (s *Service) CompleteShare(ctx context.Context, sess Session, id string, signatures map[string]string) (ShareResult, error) {
	ks, p, sealed, err := s.openSigning(ctx, sess, id, SigningShare)
	if err != nil {
		return ShareResult{}, err
	}
	var sec shareSecrets
	if err := json.Unmarshal(sealed, &sec); err != nil {
		return ShareResult{}, fmt.Errorf("signing request %s: %w", p.ID, err)
	}
	req, err := s.reverify(ctx, sec.Request)
	if err != nil {
		return ShareResult{}, err
	}
	for qid := range signatures {
		if !slices.ContainsFunc(sec.Sign, func(k shareKBSecret) bool { return k.QueryID == qid }) {
			return ShareResult{}, fmt.Errorf("%w: no KB-JWT of query %q to sign", ErrInvalidRequest, qid)
		}
	}
	token := make(map[string]string, len(sec.Token))
	for qid, t := range sec.Token {
		token[qid] = t
	}
	for _, k := range sec.Sign {
		sig, ok := signatures[k.QueryID]
		if !ok {
			return ShareResult{}, fmt.Errorf("%w: no signature for query %q", ErrDeviceSignature, k.QueryID)
		}
		if token[k.QueryID], err = s.keyBound(ctx, ks, sess.Citizen.ID, k.HolderKeyID, sec.Token[k.QueryID], k.SigningInput, sig, req.ClientID, req.Nonce); err != nil {
			return ShareResult{}, fmt.Errorf("query %q: %w", k.QueryID, err)
		}
	}
	if err := ks.UseSigning(ctx, sess.Citizen.ID, p.ID, s.now().UTC()); err != nil {
		return ShareResult{}, err
	}
	res := ShareResult{Verifier: identity(req, sec.Request), Shared: sec.Shared}
	return s.sendShare(ctx, sess.Citizen, req, res, token, sec.Credentials, s.now().UTC().Truncate(time.Second))
}
