package oid4vci

import (
	"fmt"
	"strings"
)

// Error codes for ErrorResponse.Code. The Token Endpoint uses the RFC 6749 section 5.2 codes
// (OpenID4VCI 1.0 section 6.3 says when), protected endpoints use RFC 6750 codes for access
// token problems, and the Credential, Deferred Credential and Notification Endpoints use the
// codes of sections 8.3.1.2, 9.3 and 11.3.
const (
	// ErrorInvalidRequest: a malformed Token Request, or a tx_code sent when none was expected
	// or missing when one was.
	ErrorInvalidRequest = "invalid_request"
	// ErrorInvalidClient: client authentication failed, or a Pre-Authorized Code was sent
	// without client_id to a server that does not allow anonymous access.
	ErrorInvalidClient = "invalid_client"
	// ErrorInvalidGrant: wrong or expired Pre-Authorized Code, or wrong Transaction Code.
	ErrorInvalidGrant = "invalid_grant"
	// ErrorUnauthorizedClient: the client may not use this grant type.
	ErrorUnauthorizedClient = "unauthorized_client"
	// ErrorUnsupportedGrantType: the grant type is not supported.
	ErrorUnsupportedGrantType = "unsupported_grant_type"
	// ErrorInvalidScope: the requested scope is invalid.
	ErrorInvalidScope = "invalid_scope"

	// ErrorInvalidToken: the access token is missing, expired, revoked or malformed (RFC 6750
	// section 3.1; sent in WWW-Authenticate). There is no separate "expired_token" code.
	ErrorInvalidToken = "invalid_token"
	// ErrorInsufficientScope: the access token does not cover the request (RFC 6750).
	ErrorInsufficientScope = "insufficient_scope"

	// ErrorInvalidCredentialRequest: the Credential Request is malformed.
	ErrorInvalidCredentialRequest = "invalid_credential_request"
	// ErrorUnknownCredentialConfiguration: credential_configuration_id is unknown.
	ErrorUnknownCredentialConfiguration = "unknown_credential_configuration"
	// ErrorUnknownCredentialIdentifier: credential_identifier is unknown.
	ErrorUnknownCredentialIdentifier = "unknown_credential_identifier"
	// ErrorInvalidProof: proofs missing, a proof invalid, or a proof without a c_nonce.
	ErrorInvalidProof = "invalid_proof"
	// ErrorInvalidNonce: a proof carries a c_nonce that is not valid; fetch a fresh one.
	ErrorInvalidNonce = "invalid_nonce"
	// ErrorInvalidEncryptionParameters: encryption parameters invalid or missing.
	ErrorInvalidEncryptionParameters = "invalid_encryption_parameters"
	// ErrorCredentialRequestDenied: the issuer will not issue; do not retry.
	ErrorCredentialRequestDenied = "credential_request_denied"
	// ErrorInvalidTransactionID: the Deferred Credential Request's transaction_id is unknown
	// or already used.
	ErrorInvalidTransactionID = "invalid_transaction_id"
	// ErrorInvalidNotificationID: the Notification Request's notification_id is invalid.
	ErrorInvalidNotificationID = "invalid_notification_id"
	// ErrorInvalidNotificationRequest: the Notification Request is malformed.
	ErrorInvalidNotificationRequest = "invalid_notification_request"

	// ErrorIssuancePending is the pre-1.0 (draft 13 and earlier) deferred-endpoint code for
	// "not ready yet". 1.0 servers answer 202 with transaction_id and interval instead; a
	// wallet may meet it from older issuers and should treat it like that 202. Never send it.
	ErrorIssuancePending = "issuance_pending"
	// ErrorUnsupportedCredentialType is the pre-1.0 code that 1.0 replaced with
	// ErrorUnknownCredentialConfiguration and ErrorUnknownCredentialIdentifier. Never send it.
	ErrorUnsupportedCredentialType = "unsupported_credential_type"
)

// Notification events (section 11.1).
const (
	// EventCredentialAccepted: the credentials were stored in the wallet.
	EventCredentialAccepted = "credential_accepted"
	// EventCredentialFailure: issuance failed for a reason other than a user action.
	EventCredentialFailure = "credential_failure"
	// EventCredentialDeleted: issuance was unsuccessful because of a user action.
	EventCredentialDeleted = "credential_deleted"
)

// TokenTypeBearer is the token_type of a bearer access token (RFC 6750).
const TokenTypeBearer = "Bearer"

// ErrorResponse is the JSON error body of the Token, Credential, Deferred Credential and
// Notification Endpoints. It implements error so that clients can return it.
type ErrorResponse struct {
	// Code is one of the Error... constants.
	Code string `json:"error"`
	// Description is human-readable ASCII text without '"' or '\', or "".
	Description string `json:"error_description,omitempty"`
}

// NewErrorResponse returns an ErrorResponse with code and description, replacing every
// character of description that the specification does not allow in error_description
// (anything outside %x20-21 / %x23-5B / %x5D-7E) with '?'.
func NewErrorResponse(code, description string) *ErrorResponse {
	return &ErrorResponse{Code: code, Description: asciiText(description)}
}

// Error returns the code and, if present, the description.
func (e *ErrorResponse) Error() string {
	if e.Description == "" {
		return "oid4vci: " + e.Code
	}
	return "oid4vci: " + e.Code + ": " + e.Description
}

// ParseErrorResponse parses an error body of at most MaxMessageSize bytes; error is required.
// Errors wrap ErrMalformed or ErrTooLarge.
func ParseErrorResponse(data []byte) (*ErrorResponse, error) {
	var e ErrorResponse
	if err := decodeStrict(data, MaxMessageSize, "error response", &e); err != nil {
		return nil, err
	}
	if e.Code == "" {
		return nil, fmt.Errorf("%w: error response: error missing", ErrMalformed)
	}
	return &e, nil
}

// asciiText replaces characters outside %x20-21 / %x23-5B / %x5D-7E with '?'.
func asciiText(s string) string {
	return strings.Map(func(r rune) rune {
		if validASCIIText(r) {
			return r
		}
		return '?'
	}, s)
}

func validASCIIText(r rune) bool {
	return r >= 0x20 && r <= 0x7e && r != '"' && r != '\\'
}
