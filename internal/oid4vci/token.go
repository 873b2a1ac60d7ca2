package oid4vci

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// TokenRequest is a Token Request with the Pre-Authorized Code grant (section 6.1), sent as
// application/x-www-form-urlencoded. It holds secrets; its LogValue redacts them.
type TokenRequest struct {
	// GrantType is GrantTypePreAuthorizedCode.
	GrantType string
	// PreAuthorizedCode is the code from the offer; required.
	PreAuthorizedCode string
	// TxCode is the Transaction Code the End-User entered, or "" when the offer had no
	// tx_code.
	TxCode string
	// ClientID is the client identifier, or "" for anonymous access.
	ClientID string
}

// ParseTokenRequest parses a Token Request from its form values. grant_type must be
// GrantTypePreAuthorizedCode (otherwise the error wraps ErrUnsupportedGrantType); the
// pre-authorized_code is required; no parameter this package reads may appear twice (RFC 6749
// section 3.2) and no value may be empty. Other parameters, such as authorization_details,
// are ignored. Other errors wrap ErrMalformed (error code invalid_request). Whether tx_code
// must be present depends on the offer and is the caller's check.
func ParseTokenRequest(form url.Values) (*TokenRequest, error) {
	get := func(name string, required bool) (string, error) {
		v, ok := form[name]
		switch {
		case !ok && required:
			return "", fmt.Errorf("%w: token request: %s missing", ErrMalformed, name)
		case !ok:
			return "", nil
		case len(v) != 1:
			return "", fmt.Errorf("%w: token request: %s repeated", ErrMalformed, name)
		case v[0] == "":
			return "", fmt.Errorf("%w: token request: %s empty", ErrMalformed, name)
		}
		return v[0], nil
	}
	gt, err := get("grant_type", true)
	if err != nil {
		return nil, err
	}
	if gt != GrantTypePreAuthorizedCode {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedGrantType, gt)
	}
	r := &TokenRequest{GrantType: gt}
	if r.PreAuthorizedCode, err = get("pre-authorized_code", true); err != nil {
		return nil, err
	}
	if r.TxCode, err = get("tx_code", false); err != nil {
		return nil, err
	}
	if r.ClientID, err = get("client_id", false); err != nil {
		return nil, err
	}
	return r, nil
}

// Encode returns the request as an application/x-www-form-urlencoded body. GrantType defaults
// to GrantTypePreAuthorizedCode; empty TxCode and ClientID are left out.
func (r *TokenRequest) Encode() string {
	v := url.Values{}
	gt := r.GrantType
	if gt == "" {
		gt = GrantTypePreAuthorizedCode
	}
	v.Set("grant_type", gt)
	v.Set("pre-authorized_code", r.PreAuthorizedCode)
	if r.TxCode != "" {
		v.Set("tx_code", r.TxCode)
	}
	if r.ClientID != "" {
		v.Set("client_id", r.ClientID)
	}
	return v.Encode()
}

// CheckTxCode checks the request's tx_code against want, the Transaction Code the issuer
// generated for the offer ("" when the offer had no tx_code), as section 6.3 says: a tx_code
// sent when none was expected, or missing when one was, wraps ErrMalformed (error code
// invalid_request); a wrong one wraps ErrInvalidGrant (invalid_grant). The comparison is
// constant-time. Limiting guesses is the caller's job.
func (r *TokenRequest) CheckTxCode(want string) error {
	switch {
	case want == "" && r.TxCode != "":
		return fmt.Errorf("%w: token request: tx_code sent but the offer has none", ErrMalformed)
	case want == "":
		return nil
	case r.TxCode == "":
		return fmt.Errorf("%w: token request: tx_code missing", ErrMalformed)
	case !CheckTxCode(want, r.TxCode):
		return fmt.Errorf("%w: wrong tx_code", ErrInvalidGrant)
	}
	return nil
}

