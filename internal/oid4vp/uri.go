package oid4vp

import (
	"fmt"
	"net/url"
	"strings"
)

const (
	// Scheme is the custom URL scheme of an OpenID4VP request deep link (section 13.1.2).
	Scheme = "openid4vp"
	// MaxURISize is the longest request link ParseRequestURI accepts: 4 KiB (a link only
	// points at its request object).
	MaxURISize = 4 << 10

	paramClientID         = "client_id"
	paramRequestURI       = "request_uri"
	paramRequest          = "request"
	paramRequestURIMethod = "request_uri_method"
)

// RequestLink is what an openid4vp:// link says: who asks and where its signed request
// object is.
type RequestLink struct {
	// ClientID is the verifier's Client Identifier; the request object must repeat it.
	ClientID string
	// RequestURI is the https URL of the request object (request by reference, RFC 9101).
	RequestURI string
}

// EncodeRequestURI returns openid4vp://?client_id=…&request_uri=…, percent-encoded with
// spaces as %20. The client_id and request_uri are checked as ParseRequestURI checks them.
func EncodeRequestURI(l RequestLink, opts ...ParseOption) (string, error) {
	if err := l.validate(newParseConfig(opts)); err != nil {
		return "", err
	}
	return Scheme + "://?" + paramClientID + "=" + queryEscape(l.ClientID) + "&" + paramRequestURI + "=" + queryEscape(l.RequestURI), nil
}

func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func (l RequestLink) validate(c parseConfig) error {
	if l.ClientID == "" {
		return fmt.Errorf("%w: request link: client_id missing", ErrMalformed)
	}
	if _, err := ClientDID(l.ClientID); err != nil {
		return err
	}
	if l.RequestURI == "" {
		return fmt.Errorf("%w: request link: request_uri missing", ErrMalformed)
	}
	return checkHTTPSURL(l.RequestURI, "request_uri", c)
}

// ParseRequestURI parses an OpenID4VP request link, as opened from a deep link or scanned
// from a QR code: the openid4vp scheme (with or without a path such as "authorize") or an
// https universal link, whose query holds exactly one client_id and exactly one request_uri
// (an https URL; see AllowLoopbackHTTP). A request passed by value (request=) or as plain
// parameters is refused with ErrUnsupported: this package accepts only signed requests by
// reference. request_uri_method other than "get" is refused too. Other parameters are
// ignored, as the request object is authoritative. s is limited to MaxURISize bytes; errors
// wrap ErrTooLarge, ErrMalformed, ErrInsecureURL or ErrUnsupported.
func ParseRequestURI(s string, opts ...ParseOption) (RequestLink, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxURISize {
		return RequestLink{}, fmt.Errorf("%w: request link is %d bytes, limit %d", ErrTooLarge, len(s), MaxURISize)
	}
	u, err := url.Parse(s)
	if err != nil {
		return RequestLink{}, fmt.Errorf("%w: request link: %v", ErrMalformed, err)
	}
	switch u.Scheme {
	case Scheme:
	case "https":
		if u.Host == "" || u.User != nil {
			return RequestLink{}, fmt.Errorf("%w: request link: https link without a host or with user info", ErrMalformed)
		}
	default:
		return RequestLink{}, fmt.Errorf("%w: request link: scheme %q is neither %s nor https", ErrMalformed, u.Scheme, Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return RequestLink{}, fmt.Errorf("%w: request link query: %v", ErrMalformed, err)
	}
	for _, p := range []string{paramClientID, paramRequestURI, paramRequest, paramRequestURIMethod} {
		if len(q[p]) > 1 {
			return RequestLink{}, fmt.Errorf("%w: request link: %s repeated", ErrMalformed, p)
		}
	}
	if _, ok := q[paramRequest]; ok {
		return RequestLink{}, fmt.Errorf("%w: request link: a request by value; only signed requests by reference (request_uri) are accepted", ErrUnsupported)
	}
	if _, ok := q[paramRequestURI]; !ok {
		return RequestLink{}, fmt.Errorf("%w: request link: no request_uri; only signed requests by reference are accepted", ErrUnsupported)
	}
	if m := q.Get(paramRequestURIMethod); m != "" && m != "get" {
		return RequestLink{}, fmt.Errorf("%w: request link: request_uri_method %q; only get is supported", ErrUnsupported, m)
	}
	l := RequestLink{ClientID: q.Get(paramClientID), RequestURI: q.Get(paramRequestURI)}
	if err := l.validate(newParseConfig(opts)); err != nil {
		return RequestLink{}, err
	}
	return l, nil
}
