package issuer

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// Errors of the OpenID4VCI flow. The HTTP layer answers them as OAuth / OpenID4VCI error
// responses (invalid_grant, invalid_token, invalid_proof, invalid_nonce, …).
var (
	ErrInvalidGrant          = errors.New("pre-authorized code unknown, used or expired")
	ErrWrongTxCode           = errors.New("wrong tx_code")
	ErrInvalidToken          = errors.New("access token unknown, used or expired")
	ErrInvalidProof          = errors.New("invalid proof of possession")
	ErrInvalidNonce          = errors.New("unknown, used or expired c_nonce")
	ErrUnknownConfiguration  = errors.New("credential configuration not in this offer")
	ErrInvalidCredentialReq  = errors.New("invalid credential request")
	ErrUnknownNotification   = errors.New("unknown notification id")
	ErrInvalidNotificationRq = errors.New("invalid notification request")
)

// Lifetimes and limits of the pre-authorized code flow.
const (
	OfferLifetime     = 10 * time.Minute
	TokenLifetime     = 5 * time.Minute
	NonceLifetime     = 5 * time.Minute
	MaxTxCodeAttempts = 5
)

// OfferRecord is a stored credential offer.
type OfferRecord struct {
	ID, AgencyID, Type   string
	SealedClaims         []byte
	SealedCode           []byte // the pre-authorized code, for by-reference offers
	CodeHash, TxCodeHash []byte
	FailedAttempts       int
	State                string // offered, redeemed, issued, void
	CreatedAt, ExpiresAt time.Time
}

// OfferStore is the storage the OpenID4VCI flow needs. Implementation: issuerstore.
type OfferStore interface {
	SaveOffer(ctx context.Context, o OfferRecord) error
	// Offer returns ErrNotFound for an unknown id.
	Offer(ctx context.Context, id string) (OfferRecord, error)
	// RedeemOffer finds the offer by code hash and calls check in one transaction: if check
	// passes, the offer becomes redeemed and the access token is stored; if check returns
	// ErrWrongTxCode the failed attempt is counted (the offer is voided at
	// MaxTxCodeAttempts). It returns check's error, or ErrNotFound.
	RedeemOffer(ctx context.Context, codeHash []byte, check func(OfferRecord) error, tokenHash []byte, tokenExpires time.Time) (OfferRecord, error)
	// UseToken marks an access token used and returns its offer, or ErrInvalidToken.
	UseToken(ctx context.Context, tokenHash []byte, now time.Time) (OfferRecord, error)
	// TokenOffer returns the offer of an access token, used or not, or ErrInvalidToken.
	TokenOffer(ctx context.Context, tokenHash []byte) (OfferRecord, error)
	MarkOfferIssued(ctx context.Context, offerID, notificationID string) error
	// Notify records a wallet's event, or returns ErrUnknownNotification.
	Notify(ctx context.Context, offerID, notificationID, event string, at time.Time) error
	SaveNonce(ctx context.Context, nonceHash []byte, expires time.Time) error
	// UseNonce consumes a nonce, or returns ErrInvalidNonce.
	UseNonce(ctx context.Context, nonceHash []byte, now time.Time) error
}

// ConfigurationID is the OpenID4VCI credential_configuration_id of a type in SD-JWT VC form.
func ConfigurationID(typeName string) string { return typeName + "_sd_jwt_vc" }

// OfferRequest asks for a credential offer.
type OfferRequest struct {
	Type   string
	Claims map[string]any
	// NoTxCode leaves the tx_code out (the default is a 6-digit code delivered out of band).
	NoTxCode bool
}

