package verifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/statuslist"
)

// CheckStatus is the name of the check that the credential is not revoked or suspended.
const CheckStatus = "status"

// MaxStatusListEntries bounds the status lists the verifier accepts (1 Mi entries).
const MaxStatusListEntries = 1 << 20

// StatusLists fetches Status List Tokens.
type StatusLists interface {
	// StatusList returns the Status List Token served at uri, exactly as served. It may answer
	// from a cache no older than the token's Cache-Control max-age. An error means the list
	// could not be had; the verifier fails the status check with it.
	StatusList(ctx context.Context, uri string) ([]byte, error)
}

// statusCheck reads the credential's status claim, fetches and verifies its list with the
// issuer's key and returns the failure reason, or "" when the credential is valid. A
// credential without a status claim passes with the note "no status list": the issuer made
// it unrevocable (or before status lists existed), and accreditation still applies to it.
func (s *Service) statusCheck(ctx context.Context, claims map[string]any, iss string, now time.Time) (reason string, note string, err error) {
	v, ok := claims["status"]
	if !ok {
		return "", "no status list", nil
	}
	uri, idx, err := statuslist.ParseStatusClaim(v)
	if err != nil {
		return "malformed status claim: " + err.Error(), "", nil
	}
	if s.statusLists == nil {
		return "status list unavailable: this verifier fetches no status lists", "", nil
	}
	tok, err := s.statusLists.StatusList(ctx, uri)
	if err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		return "status list unavailable: " + err.Error(), "", nil
	}
	l, err := s.verifyStatusList(ctx, string(tok), uri, iss, now)
	if err != nil {
		if !isVerificationFailure(err) {
			return "", "", err
		}
		return "status list unavailable: " + err.Error(), "", nil
	}
	st, err := l.Get(idx)
	if err != nil {
		return "status list unavailable: " + err.Error(), "", nil
	}
	switch st {
	case statuslist.Valid:
		return "", "", nil
	case statuslist.Invalid:
		return fmt.Sprintf("revoked (entry %d of %s)", idx, uri), "", nil
	case statuslist.Suspended:
		return "suspended", "", nil
	}
	return fmt.Sprintf("unknown status 0x%02x (entry %d of %s)", st, idx, uri), "", nil
}

// verifyStatusList verifies tok with the key its kid names, which must be a key of iss (the
// credential's issuer) for assertions.
func (s *Service) verifyStatusList(ctx context.Context, tok, uri, iss string, now time.Time) (*statuslist.List, error) {
	jws, err := jose.ParseSigned(tok, statuslist.Algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, verificationFailure{fmt.Errorf("not a signed status list token: %v", err)}
	}
	kid := jws.Signatures[0].Header.KeyID
	kidDID, _, err := did.SplitURL(kid)
	if err != nil {
		return nil, verificationFailure{fmt.Errorf("status list kid %q: %v", kid, err)}
	}
	if kidDID.String() != iss {
		return nil, verificationFailure{fmt.Errorf("status list signed by %s, not the issuer %s", kidDID, iss)}
	}
	key, err := did.ResolveKey(ctx, s.resolver, kid, did.AssertionMethod)
	if err != nil {
		if did.IsUnresolvable(err) {
			return nil, verificationFailure{fmt.Errorf("status list key: %v", err)}
		}
		return nil, err
	}
	l, info, err := statuslist.VerifyToken(tok, key, uri, now, MaxStatusListEntries)
	if err != nil {
		return nil, verificationFailure{err}
	}
	if info.Issuer != "" && info.Issuer != iss {
		return nil, verificationFailure{fmt.Errorf("status list iss %s is not the issuer %s", info.Issuer, iss)}
	}
	return l, nil
}

// StatusFetcherConfig configures a StatusFetcher.
type StatusFetcherConfig struct {
	Client   *http.Client     // http.DefaultClient when nil
	Timeout  time.Duration    // per fetch; 5 s when zero
	MaxBytes int64            // largest token accepted; 1 MiB when zero
	MaxCache int              // most lists cached; 1024 when zero
	Now      func() time.Time // clock for cache ages; time.Now when nil
}

// StatusFetcher is a StatusLists that fetches over HTTP(S) with a timeout and a size limit,
// and caches each list in memory for its Cache-Control max-age (revalidating with its ETag
// afterwards). It is safe for concurrent use.
type StatusFetcher struct {
	cfg   StatusFetcherConfig
	mu    sync.Mutex
	cache map[string]cachedList
}

type cachedList struct {
	body    []byte
	etag    string
	expires time.Time
}

// NewStatusFetcher returns a StatusFetcher.
func NewStatusFetcher(cfg StatusFetcherConfig) *StatusFetcher {
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 1 << 20
	}
	if cfg.MaxCache == 0 {
		cfg.MaxCache = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &StatusFetcher{cfg: cfg, cache: map[string]cachedList{}}
}

// StatusList implements StatusLists.
func (f *StatusFetcher) StatusList(ctx context.Context, uri string) ([]byte, error) {
	f.mu.Lock()
	c, ok := f.cache[uri]
	f.mu.Unlock()
	if ok && f.cfg.Now().Before(c.expires) {
		return c.body, nil
	}
	return f.fetch(ctx, uri, c)
}

// Refetch fetches uri again whatever the cache holds (revalidating with the cached ETag).
func (f *StatusFetcher) Refetch(ctx context.Context, uri string) ([]byte, error) {
	f.mu.Lock()
	c := f.cache[uri]
	f.mu.Unlock()
	return f.fetch(ctx, uri, c)
}

func (f *StatusFetcher) fetch(ctx context.Context, uri string, prev cachedList) ([]byte, error) {
	if !strings.HasPrefix(uri, "https://") && !strings.HasPrefix(uri, "http://") {
		return nil, fmt.Errorf("status list URI %q is not HTTP(S)", uri)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/statuslist+jwt")
	if prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body []byte
	switch resp.StatusCode {
	case http.StatusNotModified:
		if prev.body == nil {
			return nil, errors.New("HTTP 304 for a list not cached")
		}
		body = prev.body
	case http.StatusOK:
		if body, err = io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1)); err != nil {
			return nil, err
		}
		if int64(len(body)) > f.cfg.MaxBytes {
			return nil, fmt.Errorf("status list larger than %d bytes", f.cfg.MaxBytes)
		}
	default:
		return nil, fmt.Errorf("GET %s: HTTP %d", uri, resp.StatusCode)
	}
	if age := maxAge(resp.Header.Get("Cache-Control")); age > 0 {
		f.mu.Lock()
		if len(f.cache) >= f.cfg.MaxCache {
			clear(f.cache) // crude but bounded; lists are refetched on demand
		}
		f.cache[uri] = cachedList{body: body, etag: resp.Header.Get("ETag"), expires: f.cfg.Now().Add(age)}
		f.mu.Unlock()
	}
	return body, nil
}

// maxAge returns the max-age of a Cache-Control header, or 0 if it has none, or says
// no-store or no-cache.
func maxAge(cc string) time.Duration {
	var age time.Duration
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.Atoi(strings.TrimPrefix(d, "max-age="))
			if err != nil || n < 0 {
				return 0
			}
			age = time.Duration(min(n, 86400)) * time.Second
		}
	}
	return age
}
