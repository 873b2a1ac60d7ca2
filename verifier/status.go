package verifier

import (
	"context"
	"crypto/sha256"
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

// StatusLists fetches status lists: IETF Status List Tokens (SD-JWT VC) and W3C
// BitstringStatusListCredentials secured as vc+jwt (vc+jwt, JWT-VC and ldp_vc entries), all
// by URI.
type StatusLists interface {
	// StatusList returns the status list served at uri (a Status List Token or a
	// BitstringStatusListCredential JWS), exactly as served. It may answer from a cache no
	// older than the list's Cache-Control max-age. An error means the list could not be had;
	// the verifier fails the status check with it.
	StatusList(ctx context.Context, uri string) ([]byte, error)
}

// statusCheck reports the status check of p: an IETF Token Status List entry (SD-JWT VC) or
// W3C Bitstring Status List entries (vc+jwt, JWT-VC: revocation and suspension; ldp_vc: one
// two-bit entry of purpose message). A credential without a status entry
// passes with the note "no status list": the issuer made it unrevocable (or before status
// lists existed), and accreditation still applies to it. Only faults are returned.
func (r *run) statusCheck(ctx context.Context, p *presented) error {
	var reason, note string
	var err error
	// Offline, status lists are as of the bundle's creation: their validity period is checked
	// then (the bundle's age, which the policy bounds, says how old that is).
	at := r.now
	if r.offline && r.res.Source.BundleIssuedAt != nil {
		at = *r.res.Source.BundleIssuedAt
	}
	switch {
	case p.status != nil:
		reason, err = r.s.tokenStatus(ctx, p.status, p.issuer, at)
	case len(p.w3cStatus) > 0:
		for _, e := range p.w3cStatus {
			me, isMessage, perr := parseMessageEntry(e)
			switch {
			case perr != nil:
				reason = "malformed credentialStatus: " + perr.Error()
			case isMessage:
				reason, err = r.s.messageStatus(ctx, me, p.issuer, at)
			default:
				reason, err = r.s.bitstringStatus(ctx, e, p.issuer, at)
			}
			if reason != "" || err != nil {
				break
			}
		}
	default:
		note = "no status list"
	}
	switch {
	case err != nil:
		return err
	case reason != "":
		r.fail(CheckStatus, reason)
	default:
		r.note(CheckStatus, note)
	}
	return nil
}

// tokenStatus reads an IETF status claim, fetches and verifies its list with the issuer's key
// and returns the failure reason, or "" when the credential is valid.
func (s *Service) tokenStatus(ctx context.Context, v any, iss string, now time.Time) (string, error) {
	uri, idx, err := statuslist.ParseStatusClaim(v)
	if err != nil {
		return "malformed status claim: " + err.Error(), nil
	}
	tok, reason, err := s.fetchList(ctx, uri)
	if reason != "" || err != nil {
		return reason, err
	}
	l, err := s.verifyStatusList(ctx, string(tok), uri, iss, now)
	if err != nil {
		if !isVerificationFailure(err) {
			return "", err
		}
		return "status list unavailable: " + err.Error(), nil
	}
	st, err := l.Get(idx)
	if err != nil {
		return "status list unavailable: " + err.Error(), nil
	}
	switch st {
	case statuslist.Valid:
		return "", nil
	case statuslist.Invalid:
		return fmt.Sprintf("revoked (entry %d of %s)", idx, uri), nil
	case statuslist.Suspended:
		return "suspended", nil
	}
	return fmt.Sprintf("unknown status 0x%02x (entry %d of %s)", st, idx, uri), nil
}

// bitstringStatus reads a W3C BitstringStatusListEntry, fetches and verifies its
// BitstringStatusListCredential with the issuer's key and returns the failure reason, or ""
// when the entry's bit is clear.
func (s *Service) bitstringStatus(ctx context.Context, v any, iss string, now time.Time) (string, error) {
	uri, idx, purpose, err := statuslist.ParseBitstringEntry(v)
	if err != nil {
		return "malformed credentialStatus: " + err.Error(), nil
	}
	tok, reason, err := s.fetchList(ctx, uri)
	if reason != "" || err != nil {
		return reason, err
	}
	ck := newListKey(uri, iss, string(tok))
	vl, cached := s.lists.get(ck, now)
	if !cached || vl.bits == nil {
		key, err := s.listKey(ctx, string(tok), iss)
		if err != nil {
			if !isVerificationFailure(err) {
				return "", err
			}
			return "status list unavailable: " + err.Error(), nil
		}
		if vl.bits, vl.purpose, vl.id, err = statuslist.VerifyBitstringCredential(string(tok), key, now, MaxStatusListEntries); err != nil {
			return "status list unavailable: " + err.Error(), nil
		}
		s.lists.put(ck, vl, now, time.Time{})
	}
	b, gotPurpose, id := vl.bits, vl.purpose, vl.id
	switch {
	case id != uri:
		return fmt.Sprintf("status list unavailable: %s serves the list %s", uri, id), nil
	case gotPurpose != purpose:
		return fmt.Sprintf("status list unavailable: %s is a %s list, the entry is for %s", uri, gotPurpose, purpose), nil
	}
	set, err := b.Get(idx)
	switch {
	case err != nil:
		return "status list unavailable: " + err.Error(), nil
	case !set:
		return "", nil
	case purpose == "revocation":
		return fmt.Sprintf("revoked (entry %d of %s)", idx, uri), nil
	case purpose == "suspension":
		return "suspended", nil
	}
	return fmt.Sprintf("%s bit set (entry %d of %s)", purpose, idx, uri), nil
}

// fetchList fetches the list at uri; a list that cannot be had is a reason, not an error.
func (s *Service) fetchList(ctx context.Context, uri string) ([]byte, string, error) {
	if s.statusLists == nil {
		return nil, "status list unavailable: this verifier fetches no status lists", nil
	}
	tok, err := s.statusLists.StatusList(ctx, uri)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "status list unavailable: " + err.Error(), nil
	}
	return tok, "", nil
}

