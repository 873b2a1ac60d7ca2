package oid4vci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
)

// CredentialRequest is a Credential Request (section 8.2). Exactly one of
// CredentialConfigurationID and CredentialIdentifier is set. Encrypted requests and
// credential_response_encryption are not supported.
type CredentialRequest struct {
	// CredentialConfigurationID names a credential configuration, when the Token Response
	// returned no credential_identifiers.
	CredentialConfigurationID string `json:"credential_configuration_id,omitempty"`
	// CredentialIdentifier names a credential dataset from the Token Response.
	CredentialIdentifier string `json:"credential_identifier,omitempty"`
	// Proofs holds the key proofs, one credential per proof, or nil.
	Proofs *Proofs `json:"proofs,omitempty"`
}

// Proofs is the proofs object of a Credential Request holding jwt proofs.
type Proofs struct {
	// JWT holds openid4vci-proof+jwt proofs; non-empty.
	JWT []string `json:"jwt"`
}

// credentialRequestWire is the wire form read by ParseCredentialRequest: proofs is kept raw
// to check that it holds exactly one proof type, and the pre-1.0 single proof is accepted.
type credentialRequestWire struct {
	CredentialConfigurationID *string                    `json:"credential_configuration_id"`
	CredentialIdentifier      *string                    `json:"credential_identifier"`
	Proofs                    map[string]json.RawMessage `json:"proofs"`
	Proof                     *legacyProof               `json:"proof"`
	ResponseEncryption        json.RawMessage            `json:"credential_response_encryption"`
}

type legacyProof struct {
	ProofType string `json:"proof_type"`
	JWT       string `json:"jwt"`
}

// MaxProofs is the largest number of proofs ParseCredentialRequest accepts in one request;
// the issuer's batch_size should not exceed it.
const MaxProofs = 100

