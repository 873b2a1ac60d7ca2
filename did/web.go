package did

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ezheng/ezheng/internal/safehttp"
)

// Web resolves did:web (W3C CCG did:web method) over HTTPS: did:web:example.com is fetched from
// https://example.com/.well-known/did.json, did:web:example.com:org:psb from
// https://example.com/org/psb/did.json, and a port is written %3A. The fetch is bounded in time
// and size, follows no redirects, and the document's id must equal the DID.
//
// Only verification methods with publicKeyJwk are usable by ezheng; others are kept out of the
// returned document. Web is safe for concurrent use.
type Web struct {
	// Client fetches documents; nil means a client that refuses loopback, private and
	// link-local addresses (so resolving an untrusted DID cannot reach inside the network).
	Client *http.Client
	// Timeout bounds one resolution; 5 s when zero.
	Timeout time.Duration
	// MaxSize bounds the document; 64 KiB when zero.
	MaxSize int64
}

// ErrWebFetch is returned when a did:web document cannot be fetched.
var ErrWebFetch = errors.New("did:web: fetch failed")

// WebURL returns the HTTPS URL of the DID document of a did:web DID.
func WebURL(d DID) (string, error) {
	if d.Method != "web" {
		return "", fmt.Errorf("%w: not did:web", ErrInvalidDID)
	}
	parts := strings.Split(d.ID, ":")
	host, err := url.PathUnescape(parts[0])
	if err != nil || host == "" || strings.ContainsAny(host, "/?#@") {
		return "", fmt.Errorf("%w: did:web host %q", ErrInvalidDID, parts[0])
	}
	path := "/.well-known"
	if len(parts) > 1 {
		segs := make([]string, 0, len(parts)-1)
		for _, p := range parts[1:] {
			s, err := url.PathUnescape(p)
			if err != nil || s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/?#") {
				return "", fmt.Errorf("%w: did:web path segment %q", ErrInvalidDID, p)
			}
			segs = append(segs, url.PathEscape(s))
		}
		path = "/" + strings.Join(segs, "/")
	}
	return "https://" + host + path + "/did.json", nil
}

// Resolve implements Resolver for did:web.
func (w Web) Resolve(ctx context.Context, s string) (*Document, error) {
	d, err := Parse(s)
	if err != nil {
		return nil, err
	}
	u, err := WebURL(d)
	if err != nil {
		return nil, err
	}
	timeout, max := w.Timeout, w.MaxSize
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	if max == 0 {
		max = 64 << 10
	}
	client := w.Client
	if client == nil {
		client = safehttp.Client(false)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDID, err)
	}
	req.Header.Set("Accept", "application/did+json, application/json")
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrWebFetch, u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("%w: %s answered %d", ErrNotFound, u, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answered %d", ErrWebFetch, u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrWebFetch, u, err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("%w: %s: document larger than %d bytes", ErrWebFetch, u, max)
	}
	var doc Document
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: not a DID document: %v", ErrWebFetch, u, err)
	}
	if doc.ID != s {
		return nil, fmt.Errorf("%w: %s: document id %q is not %s", ErrWebFetch, u, doc.ID, s)
	}
	usable := doc.VerificationMethod[:0]
	for _, vm := range doc.VerificationMethod {
		if vm.PublicKeyJwk != nil && vm.PublicKeyJwk.Valid() && vm.PublicKeyJwk.IsPublic() {
			usable = append(usable, vm)
		}
	}
	doc.VerificationMethod = usable
	return &doc, nil
}