// listKey returns the key that the kid of the status list JWS tok names, which must be an
// assertion key of iss (the credential's issuer) in its current DID document.
func (s *Service) listKey(ctx context.Context, tok, iss string) (*jose.JSONWebKey, error) {
	jws, err := jose.ParseSigned(tok, statuslist.Algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, verificationFailure{fmt.Errorf("not a signed status list: %v", err)}
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
	return key, nil
}

// verifyStatusList verifies tok with the key its kid names, which must be a key of iss (the
// credential's issuer) for assertions.
func (s *Service) verifyStatusList(ctx context.Context, tok, uri, iss string, now time.Time) (*statuslist.List, error) {
	ck := newListKey(uri, iss, tok)
	if v, ok := s.lists.get(ck, now); ok && v.token != nil {
		return v.token, nil
	}
	key, err := s.listKey(ctx, tok, iss)
	if err != nil {
		return nil, err
	}
	l, info, err := statuslist.VerifyToken(tok, key, uri, now, MaxStatusListEntries)
	if err != nil {
		return nil, verificationFailure{err}
	}
	if info.Issuer != "" && info.Issuer != iss {
		return nil, verificationFailure{fmt.Errorf("status list iss %s is not the issuer %s", info.Issuer, iss)}
	}
	s.lists.put(ck, verifiedList{token: l}, now, info.ExpiresAt)
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

// listCacheTTL bounds how long a verified status list is trusted without checking its
// signature again: long enough to spare the signature check on a busy counter, short enough
// that a key removed from the issuer's DID document stops counting soon.
const listCacheTTL = time.Minute

// listCache remembers status lists whose signature and issuer the verifier checked, by URI,
// issuer and the SHA-256 of the bytes served, so the same bytes are not verified again until
// listCacheTTL (or the token's exp) passes. Different bytes are a different entry. It is safe
// for concurrent use.
type listCache struct {
	mu sync.Mutex
	m  map[listKey]verifiedList
}

type listKey struct {
	uri, iss string
	sum      [32]byte
}

type verifiedList struct {
	token       *statuslist.List      // a Token Status List, or
	bits        *statuslist.Bitstring // a W3C Bitstring Status List
	purpose, id string
	until       time.Time
}

func newListKey(uri, iss, tok string) listKey {
	return listKey{uri: uri, iss: iss, sum: sha256.Sum256([]byte(tok))}
}

func (c *listCache) get(k listKey, now time.Time) (verifiedList, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok || !now.Before(v.until) {
		return verifiedList{}, false
	}
	return v, true
}

func (c *listCache) put(k listKey, v verifiedList, now, exp time.Time) {
	v.until = now.Add(listCacheTTL)
	if !exp.IsZero() && exp.Before(v.until) {
		v.until = exp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 1024 {
		c.m = map[listKey]verifiedList{} // bounded; lists are verified again on demand
	}
	c.m[k] = v
}