// ParseCredentialRequest parses a Credential Request of at most MaxMessageSize*4 bytes of
// strict JSON. Exactly one of credential_configuration_id and credential_identifier must be
// present and non-empty. proofs, if present, must hold exactly one proof type, which must be
// jwt with 1 to MaxProofs non-empty strings. For wallets of drafts 13 and 14 the single
// "proof" object {"proof_type":"jwt","jwt":...} is accepted too and returned as a one-element
// Proofs; having both is an error. Encode never writes "proof". Errors wrap ErrMalformed
// (error code invalid_credential_request), ErrTooLarge, or ErrInvalidProof (with
// ErrProofSyntax) for a proof type other than jwt or an empty proof list. credential_response_
// encryption is rejected with ErrMalformed, since this issuer does not encrypt.
func ParseCredentialRequest(data []byte) (*CredentialRequest, error) {
	var w credentialRequestWire
	if err := decodeStrict(data, 4*MaxMessageSize, "credential request", &w); err != nil {
		return nil, err
	}
	var r CredentialRequest
	switch {
	case w.CredentialConfigurationID != nil && w.CredentialIdentifier != nil:
		return nil, fmt.Errorf("%w: credential request: both credential_configuration_id and credential_identifier", ErrMalformed)
	case w.CredentialConfigurationID != nil:
		r.CredentialConfigurationID = *w.CredentialConfigurationID
		if r.CredentialConfigurationID == "" {
			return nil, fmt.Errorf("%w: credential request: empty credential_configuration_id", ErrMalformed)
		}
	case w.CredentialIdentifier != nil:
		r.CredentialIdentifier = *w.CredentialIdentifier
		if r.CredentialIdentifier == "" {
			return nil, fmt.Errorf("%w: credential request: empty credential_identifier", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: credential request: neither credential_configuration_id nor credential_identifier", ErrMalformed)
	}
	if len(w.ResponseEncryption) > 0 && string(w.ResponseEncryption) != "null" {
		return nil, fmt.Errorf("%w: credential request: credential_response_encryption is not supported", ErrMalformed)
	}
	switch {
	case w.Proofs != nil && w.Proof != nil:
		return nil, fmt.Errorf("%w: credential request: both proofs and proof", ErrMalformed)
	case w.Proof != nil:
		if w.Proof.ProofType != ProofTypeJWT {
			return nil, fmt.Errorf("%w: %w: proof_type %q is not supported", ErrInvalidProof, ErrProofSyntax, w.Proof.ProofType)
		}
		if w.Proof.JWT == "" {
			return nil, fmt.Errorf("%w: %w: proof.jwt missing", ErrInvalidProof, ErrProofSyntax)
		}
		r.Proofs = &Proofs{JWT: []string{w.Proof.JWT}}
	case w.Proofs != nil:
		if len(w.Proofs) != 1 {
			return nil, fmt.Errorf("%w: credential request: proofs holds %d proof types, want exactly 1", ErrMalformed, len(w.Proofs))
		}
		raw, ok := w.Proofs[ProofTypeJWT]
		if !ok {
			for k := range w.Proofs {
				return nil, fmt.Errorf("%w: %w: proof type %q is not supported", ErrInvalidProof, ErrProofSyntax, k)
			}
		}
		var jwts []string
		if err := json.Unmarshal(raw, &jwts); err != nil {
			return nil, fmt.Errorf("%w: credential request: proofs.jwt: %v", ErrMalformed, err)
		}
		if len(jwts) == 0 {
			return nil, fmt.Errorf("%w: %w: proofs.jwt is empty", ErrInvalidProof, ErrProofSyntax)
		}
		if len(jwts) > MaxProofs {
			return nil, fmt.Errorf("%w: credential request: %d proofs, limit %d", ErrTooLarge, len(jwts), MaxProofs)
		}
		for i, j := range jwts {
			if j == "" {
				return nil, fmt.Errorf("%w: %w: proofs.jwt[%d] is empty", ErrInvalidProof, ErrProofSyntax, i)
			}
		}
		r.Proofs = &Proofs{JWT: jwts}
	}
	return &r, nil
}

// Encode returns the request as compact JSON.
func (r *CredentialRequest) Encode() ([]byte, error) {
	return encodeJSON(r)
}

// CredentialResponse is a Credential Response or Deferred Credential Response (sections 8.3
// and 9.2): either Credentials (HTTP 200) or TransactionID with Interval (HTTP 202).
type CredentialResponse struct {
	// Credentials are the issued credentials, one per proof unless the issuer issued fewer.
	Credentials []IssuedCredential `json:"credentials,omitempty"`
	// TransactionID identifies a deferred issuance.
	TransactionID string `json:"transaction_id,omitempty"`
	// Interval is the minimum wait in seconds before asking the Deferred Credential Endpoint;
	// required with TransactionID. The specification allows any positive number; this type
	// holds whole seconds.
	Interval int `json:"interval,omitempty"`
	// NotificationID identifies this issuance at the Notification Endpoint; only with
	// Credentials.
	NotificationID string `json:"notification_id,omitempty"`
}

// IssuedCredential is one element of credentials.
type IssuedCredential struct {
	// Credential is the credential: a JSON string for SD-JWT VC, JWT and mdoc formats, a JSON
	// object for ldp_vc.
	Credential json.RawMessage `json:"credential"`
}

// StringCredential returns an IssuedCredential holding the string s, such as an SD-JWT VC.
func StringCredential(s string) IssuedCredential {
	b, _ := json.Marshal(s) // marshalling a string cannot fail
	return IssuedCredential{Credential: b}
}

// String returns the credential if it is a JSON string, and false otherwise.
func (c IssuedCredential) String() (string, bool) {
	var s string
	if err := json.Unmarshal(c.Credential, &s); err != nil {
		return "", false
	}
	return s, true
}

// Validate checks the exclusive forms of section 8.3: either a non-empty credentials array
// whose elements each carry a non-null credential, with no transaction_id or interval; or a
// transaction_id with a positive interval and no notification_id. Errors wrap ErrMalformed.
func (r *CredentialResponse) Validate() error {
	switch {
	case len(r.Credentials) > 0 && r.TransactionID != "":
		return fmt.Errorf("%w: credential response: both credentials and transaction_id", ErrMalformed)
	case len(r.Credentials) > 0:
		if r.Interval != 0 {
			return fmt.Errorf("%w: credential response: interval with credentials", ErrMalformed)
		}
		for i, c := range r.Credentials {
			if len(c.Credential) == 0 || string(c.Credential) == "null" {
				return fmt.Errorf("%w: credential response: credentials[%d].credential missing", ErrMalformed, i)
			}
		}
	case r.TransactionID != "":
		if r.Interval <= 0 {
			return fmt.Errorf("%w: credential response: transaction_id without a positive interval", ErrMalformed)
		}
		if r.NotificationID != "" {
			return fmt.Errorf("%w: credential response: notification_id without credentials", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: credential response: neither credentials nor transaction_id", ErrMalformed)
	}
	return nil
}

// LogValue logs the shape of the response without the credentials, which carry personal
// data.
func (r *CredentialResponse) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("credentials", len(r.Credentials)),
		slog.Bool("deferred", r.TransactionID != ""),
		slog.Int("interval", r.Interval),
	)
}

// Deferred reports whether the response defers issuance (HTTP 202).
func (r *CredentialResponse) Deferred() bool { return r.TransactionID != "" }

// ParseCredentialResponse parses a (Deferred) Credential Response of at most
// MaxCredentialResponseSize bytes and validates it. Errors wrap ErrMalformed or ErrTooLarge.
func ParseCredentialResponse(data []byte) (*CredentialResponse, error) {
	var r CredentialResponse
	if err := decodeStrict(data, MaxCredentialResponseSize, "credential response", &r); err != nil {
		return nil, err
	}
	for i, c := range r.Credentials {
		// Compact object credentials so that a parsed response re-encodes to the same bytes.
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.Credential); err == nil {
			r.Credentials[i].Credential = buf.Bytes()
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Encode validates the response and returns it as compact JSON. Errors wrap ErrMalformed.
func (r *CredentialResponse) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return encodeJSON(r)
}

// DeferredCredentialRequest is a Deferred Credential Request (section 9.1).
type DeferredCredentialRequest struct {
	// TransactionID is from the Credential Response; required.
	TransactionID string `json:"transaction_id"`
}

// ParseDeferredCredentialRequest parses a Deferred Credential Request of at most
// MaxMessageSize bytes; transaction_id is required. Errors wrap ErrMalformed or ErrTooLarge.
func ParseDeferredCredentialRequest(data []byte) (*DeferredCredentialRequest, error) {
	var r DeferredCredentialRequest
	if err := decodeStrict(data, MaxMessageSize, "deferred credential request", &r); err != nil {
		return nil, err
	}
	if r.TransactionID == "" {
		return nil, fmt.Errorf("%w: deferred credential request: transaction_id missing", ErrMalformed)
	}
	return &r, nil
}

// NotificationRequest is a Notification Request (section 11.1).
type NotificationRequest struct {
	// NotificationID is from the Credential Response; required.
	NotificationID string `json:"notification_id"`
	// Event is one of the Event... constants; required.
	Event string `json:"event"`
	// EventDescription is human-readable ASCII text without '"' or '\', or "".
	EventDescription string `json:"event_description,omitempty"`
}

// ParseNotificationRequest parses a Notification Request of at most MaxMessageSize bytes:
// notification_id is required, event must be one of the three events (case-sensitive), and
// event_description must keep to %x20-21 / %x23-5B / %x5D-7E. Errors wrap ErrMalformed (error
// code invalid_notification_request) or ErrTooLarge.
func ParseNotificationRequest(data []byte) (*NotificationRequest, error) {
	var r NotificationRequest
	if err := decodeStrict(data, MaxMessageSize, "notification request", &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the rules listed at ParseNotificationRequest. Errors wrap ErrMalformed.
func (r *NotificationRequest) Validate() error {
	if r.NotificationID == "" {
		return fmt.Errorf("%w: notification request: notification_id missing", ErrMalformed)
	}
	switch r.Event {
	case EventCredentialAccepted, EventCredentialFailure, EventCredentialDeleted:
	default:
		return fmt.Errorf("%w: notification request: unknown event %q", ErrMalformed, r.Event)
	}
	for _, c := range r.EventDescription {
		if !validASCIIText(c) {
			return fmt.Errorf("%w: notification request: event_description has character %q", ErrMalformed, c)
		}
	}
	return nil
}
