package wallet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ezheng/ezheng/internal/oid4vci"
)

// Errors of receiving through OpenID4VCI.
var (
	// ErrOffer is returned for an offer that cannot be used: malformed, insecure, expired,
	// or refused by its issuer (the wrapped text has the issuer's error code).
	ErrOffer = errors.New("credential offer cannot be redeemed")
	// ErrTxCodeRequired is returned when the offer asks for a transaction code and none was
	// given: the app must ask the citizen for it.
	ErrTxCodeRequired = errors.New("the offer needs the transaction code sent to the citizen")
)

// RedeemOffer runs the OpenID4VCI 1.0 pre-authorized code flow for citizen c against any
// standards-following issuer: it parses the offer (deep link or QR text; by value or by
// reference), reads the issuer's metadata, exchanges the pre-authorized code (and txCode) for
// an access token, gets a c_nonce, proves possession of c's holder key, requests the
// credential, checks and stores every credential it receives (Receive), and notifies the
// issuer that it was accepted. When the issuer defers issuance (an officer must approve), it
// keeps the pending transaction and returns a *PendingError (ErrIssuancePending) listing it:
// collect it later with CollectPending. Errors: ErrOffer, ErrTxCodeRequired,
// ErrInvalidCredential, ErrNotBound, *PendingError; nothing is stored if a step fails.
func (s *Service) RedeemOffer(ctx context.Context, c Citizen, offerURI, txCode string) ([]Credential, error) {
	st, err := s.prepareOffer(ctx, offerURI, txCode)
	if err != nil {
		return nil, err
	}
	key, err := s.holderKey(ctx, c)
	if err != nil {
		return nil, err
	}
	signer, err := oid4vci.NewProofSigner(key.Signer(), "")
	if err != nil {
		return nil, err
	}
	proof, err := oid4vci.BuildProof(signer, "", st.CredentialIssuer, st.Nonce, s.now())
	if err != nil {
		return nil, err
	}
	return s.finishOffer(ctx, c, st, proof)
}

// offerState is a pre-authorized code flow up to the proof of possession: the issuer's
// metadata, the access token and the c_nonce. It is sealed at rest while a device signs.
type offerState struct {
	CredentialIssuer string                  `json:"credential_issuer"`
	ConfigID         string                  `json:"credential_configuration_id"`
	Meta             *oid4vci.IssuerMetadata `json:"metadata"`
	AccessToken      string                  `json:"access_token"`
	Nonce            string                  `json:"nonce,omitempty"`
}

