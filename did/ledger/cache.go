package ledger

import (
	"context"
	"slices"
	"sync"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
)

// readCache keeps the answers to the reads a verifier makes for every credential — DID
// resolution (current or past version), an issuer's trust records and the newest publication
// of a status list — for as long as the
// node's head stays the same. What they read changes only when a block commits, and the head
// moves only after the block is stored, so an answer read while the head was at height h is at
// least as new as h and stays right until the head moves; then the cache starts over.
type readCache struct {
	mu      sync.Mutex
	height  uint64
	resolve map[resolveKey]*Resolution
	trust   map[string][]ledgerstore.Trust
	status  map[string]ledgerstore.Status
}

type resolveKey struct {
	id string
	q  ResolveQuery
}

// readCacheMax bounds each map; a full map starts over (the hot set refills it at once).
const readCacheMax = 4096

// at returns the maps for height h, emptying them if the head has moved since they were filled.
// The caller holds c.mu.
func (c *readCache) at(h uint64) {
	if c.height != h || c.resolve == nil {
		c.height = h
		c.resolve = map[resolveKey]*Resolution{}
		c.trust = map[string][]ledgerstore.Trust{}
		c.status = map[string]ledgerstore.Status{}
	}
}

// height is the head's height, the cache's generation.
func (l *Ledger) height() uint64 {
	if h := l.head.Load(); h != nil {
		return h.Height
	}
	return 0
}

// cached returns m's (one of the cache's maps) answer for k, or loads it and keeps it. Only
// successful answers are kept: not-found answers are rare and may be probes.
func cached[K comparable, V any](l *Ledger, m func(*readCache) map[K]V, k K, load func() (V, error)) (V, error) {
	h := l.height()
	l.cache.mu.Lock()
	l.cache.at(h)
	v, ok := m(&l.cache)[k]
	l.cache.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	l.cache.mu.Lock()
	l.cache.at(h)
	if mm := m(&l.cache); len(mm) >= readCacheMax {
		clear(mm)
	}
	m(&l.cache)[k] = v
	l.cache.mu.Unlock()
	return v, nil
}

// cachedResolve is Resolve through the read cache. Callers get their own copy of the document's
// top level, so nothing they change reaches the cache.
func (l *Ledger) cachedResolve(ctx context.Context, id string, q ResolveQuery) (*Resolution, error) {
	k := resolveKey{id, ResolveQuery{VersionID: q.VersionID, VersionTime: q.VersionTime.UTC()}}
	r, err := cached(l, func(c *readCache) map[resolveKey]*Resolution { return c.resolve }, k,
		func() (*Resolution, error) { return l.resolve(ctx, id, q) })
	if err != nil {
		return nil, err
	}
	return &Resolution{Document: copyDocument(r.Document), Metadata: r.Metadata}, nil
}

// cachedTrust is the store's Trust through the read cache; callers must not modify the rows.
func (l *Ledger) cachedTrust(ctx context.Context, issuer string) ([]ledgerstore.Trust, error) {
	return cached(l, func(c *readCache) map[string][]ledgerstore.Trust { return c.trust }, issuer,
		func() ([]ledgerstore.Trust, error) { return l.store.Trust(ctx, issuer) })
}

// cachedStatus is the store's LatestStatus through the read cache.
func (l *Ledger) cachedStatus(ctx context.Context, list string) (ledgerstore.Status, error) {
	return cached(l, func(c *readCache) map[string]ledgerstore.Status { return c.status }, list,
		func() (ledgerstore.Status, error) { return l.store.LatestStatus(ctx, list) })
}

// copyDocument copies d and its lists (the keys themselves are shared: nothing changes them).
func copyDocument(d *did.Document) *did.Document {
	if d == nil {
		return nil
	}
	c := *d
	c.Context = slices.Clone(d.Context)
	c.Controller = slices.Clone(d.Controller)
	c.VerificationMethod = slices.Clone(d.VerificationMethod)
	c.Authentication = slices.Clone(d.Authentication)
	c.AssertionMethod = slices.Clone(d.AssertionMethod)
	c.CapabilityInvocation = slices.Clone(d.CapabilityInvocation)
	c.CapabilityDelegation = slices.Clone(d.CapabilityDelegation)
	c.Service = slices.Clone(d.Service)
	return &c
}
