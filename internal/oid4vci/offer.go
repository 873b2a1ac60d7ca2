package oid4vci

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Names from OpenID4VCI 1.0 section 4.1.
const (
	// OfferScheme is the custom URL scheme of a Credential Offer deep link (section 12.1.1).
	OfferScheme = "openid-credential-offer"
	// GrantTypePreAuthorizedCode is the Pre-Authorized Code grant type (section 4.1.1).
	GrantTypePreAuthorizedCode = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
	// GrantTypeAuthorizationCode is the OAuth 2.0 Authorization Code grant type.
	GrantTypeAuthorizationCode = "authorization_code"
	// TxCodeNumeric is the tx_code input_mode for digits only; it is the default.
	TxCodeNumeric = "numeric"
	// TxCodeText is the tx_code input_mode for any characters.
	TxCodeText = "text"

	// MaxOfferURISize is the longest offer URI ParseOfferURI accepts: 8 KiB.
	MaxOfferURISize = 8 << 10
	// maxTxCodeDescription is the longest tx_code description in characters (section 4.1.1).
	maxTxCodeDescription = 300
	// maxTxCodeLength bounds tx_code.length; the specification sets no bound.
	maxTxCodeLength = 256

	paramOffer    = "credential_offer"
	paramOfferURI = "credential_offer_uri"
)

// CredentialOffer is a Credential Offer object (OpenID4VCI 1.0 section 4.1.1). Parameters
// other than these are dropped when parsing, as the specification requires wallets to ignore
// them.
type CredentialOffer struct {
	// CredentialIssuer is the Credential Issuer Identifier, an https URL.
	CredentialIssuer string `json:"credential_issuer"`
	// CredentialConfigurationIDs are keys of credential_configurations_supported in the
	// issuer's metadata: non-empty and unique.
	CredentialConfigurationIDs []string `json:"credential_configuration_ids"`
	// Grants says which grant types the Authorization Server accepts for this offer; nil means
	// the wallet must look at the Authorization Server metadata.
	Grants *Grants `json:"grants,omitempty"`
}

// Grants holds the grants of a Credential Offer that this package knows. Grants of other types
// are dropped when parsing.
type Grants struct {
	// AuthorizationCode is the authorization_code grant, or nil.
	AuthorizationCode *AuthorizationCodeGrant `json:"authorization_code,omitempty"`
	// PreAuthorizedCode is the urn:ietf:params:oauth:grant-type:pre-authorized_code grant, or
	// nil.
	PreAuthorizedCode *PreAuthorizedCodeGrant `json:"urn:ietf:params:oauth:grant-type:pre-authorized_code,omitempty"`
}

// AuthorizationCodeGrant is the authorization_code grant of a Credential Offer.
type AuthorizationCodeGrant struct {
	// IssuerState is opaque state for the Authorization Request, or "".
	IssuerState string `json:"issuer_state,omitempty"`
	// AuthorizationServer picks one of the issuer's authorization_servers, or "".
	AuthorizationServer string `json:"authorization_server,omitempty"`
}

// PreAuthorizedCodeGrant is the Pre-Authorized Code grant of a Credential Offer.
type PreAuthorizedCodeGrant struct {
	// PreAuthorizedCode is the short-lived, single-use code; required. It is a secret: do not
	// log it.
	PreAuthorizedCode string `json:"pre-authorized_code"`
	// TxCode, when non-nil (even if empty), says the Token Request must carry a Transaction
	// Code delivered out of band.
	TxCode *TxCode `json:"tx_code,omitempty"`
	// AuthorizationServer picks one of the issuer's authorization_servers, or "".
	AuthorizationServer string `json:"authorization_server,omitempty"`
}

// TxCode describes the Transaction Code the wallet must ask the End-User for. All fields are
// optional; an empty TxCode still means a code is required.
type TxCode struct {
	// InputMode is TxCodeNumeric (the default when "") or TxCodeText.
	InputMode string `json:"input_mode,omitempty"`
	// Length is the number of characters, or 0 when not given.
	Length int `json:"length,omitempty"`
	// Description tells the End-User where to find the code; at most 300 characters.
	Description string `json:"description,omitempty"`
}

// ParseOption changes what the Parse functions accept.
type ParseOption func(*parseConfig)

type parseConfig struct {
	allowLoopbackHTTP bool
}

// AllowLoopbackHTTP lets URLs that must use https use http instead when the host is
// localhost, 127.0.0.1 or [::1]. It is for local testing only; production wallets must not
// use it.
func AllowLoopbackHTTP() ParseOption {
	return func(c *parseConfig) { c.allowLoopbackHTTP = true }
}

