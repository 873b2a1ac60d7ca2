package oid4vci

import (
	"fmt"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Well-known path segments (OpenID4VCI 1.0 section 12.2.2, RFC 8414 section 3).
const (
	// WellKnownCredentialIssuer is inserted between host and path of the Credential Issuer
	// Identifier to form the metadata URL.
	WellKnownCredentialIssuer = "/.well-known/openid-credential-issuer"
	// WellKnownAuthorizationServer is inserted between host and path of an Authorization
	// Server issuer identifier to form its RFC 8414 metadata URL.
	WellKnownAuthorizationServer = "/.well-known/oauth-authorization-server"

	// ProofTypeJWT is the jwt key proof type (Appendix F.1), the only one this package checks.
	ProofTypeJWT = "jwt"
	// FormatSDJWTVC is the Credential Format Identifier of IETF SD-JWT VC (Appendix A.3).
	FormatSDJWTVC = "dc+sd-jwt"
	// FormatJWTVCJSON is the Credential Format Identifier of a W3C VC signed as a JWT without
	// JSON-LD (Appendix A.1.1).
	FormatJWTVCJSON = "jwt_vc_json"
	// BindingJWK is the cryptographic_binding_methods_supported value for keys in JWK format.
	BindingJWK = "jwk"
)

// IssuerMetadata is the Credential Issuer Metadata (section 12.2.4), served unsigned as
// application/json at WellKnownCredentialIssuer. Signed metadata is not supported.
type IssuerMetadata struct {
	// CredentialIssuer is the Credential Issuer Identifier; required.
	CredentialIssuer string `json:"credential_issuer"`
	// AuthorizationServers lists the Authorization Servers' issuer identifiers; nil means the
	// Credential Issuer is its own Authorization Server.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// CredentialEndpoint is the https URL of the Credential Endpoint; required.
	CredentialEndpoint string `json:"credential_endpoint"`
	// NonceEndpoint is the https URL of the Nonce Endpoint, or "" when no c_nonce is required.
	NonceEndpoint string `json:"nonce_endpoint,omitempty"`
	// DeferredCredentialEndpoint is the https URL of the Deferred Credential Endpoint, or "".
	DeferredCredentialEndpoint string `json:"deferred_credential_endpoint,omitempty"`
	// NotificationEndpoint is the https URL of the Notification Endpoint, or "".
	NotificationEndpoint string `json:"notification_endpoint,omitempty"`
	// CredentialRequestEncryption describes encryption of Credential Requests, or nil.
	CredentialRequestEncryption *RequestEncryption `json:"credential_request_encryption,omitempty"`
	// CredentialResponseEncryption describes encryption of Credential Responses, or nil.
	CredentialResponseEncryption *ResponseEncryption `json:"credential_response_encryption,omitempty"`
	// BatchCredentialIssuance, when non-nil, says how many proofs one request may carry.
	BatchCredentialIssuance *BatchCredentialIssuance `json:"batch_credential_issuance,omitempty"`
	// Display is the issuer's display data, one entry per locale.
	Display []Display `json:"display,omitempty"`
	// CredentialConfigurationsSupported maps credential configuration ids to what they issue;
	// required and non-empty.
	CredentialConfigurationsSupported map[string]CredentialConfiguration `json:"credential_configurations_supported"`
}

// RequestEncryption is the credential_request_encryption issuer metadata object.
type RequestEncryption struct {
	// JWKS holds the issuer's public encryption keys, each with a kid.
	JWKS jose.JSONWebKeySet `json:"jwks"`
	// EncValuesSupported lists JWE enc values.
	EncValuesSupported []string `json:"enc_values_supported"`
	// ZipValuesSupported lists JWE zip values, or nil for none.
	ZipValuesSupported []string `json:"zip_values_supported,omitempty"`
	// EncryptionRequired says every request must be encrypted.
	EncryptionRequired bool `json:"encryption_required"`
}

// ResponseEncryption is the credential_response_encryption issuer metadata object.
type ResponseEncryption struct {
	// AlgValuesSupported lists JWE alg values.
	AlgValuesSupported []string `json:"alg_values_supported"`
	// EncValuesSupported lists JWE enc values.
	EncValuesSupported []string `json:"enc_values_supported"`
	// ZipValuesSupported lists JWE zip values, or nil for none.
	ZipValuesSupported []string `json:"zip_values_supported,omitempty"`
	// EncryptionRequired says every response will be encrypted.
	EncryptionRequired bool `json:"encryption_required"`
}

// BatchCredentialIssuance is the batch_credential_issuance issuer metadata object.
type BatchCredentialIssuance struct {
	// BatchSize is the most proofs one Credential Request may carry; at least 2.
	BatchSize int `json:"batch_size"`
}

// Display is display data for the Credential Issuer in one language.
type Display struct {
	// Name is the display name.
	Name string `json:"name,omitempty"`
	// Locale is a BCP 47 language tag such as "zh-CN" or "en".
	Locale string `json:"locale,omitempty"`
	// Logo is the logo, or nil.
	Logo *Image `json:"logo,omitempty"`
}

// Image is a logo or background image.
type Image struct {
	// URI locates the image (https: or data:); required.
	URI string `json:"uri"`
	// AltText is the alternative text, or "".
	AltText string `json:"alt_text,omitempty"`
}

// CredentialConfiguration describes one kind of credential in credential_configurations_supported
// (section 12.2.4 and Appendix A). Format-specific members this package does not model (such as
// mso_mdoc claims by namespace) are dropped when parsing.
type CredentialConfiguration struct {
	// Format is the Credential Format Identifier, such as FormatSDJWTVC; required.
	Format string `json:"format"`
	// Scope is the OAuth scope value for this configuration, or "".
	Scope string `json:"scope,omitempty"`
	// CredentialSigningAlgValuesSupported lists the issuer's signing algorithms: strings for
	// JOSE-based formats, COSE algorithm numbers (float64 after parsing) for mso_mdoc.
	CredentialSigningAlgValuesSupported []any `json:"credential_signing_alg_values_supported,omitempty"`
	// CryptographicBindingMethodsSupported lists binding methods such as BindingJWK or
	// "did:key"; present exactly when key binding is required.
	CryptographicBindingMethodsSupported []string `json:"cryptographic_binding_methods_supported,omitempty"`
	// ProofTypesSupported maps proof types such as ProofTypeJWT to their requirements.
	ProofTypesSupported map[string]ProofTypeMetadata `json:"proof_types_supported,omitempty"`
	// CredentialMetadata holds display data and claim descriptions, or nil.
	CredentialMetadata *CredentialMetadata `json:"credential_metadata,omitempty"`
	// VCT is the SD-JWT VC type (format dc+sd-jwt).
	VCT string `json:"vct,omitempty"`
	// Doctype is the mdoc document type (format mso_mdoc).
	Doctype string `json:"doctype,omitempty"`
	// CredentialDefinition is the W3C VC type description (jwt_vc_json, ldp_vc formats).
	CredentialDefinition *CredentialDefinition `json:"credential_definition,omitempty"`
}

// ProofTypeMetadata describes what the issuer accepts for one proof type.
type ProofTypeMetadata struct {
	// ProofSigningAlgValuesSupported lists accepted proof signing algorithms; required.
	ProofSigningAlgValuesSupported []string `json:"proof_signing_alg_values_supported"`
	// KeyAttestationsRequired, when non-nil, says key attestations are required.
	KeyAttestationsRequired *KeyAttestationsRequired `json:"key_attestations_required,omitempty"`
}

// KeyAttestationsRequired lists the accepted attack potential resistance values.
type KeyAttestationsRequired struct {
	// KeyStorage lists accepted key_storage values.
	KeyStorage []string `json:"key_storage,omitempty"`
	// UserAuthentication lists accepted user_authentication values.
	UserAuthentication []string `json:"user_authentication,omitempty"`
}

// CredentialMetadata is the credential_metadata object of a credential configuration.
type CredentialMetadata struct {
	// Display is the credential's display data, one entry per locale.
	Display []CredentialDisplay `json:"display,omitempty"`
	// Claims describes claims for display, in display order.
	Claims []ClaimDescription `json:"claims,omitempty"`
}

// CredentialDisplay is display data for a credential in one language.
type CredentialDisplay struct {
	// Name is the display name; required.
	Name string `json:"name"`
	// Locale is a BCP 47 language tag.
	Locale string `json:"locale,omitempty"`
	// Logo is the credential's logo, or nil.
	Logo *Image `json:"logo,omitempty"`
	// Description describes the credential.
	Description string `json:"description,omitempty"`
	// BackgroundColor is a CSS color.
	BackgroundColor string `json:"background_color,omitempty"`
	// BackgroundImage is a background image, or nil.
	BackgroundImage *Image `json:"background_image,omitempty"`
	// TextColor is a CSS color.
	TextColor string `json:"text_color,omitempty"`
}

// ClaimDescription describes one claim for display (Appendix B.2).
type ClaimDescription struct {
	// Path is a claims path pointer: strings, nulls (nil) and non-negative integers (float64
	// after parsing).
	Path []any `json:"path"`
	// Mandatory says the issuer always includes the claim.
	Mandatory bool `json:"mandatory,omitempty"`
	// Display is the claim's display name per locale.
	Display []ClaimDisplay `json:"display,omitempty"`
}

// ClaimDisplay is a claim's display name in one language.
type ClaimDisplay struct {
	// Name is the display name.
	Name string `json:"name,omitempty"`
	// Locale is a BCP 47 language tag.
	Locale string `json:"locale,omitempty"`
}

// CredentialDefinition describes a W3C VC type.
type CredentialDefinition struct {
	// Context is the @context array (ldp_vc, jwt_vc_json-ld).
	Context []any `json:"@context,omitempty"`
	// Type is the VC type array; required.
	Type []string `json:"type"`
}

// AuthorizationServerMetadata is the subset of RFC 8414 Authorization Server metadata that the
// Pre-Authorized Code flow needs, plus the OpenID4VCI parameter
// pre-authorized_grant_anonymous_access_supported (section 12.3). Other members are dropped
// when parsing.
type AuthorizationServerMetadata struct {
	// Issuer is the Authorization Server's issuer identifier; required.
	Issuer string `json:"issuer"`
	// TokenEndpoint is the https URL of the Token Endpoint.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// AuthorizationEndpoint is the https URL of the Authorization Endpoint, or "" for an
	// Authorization Server that only supports the Pre-Authorized Code grant.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// ResponseTypesSupported may be omitted by a server that only supports the Pre-Authorized
	// Code grant (section 12.2.4), despite RFC 8414.
	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	// GrantTypesSupported lists grant types; RFC 8414's default when nil is
	// ["authorization_code", "implicit"], so a Pre-Authorized Code server must list its grant.
	GrantTypesSupported []string `json:"grant_types_supported,omitempty"`
	// TokenEndpointAuthMethodsSupported lists client authentication methods, such as "none".
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// PreAuthorizedGrantAnonymousAccessSupported says a Token Request with a Pre-Authorized
	// Code needs no client_id.
	PreAuthorizedGrantAnonymousAccessSupported bool `json:"pre-authorized_grant_anonymous_access_supported,omitempty"`
}

// MetadataURL returns the URL of the metadata of the entity identified by the https URL id,
// formed by inserting wellKnown (WellKnownCredentialIssuer or WellKnownAuthorizationServer)
// between the host and the path of id: https://issuer.example/tenant gives
// https://issuer.example/.well-known/openid-credential-issuer/tenant. Errors wrap
// ErrInsecureURL.
func MetadataURL(id, wellKnown string, opts ...ParseOption) (string, error) {
	if err := checkHTTPSURL(id, "identifier", true, newParseConfig(opts)); err != nil {
		return "", err
	}
	u, _ := url.Parse(id) // checked above
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + wellKnown + path, nil
}

// Validate checks the metadata against section 12.2.4: credential_issuer equals
// wantIssuer by simple string comparison (as the wallet must check against the identifier it
// fetched from), all endpoints are https URLs (see AllowLoopbackHTTP), display and
// authorization_servers are non-empty when present, no display list repeats a locale,
// batch_size is at least 2, and there is at least one credential configuration, each with a
// format, whose proof types list algorithms.
// Errors wrap ErrMalformed or ErrInsecureURL.
func (m *IssuerMetadata) Validate(wantIssuer string, opts ...ParseOption) error {
	c := newParseConfig(opts)
	if m.CredentialIssuer != wantIssuer {
		return fmt.Errorf("%w: issuer metadata: credential_issuer %q, want %q", ErrMalformed, m.CredentialIssuer, wantIssuer)
	}
	if err := checkHTTPSURL(m.CredentialIssuer, "credential_issuer", true, c); err != nil {
		return err
	}
	if m.CredentialEndpoint == "" {
		return fmt.Errorf("%w: issuer metadata: credential_endpoint missing", ErrMalformed)
	}
	for _, e := range []struct{ name, url string }{
		{"credential_endpoint", m.CredentialEndpoint},
		{"nonce_endpoint", m.NonceEndpoint},
		{"deferred_credential_endpoint", m.DeferredCredentialEndpoint},
		{"notification_endpoint", m.NotificationEndpoint},
	} {
		if e.url == "" {
			continue
		}
		if err := checkHTTPSURL(e.url, e.name, false, c); err != nil {
			return err
		}
	}
	if m.AuthorizationServers != nil && len(m.AuthorizationServers) == 0 {
		return fmt.Errorf("%w: issuer metadata: authorization_servers is empty", ErrMalformed)
	}
	for _, as := range m.AuthorizationServers {
		if err := checkHTTPSURL(as, "authorization_servers entry", true, c); err != nil {
			return err
		}
	}
	if m.Display != nil && len(m.Display) == 0 {
		return fmt.Errorf("%w: issuer metadata: display is empty", ErrMalformed)
	}
	if err := uniqueLocales("issuer display", len(m.Display), func(i int) string { return m.Display[i].Locale }); err != nil {
		return err
	}
	if b := m.BatchCredentialIssuance; b != nil && b.BatchSize < 2 {
		return fmt.Errorf("%w: issuer metadata: batch_size %d is less than 2", ErrMalformed, b.BatchSize)
	}
	if len(m.CredentialConfigurationsSupported) == 0 {
		return fmt.Errorf("%w: issuer metadata: credential_configurations_supported missing or empty", ErrMalformed)
	}
	for id, cc := range m.CredentialConfigurationsSupported {
		if cc.Format == "" {
			return fmt.Errorf("%w: issuer metadata: configuration %q has no format", ErrMalformed, id)
		}
		if md := cc.CredentialMetadata; md != nil {
			what := fmt.Sprintf("configuration %q display", id)
			if err := uniqueLocales(what, len(md.Display), func(i int) string { return md.Display[i].Locale }); err != nil {
				return err
			}
		}
		for pt, p := range cc.ProofTypesSupported {
			if len(p.ProofSigningAlgValuesSupported) == 0 {
				return fmt.Errorf("%w: issuer metadata: configuration %q proof type %q lists no algorithms", ErrMalformed, id, pt)
			}
		}
	}
	return nil
}

// ParseIssuerMetadata parses Credential Issuer metadata of at most MaxMetadataSize bytes of
// strict JSON and validates it with Validate(wantIssuer, opts...). Unknown members are
// dropped. Errors wrap ErrMalformed, ErrTooLarge or ErrInsecureURL.
func ParseIssuerMetadata(data []byte, wantIssuer string, opts ...ParseOption) (*IssuerMetadata, error) {
	var m IssuerMetadata
	if err := decodeStrict(data, MaxMetadataSize, "issuer metadata", &m); err != nil {
		return nil, err
	}
	if err := m.Validate(wantIssuer, opts...); err != nil {
		return nil, err
	}
	return &m, nil
}

// uniqueLocales checks that no two of n display entries share a locale ("There MUST be only
// one object for each language identifier"); entries without a locale are not compared.
func uniqueLocales(what string, n int, locale func(int) string) error {
	seen := make(map[string]bool, n)
	for i := range n {
		l := locale(i)
		if l == "" {
			continue
		}
		if seen[l] {
			return fmt.Errorf("%w: issuer metadata: %s has locale %q twice", ErrMalformed, what, l)
		}
		seen[l] = true
	}
	return nil
}

// Validate checks that issuer equals wantIssuer (RFC 8414 section 3.3) and that the endpoints
// present are https URLs. Errors wrap ErrMalformed or ErrInsecureURL.
func (m *AuthorizationServerMetadata) Validate(wantIssuer string, opts ...ParseOption) error {
	c := newParseConfig(opts)
	if m.Issuer != wantIssuer {
		return fmt.Errorf("%w: authorization server metadata: issuer %q, want %q", ErrMalformed, m.Issuer, wantIssuer)
	}
	if err := checkHTTPSURL(m.Issuer, "issuer", true, c); err != nil {
		return err
	}
	for _, e := range []struct{ name, url string }{
		{"token_endpoint", m.TokenEndpoint},
		{"authorization_endpoint", m.AuthorizationEndpoint},
	} {
		if e.url == "" {
			continue
		}
		if err := checkHTTPSURL(e.url, e.name, false, c); err != nil {
			return err
		}
	}
	return nil
}

// SupportsPreAuthorizedCode reports whether grant_types_supported lists the Pre-Authorized
// Code grant.
func (m *AuthorizationServerMetadata) SupportsPreAuthorizedCode() bool {
	for _, g := range m.GrantTypesSupported {
		if g == GrantTypePreAuthorizedCode {
			return true
		}
	}
	return false
}

// ParseAuthorizationServerMetadata parses RFC 8414 metadata of at most MaxMetadataSize bytes
// of strict JSON and validates it with Validate(wantIssuer, opts...). Errors wrap
// ErrMalformed, ErrTooLarge or ErrInsecureURL.
func ParseAuthorizationServerMetadata(data []byte, wantIssuer string, opts ...ParseOption) (*AuthorizationServerMetadata, error) {
	var m AuthorizationServerMetadata
	if err := decodeStrict(data, MaxMetadataSize, "authorization server metadata", &m); err != nil {
		return nil, err
	}
	if err := m.Validate(wantIssuer, opts...); err != nil {
		return nil, err
	}
	return &m, nil
}