// LogValue redacts the pre-authorized code and the transaction code.
func (r *TokenRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("grant_type", r.GrantType),
		slog.Bool("tx_code_present", r.TxCode != ""),
		slog.String("client_id", r.ClientID),
	)
}

// TokenResponse is a successful Token Response (section 6.2). It holds secrets; its LogValue
// redacts them.
type TokenResponse struct {
	// AccessToken is the access token; required.
	AccessToken string `json:"access_token"`
	// TokenType is TokenTypeBearer (compared case-insensitively) or "DPoP"; required.
	TokenType string `json:"token_type"`
	// ExpiresIn is the lifetime of the access token in seconds, or 0 when not given.
	ExpiresIn int `json:"expires_in,omitempty"`
	// RefreshToken is a refresh token, or "".
	RefreshToken string `json:"refresh_token,omitempty"`
	// AuthorizationDetails carries credential_identifiers when authorization_details were used.
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
	// CNonce is the pre-1.0 c_nonce in the Token Response. 1.0 moved it to the Nonce
	// Endpoint; it is kept so wallets can read older issuers. ezheng does not send it.
	CNonce string `json:"c_nonce,omitempty"`
	// CNonceExpiresIn is the pre-1.0 lifetime of CNonce in seconds.
	CNonceExpiresIn int `json:"c_nonce_expires_in,omitempty"`
}

// AuthorizationDetail is an authorization_details entry of type openid_credential in a Token
// Response (section 6.2).
type AuthorizationDetail struct {
	// Type is "openid_credential".
	Type string `json:"type"`
	// CredentialConfigurationID names the credential configuration.
	CredentialConfigurationID string `json:"credential_configuration_id,omitempty"`
	// CredentialIdentifiers are the credential datasets the access token can obtain; the
	// wallet uses them as credential_identifier.
	CredentialIdentifiers []string `json:"credential_identifiers,omitempty"`
}

// LogValue redacts the tokens and the nonce.
func (r *TokenResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_type", r.TokenType), slog.Int("expires_in", r.ExpiresIn))
}

// ParseTokenResponse parses a Token Response of at most MaxMessageSize bytes: access_token is
// required and token_type must be Bearer or DPoP (case-insensitive, RFC 6749 section 7.1).
// Errors wrap ErrMalformed or ErrTooLarge.
func ParseTokenResponse(data []byte) (*TokenResponse, error) {
	var r TokenResponse
	if err := decodeStrict(data, MaxMessageSize, "token response", &r); err != nil {
		return nil, err
	}
	if r.AccessToken == "" {
		return nil, fmt.Errorf("%w: token response: access_token missing", ErrMalformed)
	}
	if !strings.EqualFold(r.TokenType, TokenTypeBearer) && !strings.EqualFold(r.TokenType, "DPoP") {
		return nil, fmt.Errorf("%w: token response: token_type %q", ErrMalformed, r.TokenType)
	}
	if r.ExpiresIn < 0 {
		return nil, fmt.Errorf("%w: token response: negative expires_in", ErrMalformed)
	}
	return &r, nil
}

// NonceResponse is the Nonce Endpoint's response (section 7.2). The issuer must send it with
// Cache-Control: no-store.
type NonceResponse struct {
	// CNonce is the fresh, unpredictable challenge; required.
	CNonce string `json:"c_nonce"`
}

// ParseNonceResponse parses a Nonce Response of at most MaxMessageSize bytes; c_nonce is
// required. Errors wrap ErrMalformed or ErrTooLarge.
func ParseNonceResponse(data []byte) (*NonceResponse, error) {
	var r NonceResponse
	if err := decodeStrict(data, MaxMessageSize, "nonce response", &r); err != nil {
		return nil, err
	}
	if r.CNonce == "" {
		return nil, fmt.Errorf("%w: nonce response: c_nonce missing", ErrMalformed)
	}
	return &r, nil
}