func newParseConfig(opts []ParseOption) parseConfig {
	var c parseConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// checkHTTPSURL checks that s is an absolute https URL with a host, no user info and no
// fragment; issuerID additionally forbids a query, as a Credential Issuer Identifier must have
// none (section 12.2.1). Errors wrap ErrInsecureURL.
func checkHTTPSURL(s, what string, issuerID bool, c parseConfig) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInsecureURL, what, err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.allowLoopbackHTTP && isLoopback(u.Hostname()):
	default:
		return fmt.Errorf("%w: %s %q does not use https", ErrInsecureURL, what, s)
	}
	if u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: %s %q has no host", ErrInsecureURL, what, s)
	}
	if u.User != nil {
		return fmt.Errorf("%w: %s %q has user info", ErrInsecureURL, what, s)
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("%w: %s %q has a fragment", ErrInsecureURL, what, s)
	}
	if issuerID && (u.RawQuery != "" || u.ForceQuery) {
		return fmt.Errorf("%w: %s %q has a query", ErrInsecureURL, what, s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// Validate checks the offer against section 4.1.1: an https credential_issuer (see
// AllowLoopbackHTTP), a non-empty list of unique non-empty credential_configuration_ids, a
// non-empty pre-authorized_code when that grant is present, and a well-formed tx_code. Errors
// wrap ErrMalformed or ErrInsecureURL.
func (o *CredentialOffer) Validate(opts ...ParseOption) error {
	c := newParseConfig(opts)
	if o.CredentialIssuer == "" {
		return fmt.Errorf("%w: credential offer: credential_issuer missing", ErrMalformed)
	}
	if err := checkHTTPSURL(o.CredentialIssuer, "credential_issuer", true, c); err != nil {
		return err
	}
	if len(o.CredentialConfigurationIDs) == 0 {
		return fmt.Errorf("%w: credential offer: credential_configuration_ids missing or empty", ErrMalformed)
	}
	seen := make(map[string]bool, len(o.CredentialConfigurationIDs))
	for _, id := range o.CredentialConfigurationIDs {
		if id == "" {
			return fmt.Errorf("%w: credential offer: empty credential configuration id", ErrMalformed)
		}
		if seen[id] {
			return fmt.Errorf("%w: credential offer: credential configuration id %q repeated", ErrMalformed, id)
		}
		seen[id] = true
	}
	if o.Grants == nil {
		return nil
	}
	if g := o.Grants.PreAuthorizedCode; g != nil {
		if g.PreAuthorizedCode == "" {
			return fmt.Errorf("%w: credential offer: pre-authorized_code missing", ErrMalformed)
		}
		if err := g.TxCode.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (t *TxCode) validate() error {
	if t == nil {
		return nil
	}
	switch t.InputMode {
	case "", TxCodeNumeric, TxCodeText:
	default:
		return fmt.Errorf("%w: tx_code: input_mode %q is neither numeric nor text", ErrMalformed, t.InputMode)
	}
	if t.Length < 0 || t.Length > maxTxCodeLength {
		return fmt.Errorf("%w: tx_code: length %d out of range", ErrMalformed, t.Length)
	}
	if n := utf8.RuneCountInString(t.Description); n > maxTxCodeDescription {
		return fmt.Errorf("%w: tx_code: description has %d characters, limit %d", ErrMalformed, n, maxTxCodeDescription)
	}
	return nil
}

// ParseOffer parses and validates a Credential Offer object, as fetched from a
// credential_offer_uri or taken from a credential_offer parameter. data must be at most
// MaxMessageSize bytes of strict JSON (see the package documentation); unknown parameters and
// grants are dropped. Errors wrap ErrMalformed, ErrTooLarge or ErrInsecureURL.
func ParseOffer(data []byte, opts ...ParseOption) (*CredentialOffer, error) {
	var o CredentialOffer
	if err := decodeStrict(data, MaxMessageSize, "credential offer", &o); err != nil {
		return nil, err
	}
	if err := o.Validate(opts...); err != nil {
		return nil, err
	}
	return &o, nil
}

// Encode returns the offer as compact JSON, the body to serve at a credential_offer_uri. It
// does not validate the offer.
func (o *CredentialOffer) Encode() ([]byte, error) {
	return encodeJSON(o)
}

// EncodeOfferURI returns the deep link openid-credential-offer://?credential_offer=<JSON> that
// carries offer by value. The JSON is percent-encoded with spaces as %20 (never '+'), so that
// decoders that do and do not treat '+' as a space read the same offer. The offer is validated
// first; errors wrap ErrMalformed or ErrInsecureURL.
func EncodeOfferURI(offer *CredentialOffer, opts ...ParseOption) (string, error) {
	if err := offer.Validate(opts...); err != nil {
		return "", err
	}
	b, err := offer.Encode()
	if err != nil {
		return "", fmt.Errorf("%w: credential offer: %v", ErrMalformed, err)
	}
	return OfferScheme + "://?" + paramOffer + "=" + queryEscape(string(b)), nil
}

// EncodeOfferURIByReference returns the deep link
// openid-credential-offer://?credential_offer_uri=<uri>. uri must be an https URL (see
// AllowLoopbackHTTP) without user info or fragment; errors wrap ErrInsecureURL.
func EncodeOfferURIByReference(uri string, opts ...ParseOption) (string, error) {
	if err := checkHTTPSURL(uri, "credential_offer_uri", false, newParseConfig(opts)); err != nil {
		return "", err
	}
	return OfferScheme + "://?" + paramOfferURI + "=" + queryEscape(uri), nil
}

func queryEscape(s string) string {
	// QueryEscape writes a space as '+' and a '+' as %2B, so every '+' left is a space.
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// ParseOfferURI parses a Credential Offer deep link: the custom scheme
// openid-credential-offer:// or an https universal link, with a query holding exactly one of
// credential_offer (the offer by value, returned as offer) and credential_offer_uri (an https
// URL returned as offerURI, which the caller must fetch and pass to ParseOffer). Exactly one of
// offer and offerURI is set on success.
//
// The query is decoded as application/x-www-form-urlencoded ('+' is a space), the way
// browsers and most wallets decode it; EncodeOfferURI never writes '+'. Other query
// parameters are ignored; either offer parameter appearing twice, or both or neither
// appearing, is an error. s is limited to MaxOfferURISize bytes and the offer JSON to
// MaxMessageSize. Errors wrap ErrMalformed, ErrTooLarge or ErrInsecureURL.
func ParseOfferURI(s string, opts ...ParseOption) (offer *CredentialOffer, offerURI string, err error) {
	if len(s) > MaxOfferURISize {
		return nil, "", fmt.Errorf("%w: offer URI is %d bytes, limit %d", ErrTooLarge, len(s), MaxOfferURISize)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, "", fmt.Errorf("%w: offer URI: %v", ErrMalformed, err)
	}
	switch u.Scheme {
	case OfferScheme:
	case "https":
		if u.Host == "" || u.User != nil {
			return nil, "", fmt.Errorf("%w: offer URI: https link without a host or with user info", ErrMalformed)
		}
	default:
		return nil, "", fmt.Errorf("%w: offer URI: scheme %q is neither %s nor https", ErrMalformed, u.Scheme, OfferScheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, "", fmt.Errorf("%w: offer URI query: %v", ErrMalformed, err)
	}
	byValue, byRef := q[paramOffer], q[paramOfferURI]
	switch {
	case len(byValue) > 1 || len(byRef) > 1:
		return nil, "", fmt.Errorf("%w: offer URI: %s or %s repeated", ErrMalformed, paramOffer, paramOfferURI)
	case len(byValue) == 1 && len(byRef) == 1:
		return nil, "", fmt.Errorf("%w: offer URI: both %s and %s", ErrMalformed, paramOffer, paramOfferURI)
	case len(byValue) == 1:
		o, err := ParseOffer([]byte(byValue[0]), opts...)
		if err != nil {
			return nil, "", err
		}
		return o, "", nil
	case len(byRef) == 1:
		ref := byRef[0]
		if err := checkHTTPSURL(ref, "credential_offer_uri", false, newParseConfig(opts)); err != nil {
			return nil, "", err
		}
		return nil, ref, nil
	default:
		return nil, "", fmt.Errorf("%w: offer URI: neither %s nor %s", ErrMalformed, paramOffer, paramOfferURI)
	}
}

// LogValue logs the offer without the pre-authorized code, which is a bearer secret.
func (o *CredentialOffer) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("credential_issuer", o.CredentialIssuer),
		slog.Any("credential_configuration_ids", o.CredentialConfigurationIDs),
	}
	if o.Grants != nil && o.Grants.PreAuthorizedCode != nil {
		attrs = append(attrs, slog.Attr{Key: "pre_authorized_code_grant", Value: o.Grants.PreAuthorizedCode.LogValue()})
	}
	return slog.GroupValue(attrs...)
}

// LogValue logs the grant with the pre-authorized code redacted.
func (g *PreAuthorizedCodeGrant) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("pre-authorized_code", "REDACTED"),
		slog.Bool("tx_code_required", g.TxCode != nil),
	)
}
