package oid4vp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Names from OpenID4VP 1.0.
const (
	// ClientIDPrefixDID is the decentralized_identifier Client Identifier Prefix (section
	// 5.9.3): the rest of client_id is a DID and the request object is signed by one of its keys.
	ClientIDPrefixDID = "decentralized_identifier:"
	// ResponseTypeVPToken is the only response_type supported.
	ResponseTypeVPToken = "vp_token"
	// ResponseModeDirectPost is the only response_mode supported (section 8.2).
	ResponseModeDirectPost = "direct_post"
	// TypeRequestObject is the typ of a signed request object (RFC 9101 section 10.8).
	TypeRequestObject = "oauth-authz-req+jwt"
	// ContentTypeRequestObject is the media type a request_uri answers with.
	ContentTypeRequestObject = "application/oauth-authz-req+jwt"
	// AudienceSelfIssued is the aud of a request object for a wallet found by static
	// discovery (section 5.8).
	AudienceSelfIssued = "https://self-issued.me/v2"

	maxNameLength    = 256
	maxPurposeLength = 1000
	maxNonceLength   = 256
)

// Algs is the allow-list of JWS algorithms for request objects: EdDSA and ES256. Callers must
// not modify it.
var Algs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// AuthorizationRequest is an OpenID4VP Authorization Request (section 5) as carried in a
// signed request object, with the JWT claims of the request object.
type AuthorizationRequest struct {
	// ClientID is the verifier's Client Identifier, ClientIDPrefixDID + its DID.
	ClientID string `json:"client_id"`
	// ResponseType is ResponseTypeVPToken.
	ResponseType string `json:"response_type"`
	// ResponseMode is ResponseModeDirectPost.
	ResponseMode string `json:"response_mode"`
	// ResponseURI is where the wallet POSTs the response: an https URL.
	ResponseURI string `json:"response_uri"`
	// Nonce binds the presentations to this request: every key-binding JWT carries it.
	Nonce string `json:"nonce"`
	// State is opaque to the wallet and returned with the response.
	State string `json:"state,omitempty"`
	// DCQLQuery is what the verifier asks for.
	DCQLQuery *Query `json:"dcql_query"`
	// ClientMetadata describes the verifier to the wallet.
	ClientMetadata *ClientMetadata `json:"client_metadata,omitempty"`

	// Issuer (iss) is the client_id that signed the request object.
	Issuer string `json:"iss,omitempty"`
	// Audience (aud) is AudienceSelfIssued.
	Audience string `json:"aud,omitempty"`
	// IssuedAt and ExpiresAt (iat, exp) are Unix seconds; exp is required by this package.
	IssuedAt  int64 `json:"iat,omitempty"`
	ExpiresAt int64 `json:"exp,omitempty"`
}

// ClientMetadata is the client_metadata parameter (section 5.1) as far as a wallet shows it.
type ClientMetadata struct {
	// ClientName is the verifier's name for the consent screen (RFC 7591).
	ClientName string `json:"client_name,omitempty"`
	// LogoURI is the verifier's logo (RFC 7591).
	LogoURI string `json:"logo_uri,omitempty"`
	// Purpose says why the verifier asks. It is an ezheng extension, ignored by other
	// wallets; the specification has no purpose parameter.
	Purpose string `json:"purpose,omitempty"`
	// VPFormatsSupported lists the formats and algorithms the verifier accepts (section 11.1).
	VPFormatsSupported map[string]FormatAlgs `json:"vp_formats_supported,omitempty"`
}

// FormatAlgs is the dc+sd-jwt entry of vp_formats_supported (appendix B.3.4).
type FormatAlgs struct {
	SDJWTAlgs []string `json:"sd-jwt_alg_values,omitempty"`
	KBJWTAlgs []string `json:"kb-jwt_alg_values,omitempty"`
}

// ParseOption changes what the Parse functions accept.
type ParseOption func(*parseConfig)