// prepareOffer parses an offer, reads the issuer's and authorization server's metadata,
// exchanges the pre-authorized code (and txCode) for an access token and gets a c_nonce.
// Errors: ErrOffer, ErrTxCodeRequired.
func (s *Service) prepareOffer(ctx context.Context, offerURI, txCode string) (*offerState, error) {
	opts := s.offerOptions()
	offer, ref, err := oid4vci.ParseOfferURI(strings.TrimSpace(offerURI), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOffer, err)
	}
	if ref != "" {
		b, err := s.get(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("%w: fetch offer: %v", ErrOffer, err)
		}
		if offer, err = oid4vci.ParseOffer(b, opts...); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrOffer, err)
		}
	}
	if offer.Grants == nil || offer.Grants.PreAuthorizedCode == nil {
		return nil, fmt.Errorf("%w: only the pre-authorized code flow is supported", ErrOffer)
	}
	grant := offer.Grants.PreAuthorizedCode
	if grant.TxCode != nil && txCode == "" {
		return nil, ErrTxCodeRequired
	}
	metaURL, err := oid4vci.MetadataURL(offer.CredentialIssuer, oid4vci.WellKnownCredentialIssuer, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOffer, err)
	}
	b, err := s.get(ctx, metaURL)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer metadata: %v", ErrOffer, err)
	}
	meta, err := oid4vci.ParseIssuerMetadata(b, offer.CredentialIssuer, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer metadata: %v", ErrOffer, err)
	}
	as := offer.CredentialIssuer
	if grant.AuthorizationServer != "" {
		as = grant.AuthorizationServer
	} else if len(meta.AuthorizationServers) > 0 {
		as = meta.AuthorizationServers[0]
	}
	asURL, err := oid4vci.MetadataURL(as, oid4vci.WellKnownAuthorizationServer, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOffer, err)
	}
	if b, err = s.get(ctx, asURL); err != nil {
		return nil, fmt.Errorf("%w: authorization server metadata: %v", ErrOffer, err)
	}
	asMeta, err := oid4vci.ParseAuthorizationServerMetadata(b, as, opts...)
	if err != nil || asMeta.TokenEndpoint == "" {
		return nil, fmt.Errorf("%w: authorization server metadata: %v", ErrOffer, err)
	}

	// Token.
	treq := oid4vci.TokenRequest{GrantType: oid4vci.GrantTypePreAuthorizedCode, PreAuthorizedCode: grant.PreAuthorizedCode, TxCode: txCode}
	b, err = s.post(ctx, asMeta.TokenEndpoint, "", "application/x-www-form-urlencoded", []byte(treq.Encode()))
	if err != nil {
		return nil, err
	}
	tok, err := oid4vci.ParseTokenResponse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: token response: %v", ErrOffer, err)
	}

	// Nonce for the proof of possession of the holder key.
	nonce := tok.CNonce
	if meta.NonceEndpoint != "" {
		if b, err = s.post(ctx, meta.NonceEndpoint, "", "", nil); err != nil {
			return nil, err
		}
		nr, err := oid4vci.ParseNonceResponse(b)
		if err != nil {
			return nil, fmt.Errorf("%w: nonce response: %v", ErrOffer, err)
		}
		nonce = nr.CNonce
	}
	return &offerState{CredentialIssuer: offer.CredentialIssuer, ConfigID: offer.CredentialConfigurationIDs[0], Meta: meta,
		AccessToken: tok.AccessToken, Nonce: nonce}, nil
}

// finishOffer requests the credential with proof, then checks and keeps every credential it
// receives and tells the issuer (or keeps a deferred issuance: *PendingError).
func (s *Service) finishOffer(ctx context.Context, c Citizen, st *offerState, proof string) ([]Credential, error) {
	creq, _ := json.Marshal(oid4vci.CredentialRequest{CredentialConfigurationID: st.ConfigID, Proofs: &oid4vci.Proofs{JWT: []string{proof}}})
	b, err := s.post(ctx, st.Meta.CredentialEndpoint, st.AccessToken, "application/json", creq)
	if err != nil {
		return nil, err
	}
	cresp, err := oid4vci.ParseCredentialResponse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: credential response: %v", ErrOffer, err)
	}
	if cresp.Deferred() {
		// An officer must approve first: keep what is needed to collect it later.
		p, err := s.keepPending(ctx, c, st.Meta, st.ConfigID, st.AccessToken, cresp)
		if err != nil {
			return nil, err
		}
		return nil, &PendingError{Pending: []PendingIssuance{p}}
	}

	// Check and keep every credential; tell the issuer.
	got, err := s.acceptCredentials(ctx, c, cresp, st.Meta.NotificationEndpoint, st.AccessToken)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "credential offer redeemed", "citizen", c.ID, "issuer", st.CredentialIssuer, "credentials", len(got))
	return got, nil
}

func (s *Service) offerOptions() []oid4vci.ParseOption {
	if s.allowLoopback {
		return []oid4vci.ParseOption{oid4vci.AllowLoopbackHTTP()}
	}
	return nil
}

// maxResponse bounds what the wallet reads from an issuer.
const maxResponse = 1 << 20

func (s *Service) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return s.do(req)
}

func (s *Service) post(ctx context.Context, u, token, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(req)
}

// do sends req and returns the body of a 2xx answer; an OAuth error answer becomes an
// ErrOffer that also wraps the issuer's *oid4vci.ErrorResponse.
func (s *Service) do(req *http.Request) ([]byte, error) {
	if _, err := url.Parse(req.URL.String()); err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrOffer, req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOffer, err)
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("%w: %s answer larger than %d bytes", ErrOffer, req.URL.Path, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		var e oid4vci.ErrorResponse
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("%w: %s: %w", ErrOffer, req.URL.Path, &e)
		}
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrOffer, req.URL.Path, resp.StatusCode)
	}
	return b, nil
}