// Offer is a created credential offer: the deep links and the tx_code to send the citizen
// another way (SMS, letter, the counter clerk).
type Offer struct {
	ID             string    `json:"offer_id"`
	URI            string    `json:"offer_uri"`              // by value
	URIByReference string    `json:"offer_uri_by_reference"` // credential_offer_uri
	TxCode         string    `json:"tx_code,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// CreateOffer makes a pre-authorized credential offer of req.Type with req.Claims for agency a.
// The claims are checked now (ErrUnknownType, ErrTypeNotAllowed, ErrInvalidClaims) and sealed;
// the credential is bound to whatever key the wallet proves at redemption.
func (s *Service) CreateOffer(ctx context.Context, a Agency, req OfferRequest) (Offer, error) {
	if s.offers == nil || s.publicURL == "" {
		return Offer{}, errors.New("issuer: OpenID4VCI is not configured")
	}
	t, err := s.AgencyType(ctx, a, req.Type)
	if err != nil {
		return Offer{}, err
	}
	if !contains(a.Types, t.Name) {
		return Offer{}, fmt.Errorf("%w: %s may not issue %s", ErrTypeNotAllowed, a.Name, t.Name)
	}
	if err := t.Validate(req.Claims); err != nil {
		return Offer{}, err
	}
	claims, err := json.Marshal(req.Claims)
	if err != nil {
		return Offer{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	code, err := oid4vci.NewSecret(nil)
	if err != nil {
		return Offer{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	rec := OfferRecord{ID: secret.ID("offer"), AgencyID: a.ID, Type: t.Name, CodeHash: hashSecret(code),
		State: "offered", CreatedAt: now, ExpiresAt: now.Add(OfferLifetime)}
	rec.SealedClaims = s.sealer.Seal(claims, []byte(rec.ID))
	rec.SealedCode = s.sealer.Seal([]byte(code), []byte(rec.ID+"/code"))
	var tx string
	if !req.NoTxCode {
		if tx, _, err = oid4vci.NewTxCode(0, nil); err != nil {
			return Offer{}, err
		}
		rec.TxCodeHash = hashSecret(tx)
	}
	if err := s.offers.SaveOffer(ctx, rec); err != nil {
		return Offer{}, fmt.Errorf("save offer: %w", err)
	}
	offer := s.offerObject(rec, code)
	uri, err := oid4vci.EncodeOfferURI(offer, oid4vci.AllowLoopbackHTTP())
	if err != nil {
		return Offer{}, err
	}
	byRef, err := oid4vci.EncodeOfferURIByReference(s.publicURL+"/oid4vci/offers/"+rec.ID, oid4vci.AllowLoopbackHTTP())
	if err != nil {
		return Offer{}, err
	}
	s.log.InfoContext(ctx, "credential offer created", "agency", a.ID, "offer", rec.ID, "type", t.Name)
	return Offer{ID: rec.ID, URI: uri, URIByReference: byRef, TxCode: tx, ExpiresAt: rec.ExpiresAt}, nil
}

// OfferObject returns the credential offer JSON served at the offer's credential_offer_uri
// (the URL's random offer id is as secret as the code inside), while the offer is open.
// Errors: ErrNotFound (unknown, redeemed or expired).
func (s *Service) OfferObject(ctx context.Context, id string) ([]byte, error) {
	o, err := s.offers.Offer(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.State != "offered" || !s.now().Before(o.ExpiresAt) {
		return nil, ErrNotFound
	}
	code, err := s.sealer.Open(o.SealedCode, []byte(o.ID+"/code"))
	if err != nil {
		return nil, fmt.Errorf("open offer %s: %w", o.ID, err)
	}
	return json.Marshal(s.offerObject(o, string(code)))
}

func (s *Service) offerObject(o OfferRecord, code string) *oid4vci.CredentialOffer {
	grant := &oid4vci.PreAuthorizedCodeGrant{PreAuthorizedCode: code}
	if o.TxCodeHash != nil {
		grant.TxCode = &oid4vci.TxCode{InputMode: "numeric", Length: oid4vci.DefaultTxCodeLength, Description: "The code sent to you by the issuing agency"}
	}
	return &oid4vci.CredentialOffer{CredentialIssuer: s.publicURL, CredentialConfigurationIDs: []string{ConfigurationID(o.Type)},
		Grants: &oid4vci.Grants{PreAuthorizedCode: grant}}
}

func hashSecret(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// IssuerMetadata returns this issuer's OpenID4VCI Credential Issuer metadata.
func (s *Service) IssuerMetadata() oid4vci.IssuerMetadata {
	m := oid4vci.IssuerMetadata{
		CredentialIssuer:           s.publicURL,
		CredentialEndpoint:         s.publicURL + "/oid4vci/credential",
		NonceEndpoint:              s.publicURL + "/oid4vci/nonce",
		NotificationEndpoint:       s.publicURL + "/oid4vci/notification",
		DeferredCredentialEndpoint: s.publicURL + "/oid4vci/deferred_credential",
		Display: []oid4vci.Display{
			{Name: "ezheng 电子证照签发服务", Locale: "zh-CN"},
			{Name: "ezheng credential issuance", Locale: "en"},
		},
		CredentialConfigurationsSupported: map[string]oid4vci.CredentialConfiguration{},
	}
	// Every agency's own types are listed too: a wallet redeeming an offer of one finds its
	// configuration here. The directory is in memory once loaded; the metadata call has no
	// request context to pass down, so the first load (normally done by then) gets a bounded one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	own, err := s.ownTypes(ctx, "")
	if err != nil {
		s.log.Error("agencies' credential types left out of the issuer metadata", "err", err)
	}
	for _, t := range append(credtype.Builtin().All(), own...) {
		raw := t.OpenID4VCIConfiguration(credtype.FormatSDJWTVC)
		if raw == nil {
			continue
		}
		b, _ := json.Marshal(raw)
		var cc oid4vci.CredentialConfiguration
		if err := json.Unmarshal(b, &cc); err != nil {
			continue
		}
		m.CredentialConfigurationsSupported[ConfigurationID(t.Name)] = cc
	}
	return m
}

// OAuth values of the authorization server metadata (RFC 8414 §2, RFC 7591 §2).
const (
	// GrantTypeClientCredentials is the OAuth 2.0 client credentials grant (RFC 6749 §4.4)
	// with which an agency's OAuth client gets an access token.
	GrantTypeClientCredentials = "client_credentials"
	// AuthMethodNone: a wallet redeeming a pre-authorized code does not authenticate.
	AuthMethodNone = "none"
	// AuthMethodClientSecretBasic and AuthMethodClientSecretPost are how an agency's client
	// authenticates: HTTP Basic or client_id/client_secret form fields (RFC 6749 §2.3.1).
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
)

// AuthorizationServerMetadata returns the RFC 8414 metadata of this server as the OAuth
// authorization server of its credential issuer. One token endpoint, /oid4vci/token, takes
// both grants: the pre-authorized code (OpenID4VCI §4.1.1, anonymous: no client_id needed)
// and, when the service has an OAuth client store, the client credentials grant of agencies'
// clients (the same grant /oauth/token serves). There is no authorization endpoint, so no
// response types: RFC 8414 §3.2 says members with no values are omitted, and OpenID4VCI 1.0
// §12.3 lets a pre-authorized-code-only server leave response_types_supported out.
func (s *Service) AuthorizationServerMetadata() oid4vci.AuthorizationServerMetadata {
	m := oid4vci.AuthorizationServerMetadata{
		Issuer: s.publicURL, TokenEndpoint: s.publicURL + "/oid4vci/token",
		GrantTypesSupported:                        []string{oid4vci.GrantTypePreAuthorizedCode},
		TokenEndpointAuthMethodsSupported:          []string{AuthMethodNone},
		PreAuthorizedGrantAnonymousAccessSupported: true,
	}
	if s.clients != nil {
		m.GrantTypesSupported = append(m.GrantTypesSupported, GrantTypeClientCredentials)
		m.TokenEndpointAuthMethodsSupported = append(m.TokenEndpointAuthMethodsSupported, AuthMethodClientSecretBasic, AuthMethodClientSecretPost)
	}
	return m
}

// Token redeems a pre-authorized code (and tx_code) for a single-use access token. Errors:
// ErrInvalidGrant (unknown, used, expired or voided code), ErrWrongTxCode (the attempt is
// counted; after MaxTxCodeAttempts the offer is void), ErrInvalidRequest (tx_code missing).
func (s *Service) Token(ctx context.Context, req *oid4vci.TokenRequest) (oid4vci.TokenResponse, error) {
	tok, err := oid4vci.NewSecret(nil)
	if err != nil {
		return oid4vci.TokenResponse{}, err
	}
	now := s.now().UTC()
	_, err = s.offers.RedeemOffer(ctx, hashSecret(req.PreAuthorizedCode), func(o OfferRecord) error {
		switch {
		case o.State != "offered" || !now.Before(o.ExpiresAt):
			return ErrInvalidGrant
		case o.TxCodeHash == nil && req.TxCode != "":
			return fmt.Errorf("%w: this offer has no tx_code", ErrInvalidRequest)
		case o.TxCodeHash != nil && req.TxCode == "":
			return fmt.Errorf("%w: tx_code is required", ErrInvalidRequest)
		case o.TxCodeHash != nil && subtle.ConstantTimeCompare(o.TxCodeHash, hashSecret(req.TxCode)) != 1:
			return ErrWrongTxCode
		}
		return nil
	}, hashSecret(tok), now.Add(TokenLifetime))
	if errors.Is(err, ErrNotFound) {
		return oid4vci.TokenResponse{}, ErrInvalidGrant
	}
	if err != nil {
		return oid4vci.TokenResponse{}, err
	}
	return oid4vci.TokenResponse{AccessToken: tok, TokenType: oid4vci.TokenTypeBearer, ExpiresIn: int(TokenLifetime / time.Second)}, nil
}

// Nonce returns a fresh single-use c_nonce for a proof of possession.
func (s *Service) Nonce(ctx context.Context) (string, error) {
	n, err := oid4vci.NewSecret(nil)
	if err != nil {
		return "", err
	}
	if err := s.offers.SaveNonce(ctx, hashSecret(n), s.now().Add(NonceLifetime)); err != nil {
		return "", err
	}
	return n, nil
}

// IssueForToken answers a Credential Request made with an access token: one credential per
// proof, each bound to the key that proof proves (as did:jwk), with the offer's claims.
// For a type whose Approval is officer it issues nothing yet: it stores the checked holders as
// a pending issuance and answers a transaction id and interval (Deferred(), HTTP 202).
// Errors: ErrInvalidToken, ErrUnknownConfiguration, ErrInvalidCredentialReq, ErrInvalidProof,
// ErrInvalidNonce. The access token is used up even if a proof fails.
func (s *Service) IssueForToken(ctx context.Context, accessToken string, req *oid4vci.CredentialRequest) (oid4vci.CredentialResponse, error) {
	now := s.now().UTC()
	o, err := s.offers.UseToken(ctx, hashSecret(accessToken), now)
	if err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	if req.CredentialConfigurationID != ConfigurationID(o.Type) {
		return oid4vci.CredentialResponse{}, fmt.Errorf("%w: %q", ErrUnknownConfiguration, req.CredentialConfigurationID)
	}
	if req.Proofs == nil || len(req.Proofs.JWT) == 0 {
		return oid4vci.CredentialResponse{}, fmt.Errorf("%w: a jwt proof is required", ErrInvalidProof)
	}
	a, err := s.store.Agency(ctx, o.AgencyID)
	if err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	raw, err := s.sealer.Open(o.SealedClaims, []byte(o.ID))
	if err != nil {
		return oid4vci.CredentialResponse{}, fmt.Errorf("open offer %s: %w", o.ID, err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	// Check every proof (and use up its nonce) before issuing anything.
	var holders []PendingHolder
	for _, p := range req.Proofs.JWT {
		nonce := proofNonce(p)
		if err := s.offers.UseNonce(ctx, hashSecret(nonce), now); err != nil {
			return oid4vci.CredentialResponse{}, err
		}
		res, err := oid4vci.VerifyProof(ctx, p, oid4vci.ProofOptions{Audience: s.publicURL, Nonce: nonce, Now: now})
		if errors.Is(err, oid4vci.ErrInvalidNonce) {
			return oid4vci.CredentialResponse{}, ErrInvalidNonce
		}
		if err != nil {
			return oid4vci.CredentialResponse{}, fmt.Errorf("%w: %v", ErrInvalidProof, err)
		}
		d, _, err := did.NewJWK(res.HolderKey.Key)
		if err != nil {
			return oid4vci.CredentialResponse{}, fmt.Errorf("%w: %v", ErrInvalidProof, err)
		}
		tp, err := res.HolderKey.Thumbprint(crypto.SHA256)
		if err != nil {
			return oid4vci.CredentialResponse{}, fmt.Errorf("%w: %v", ErrInvalidProof, err)
		}
		holders = append(holders, PendingHolder{DID: d, Thumbprint: base64.RawURLEncoding.EncodeToString(tp)})
	}
	if s.needsApproval(ctx, o.Type) {
		// The proofs are checked and their nonces used; an officer decides (deferred.go).
		return s.deferIssuance(ctx, o, holders, now)
	}
	var resp oid4vci.CredentialResponse
	for _, h := range holders {
		c, _, err := s.Issue(ctx, a, IssueRequest{Type: o.Type, Holder: h.DID, Claims: claims, IdempotencyKey: "oid4vci/" + o.ID + "/" + h.Thumbprint})
		if err != nil {
			return oid4vci.CredentialResponse{}, err
		}
		resp.Credentials = append(resp.Credentials, oid4vci.StringCredential(c.Raw))
	}
	resp.NotificationID = secret.ID("ntf")
	if err := s.offers.MarkOfferIssued(ctx, o.ID, resp.NotificationID); err != nil {
		return oid4vci.CredentialResponse{}, err
	}
	s.log.InfoContext(ctx, "credentials issued through OpenID4VCI", "offer", o.ID, "count", len(resp.Credentials))
	return resp, nil
}

// Notify records a wallet's notification (credential_accepted, credential_failure,
// credential_deleted) for the offer of accessToken. Errors: ErrInvalidToken,
// ErrUnknownNotification, ErrInvalidNotificationRq.
func (s *Service) Notify(ctx context.Context, accessToken string, n *oid4vci.NotificationRequest) error {
	o, err := s.offers.TokenOffer(ctx, hashSecret(accessToken))
	if err != nil {
		return err
	}
	switch n.Event {
	case oid4vci.EventCredentialAccepted, oid4vci.EventCredentialFailure, oid4vci.EventCredentialDeleted:
	default:
		return fmt.Errorf("%w: event %q", ErrInvalidNotificationRq, n.Event)
	}
	return s.offers.Notify(ctx, o.ID, n.NotificationID, n.Event, s.now().UTC())
}

// proofNonce reads the nonce claim of a proof JWT without verifying it, to find which c_nonce
// to use up; VerifyProof then checks the proof against exactly that nonce.
func proofNonce(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > oid4vci.MaxProofSize {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var p struct {
		Nonce string `json:"nonce"`
	}
	json.Unmarshal(b, &p)
	return p.Nonce
}