type parseConfig struct{ allowLoopbackHTTP bool }

// AllowLoopbackHTTP lets URLs that must use https use http on localhost, 127.0.0.1 or [::1]:
// for local testing only.
func AllowLoopbackHTTP() ParseOption { return func(c *parseConfig) { c.allowLoopbackHTTP = true } }

func newParseConfig(opts []ParseOption) parseConfig {
	var c parseConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// checkHTTPSURL checks that s is an absolute https URL with a host and no user info or
// fragment. Errors wrap ErrInsecureURL.
func checkHTTPSURL(s, what string, c parseConfig) error {
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
	if strings.Contains(s, "#") {
		return fmt.Errorf("%w: %s %q has a fragment", ErrInsecureURL, what, s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// ClientDID returns the DID of a decentralized_identifier client_id. Errors wrap
// ErrUnsupported (another prefix) or ErrMalformed.
func ClientDID(clientID string) (string, error) {
	d, ok := strings.CutPrefix(clientID, ClientIDPrefixDID)
	if !ok {
		return "", fmt.Errorf("%w: client_id %q does not use the %s prefix", ErrUnsupported, clientID, ClientIDPrefixDID)
	}
	if !strings.HasPrefix(d, "did:") || strings.ContainsAny(d, "#?/ ") || len(d) > 2048 {
		return "", fmt.Errorf("%w: client_id %q does not hold a DID", ErrMalformed, clientID)
	}
	return d, nil
}

// Validate checks the request against sections 5 and 8.2 as this package supports them:
// a decentralized_identifier client_id, response_type vp_token, response_mode direct_post,
// an https response_uri, a nonce, a valid DCQL query, sane client metadata and an exp after
// iat. Errors wrap ErrMalformed, ErrTooLarge, ErrInsecureURL or ErrUnsupported.
func (r *AuthorizationRequest) Validate(opts ...ParseOption) error {
	c := newParseConfig(opts)
	if r.ClientID == "" {
		return fmt.Errorf("%w: client_id missing", ErrMalformed)
	}
	if _, err := ClientDID(r.ClientID); err != nil {
		return err
	}
	if r.ResponseType != ResponseTypeVPToken {
		return fmt.Errorf("%w: response_type %q, want %q", ErrUnsupported, r.ResponseType, ResponseTypeVPToken)
	}
	if r.ResponseMode != ResponseModeDirectPost {
		return fmt.Errorf("%w: response_mode %q, want %q", ErrUnsupported, r.ResponseMode, ResponseModeDirectPost)
	}
	if r.ResponseURI == "" {
		return fmt.Errorf("%w: response_uri missing", ErrMalformed)
	}
	if err := checkHTTPSURL(r.ResponseURI, "response_uri", c); err != nil {
		return err
	}
	if r.Nonce == "" || len(r.Nonce) > maxNonceLength {
		return fmt.Errorf("%w: nonce missing or longer than %d", ErrMalformed, maxNonceLength)
	}
	if len(r.State) > maxNonceLength {
		return fmt.Errorf("%w: state longer than %d", ErrMalformed, maxNonceLength)
	}
	if r.DCQLQuery == nil {
		return fmt.Errorf("%w: dcql_query missing", ErrMalformed)
	}
	if err := r.DCQLQuery.Validate(); err != nil {
		return err
	}
	if m := r.ClientMetadata; m != nil {
		if utf8.RuneCountInString(m.ClientName) > maxNameLength || utf8.RuneCountInString(m.Purpose) > maxPurposeLength {
			return fmt.Errorf("%w: client_metadata: client_name or purpose too long", ErrTooLarge)
		}
		if m.LogoURI != "" {
			if err := checkHTTPSURL(m.LogoURI, "logo_uri", c); err != nil {
				return err
			}
		}
	}
	if r.ExpiresAt == 0 || r.IssuedAt == 0 || r.ExpiresAt <= r.IssuedAt {
		return fmt.Errorf("%w: iat and exp are required, exp after iat", ErrMalformed)
	}
	return nil
}

// SignRequestObject validates req and signs it as a request object (typ
// oauth-authz-req+jwt) with key, an ed25519.PrivateKey or P-256 *ecdsa.PrivateKey, whose DID
// URL kid must belong to the DID in req.ClientID. iss is set to req.ClientID and aud to
// AudienceSelfIssued when empty.
func SignRequestObject(req AuthorizationRequest, key crypto.Signer, kid string, opts ...ParseOption) (string, error) {
	if req.Issuer == "" {
		req.Issuer = req.ClientID
	}
	if req.Audience == "" {
		req.Audience = AudienceSelfIssued
	}
	if err := req.Validate(opts...); err != nil {
		return "", err
	}
	d, _ := ClientDID(req.ClientID)
	if !strings.HasPrefix(kid, d+"#") {
		return "", fmt.Errorf("oid4vp: kid %q is not a key of %s", kid, d)
	}
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("oid4vp: curve %s cannot sign request objects", k.Curve.Params().Name)
		}
		alg = jose.ES256
	default:
		return "", fmt.Errorf("oid4vp: key type %T cannot sign request objects", key)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType(TypeRequestObject).WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return "", fmt.Errorf("oid4vp: request object signer: %w", err)
	}
	body, err := encodeJSON(req)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("oid4vp: sign request object: %w", err)
	}
	return jws.CompactSerialize()
}

// KeyResolver returns the public key a DID URL names, for the verification relationship
// the caller chooses. Errors mean the key is unknown or cannot be resolved.
type KeyResolver func(ctx context.Context, kid string) (*jose.JSONWebKey, error)

// VerifyOptions says what ParseRequestObject expects.
type VerifyOptions struct {
	// ClientID is the client_id of the link that pointed at the request object; required:
	// the request object's client_id must equal it (section 5.10).
	ClientID string
	// Now is the wallet's time; required.
	Now time.Time
	// Skew is the clock difference tolerated; 30 s when zero.
	Skew time.Duration
	// Resolve finds the key the kid header names; required.
	Resolve KeyResolver
}

// ParseRequestObject parses and verifies a signed request object fetched from a request_uri:
// at most MaxRequestObjectSize bytes of compact JWS with typ oauth-authz-req+jwt, an
// algorithm in Algs, no crit header, a kid that is a DID URL of the DID in the payload's
// client_id; a valid signature by the key Resolve returns for that kid; a payload (strict
// JSON) that passes Validate, whose client_id equals opts.ClientID, and which is not expired
// and not issued in the future.
//
// Errors wrap ErrTooLarge, ErrMalformed, ErrInsecureURL, ErrUnsupported or ErrClient (the
// signature or identity does not check out). It returns nothing unverified.
func ParseRequestObject(ctx context.Context, jwt string, opts VerifyOptions, popts ...ParseOption) (*AuthorizationRequest, error) {
	if opts.ClientID == "" || opts.Now.IsZero() || opts.Resolve == nil {
		return nil, errors.New("oid4vp: VerifyOptions needs ClientID, Now and Resolve")
	}
	if opts.Skew == 0 {
		opts.Skew = 30 * time.Second
	}
	if len(jwt) > MaxRequestObjectSize {
		return nil, fmt.Errorf("%w: request object is %d bytes, limit %d", ErrTooLarge, len(jwt), MaxRequestObjectSize)
	}
	jwt = strings.TrimSpace(jwt)
	if strings.Count(jwt, ".") != 2 {
		return nil, fmt.Errorf("%w: request object is not a compact JWS", ErrMalformed)
	}
	obj, err := jose.ParseSigned(jwt, Algs)
	if err != nil {
		if strings.Contains(err.Error(), "algorithm") {
			return nil, fmt.Errorf("%w: request object: %v", ErrClient, err)
		}
		return nil, fmt.Errorf("%w: request object: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, fmt.Errorf("%w: request object: want one signature", ErrMalformed)
	}
	h := obj.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != TypeRequestObject {
		return nil, fmt.Errorf("%w: request object typ %q, want %q", ErrClient, typ, TypeRequestObject)
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fmt.Errorf("%w: request object has a crit header", ErrClient)
	}
	if h.JSONWebKey != nil {
		return nil, fmt.Errorf("%w: request object carries its own key; the client's DID names it", ErrClient)
	}
	// The payload is read before verification only to learn which key to verify with; nothing
	// in it is used until the signature holds.
	var unverified struct {
		ClientID string `json:"client_id"`
	}
	if err := decodeStrict(obj.UnsafePayloadWithoutVerification(), MaxRequestObjectSize, "request object", &unverified); err != nil {
		return nil, err
	}
	if unverified.ClientID != opts.ClientID {
		return nil, fmt.Errorf("%w: request object client_id %q differs from the link's %q", ErrClient, unverified.ClientID, opts.ClientID)
	}
	d, err := ClientDID(unverified.ClientID)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(h.KeyID, d+"#") {
		return nil, fmt.Errorf("%w: kid %q is not a key of %s", ErrClient, h.KeyID, d)
	}
	key, err := opts.Resolve(ctx, h.KeyID)
	if err != nil {
		return nil, fmt.Errorf("%w: resolve %s: %v", ErrClient, h.KeyID, err)
	}
	if key == nil || !key.IsPublic() || !key.Valid() {
		return nil, fmt.Errorf("%w: %s is not a usable public key", ErrClient, h.KeyID)
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, fmt.Errorf("%w: alg %s does not fit key %s", ErrClient, h.Algorithm, h.KeyID)
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("%w: request object signature: %v", ErrClient, err)
	}
	var req AuthorizationRequest
	if err := decodeStrict(payload, MaxRequestObjectSize, "request object", &req); err != nil {
		return nil, err
	}
	if err := req.Validate(popts...); err != nil {
		return nil, err
	}
	if req.Issuer != "" && req.Issuer != req.ClientID {
		return nil, fmt.Errorf("%w: iss %q is not the client_id", ErrClient, req.Issuer)
	}
	now := opts.Now.Unix()
	skew := int64(opts.Skew / time.Second)
	if now >= req.ExpiresAt+skew {
		return nil, fmt.Errorf("%w: request object expired %ds ago", ErrClient, now-req.ExpiresAt)
	}
	if req.IssuedAt > now+skew {
		return nil, fmt.Errorf("%w: request object issued in the future", ErrClient)
	}
	return &req, nil
}

// LogValue logs the request without the nonce.
func (r *AuthorizationRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", r.ClientID), slog.String("response_uri", r.ResponseURI))
}

// MarshalQuery is json.Marshal of the query (for storage), without HTML escaping.
func MarshalQuery(q *Query) (json.RawMessage, error) { return encodeJSON(q) }

// PeekClientID returns the client_id in a request object's payload without verifying
// anything: for a wallet that kept a request object it verified before and must name the
// client_id to verify it again. Errors wrap ErrMalformed or ErrTooLarge.
func PeekClientID(jwt string) (string, error) {
	if len(jwt) > MaxRequestObjectSize {
		return "", fmt.Errorf("%w: request object is %d bytes, limit %d", ErrTooLarge, len(jwt), MaxRequestObjectSize)
	}
	obj, err := jose.ParseSigned(strings.TrimSpace(jwt), Algs)
	if err != nil {
		return "", fmt.Errorf("%w: request object: %v", ErrMalformed, err)
	}
	var p struct {
		ClientID string `json:"client_id"`
	}
	if err := decodeStrict(obj.UnsafePayloadWithoutVerification(), MaxRequestObjectSize, "request object", &p); err != nil {
		return "", err
	}
	if p.ClientID == "" {
		return "", fmt.Errorf("%w: request object: client_id missing", ErrMalformed)
	}
	return p.ClientID, nil
}
