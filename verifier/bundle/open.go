package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/verifier"
)

// Options tunes Open and Apply.
type Options struct {
	// Limits bound what is accepted; DefaultLimits when zero.
	Limits Limits
	// LedgerKey, when set, is the ledger's note verifier key that the checkpoint must be
	// signed with (and that the bundle must name); otherwise the key the bundle names is
	// used, which the bundle's own signature vouches for.
	LedgerKey string
}

// Bundle is an opened, verified trust bundle. It answers the verifier offline: it is a
// verifier.Trust, a did.Resolver and did.VersionResolver (did:ez from the bundle, did:key and
// did:jwk locally), a verifier.StatusLists and a verifier.Source. It is immutable and safe for
// concurrent use.
type Bundle struct {
	content    Content
	file       []byte
	key        PublicKey
	checkpoint merklelog.Checkpoint
	issuers    map[string]*issuerIndex
	lists      map[string]string // URI → token
}

type issuerIndex struct {
	trust    []ledger.TrustRecord
	versions []version
}

type version struct {
	DIDVersion
	doc *did.Document
}

// Open verifies a full bundle file and returns it. It checks, in order: the size; the
// envelope (magic, version, kind); that the signer is the pinned key (ErrWrongKey); the
// signature over the decompressed payload (ErrSignature); the payload's strict canonical JSON
// and its limits (ErrMalformed, ErrTooLarge, ErrVersion); the ledger checkpoint's signature
// and that its tree size is the bundle's sequence (ErrCheckpoint); and that every record
// predates the checkpoint and is in order. Open does not judge the bundle's age: see Age and
// CheckAge.
func Open(file []byte, pin Pin, opts Options) (*Bundle, error) {
	lim := opts.Limits.orDefault()
	env, err := open(file, pin, kindFull, lim)
	if err != nil {
		return nil, err
	}
	var c Content
	if err := decodeContent(env.payload, &c); err != nil {
		return nil, err
	}
	b, err := index(c, lim, opts.LedgerKey)
	if err != nil {
		return nil, err
	}
	b.file, b.key = file, env.key
	return b, nil
}

func decodeContent(payload []byte, c *Content) error {
	if err := decode(payload, c, c.normalize); err != nil {
		return err
	}
	if c.Format != FormatFull {
		return fmt.Errorf("%w: format %q, want %q", ErrMalformed, c.Format, FormatFull)
	}
	if c.Version != Version {
		return fmt.Errorf("%w: payload version %d", ErrVersion, c.Version)
	}
	return nil
}

// normalize replaces nil slices and maps with empty ones, so that the canonical form has no
// nulls.
func (c *Content) normalize() {
	if c.Issuers == nil {
		c.Issuers = []Issuer{}
	}
	if c.Policies == nil {
		c.Policies = map[string][]byte{}
	}
	for i := range c.Issuers {
		c.Issuers[i].normalize()
	}
}

func (is *Issuer) normalize() {
	if is.Trust == nil {
		is.Trust = []Trust{}
	}
	if is.Versions == nil {
		is.Versions = []DIDVersion{}
	}
	if is.StatusLists == nil {
		is.StatusLists = []StatusList{}
	}
	for i := range is.Trust {
		if is.Trust[i].Types == nil {
			is.Trust[i].Types = []string{}
		}
	}
}

// openCheckpoint verifies the checkpoint of l, signed with ledgerKey when set.
func openCheckpoint(l Ledger, ledgerKey string) (merklelog.Checkpoint, error) {
	key := l.Key
	if ledgerKey != "" {
		if strings.TrimSpace(ledgerKey) != l.Key {
			return merklelog.Checkpoint{}, fmt.Errorf("%w: the bundle names ledger key %q, not the pinned %q", ErrCheckpoint, l.Key, strings.TrimSpace(ledgerKey))
		}
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return merklelog.Checkpoint{}, fmt.Errorf("%w: ledger key: %v", ErrCheckpoint, err)
	}
	cp, err := merklelog.OpenCheckpoint([]byte(l.Checkpoint), note.VerifierList(v))
	if err != nil {
		return merklelog.Checkpoint{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if cp.Origin != l.Origin {
		return merklelog.Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q, the bundle says %q", ErrCheckpoint, cp.Origin, l.Origin)
	}
	return cp, nil
}

// index validates c and builds the lookup tables.
func index(c Content, lim Limits, ledgerKey string) (*Bundle, error) {
	cp, err := openCheckpoint(c.Ledger, ledgerKey)
	if err != nil {
		return nil, err
	}
	if cp.Size != c.Seq {
		return nil, fmt.Errorf("%w: checkpoint tree size %d is not the bundle's sequence %d", ErrCheckpoint, cp.Size, c.Seq)
	}
	if c.Created <= 0 {
		return nil, fmt.Errorf("%w: no creation time", ErrMalformed)
	}
	if len(c.Issuers) > lim.Issuers {
		return nil, fmt.Errorf("%w: %d issuers, limit %d", ErrTooLarge, len(c.Issuers), lim.Issuers)
	}
	if len(c.Policies) > lim.Policies {
		return nil, fmt.Errorf("%w: %d policies, limit %d", ErrTooLarge, len(c.Policies), lim.Policies)
	}
	for name, p := range c.Policies {
		if name == "" || len(name) > 128 || len(p) > lim.PolicyBytes {
			return nil, fmt.Errorf("%w: policy %.40q: empty or too long name, or more than %d bytes", ErrMalformed, name, lim.PolicyBytes)
		}
	}
	b := &Bundle{content: c, checkpoint: cp, issuers: make(map[string]*issuerIndex, len(c.Issuers)), lists: map[string]string{}}
	for i, is := range c.Issuers {
		if i > 0 && c.Issuers[i-1].DID >= is.DID {
			return nil, fmt.Errorf("%w: issuers not sorted by DID, or repeated (%s)", ErrMalformed, is.DID)
		}
		ix, err := indexIssuer(is, c.Seq, lim)
		if err != nil {
			return nil, fmt.Errorf("issuer %.80s: %w", is.DID, err)
		}
		b.issuers[is.DID] = ix
		for _, l := range is.StatusLists {
			if _, dup := b.lists[l.URI]; dup {
				return nil, fmt.Errorf("%w: status list %s appears twice", ErrMalformed, l.URI)
			}
			b.lists[l.URI] = l.Token
		}
	}
	return b, nil
}

func indexIssuer(is Issuer, seq uint64, lim Limits) (*issuerIndex, error) {
	if _, err := ledger.ParseDID(is.DID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(is.Trust) > lim.PerIssuer || len(is.Versions) > lim.PerIssuer || len(is.StatusLists) > lim.PerIssuer {
		return nil, fmt.Errorf("%w: more than %d records of one kind", ErrTooLarge, lim.PerIssuer)
	}
	if len(is.Trust) == 0 || len(is.Versions) == 0 {
		return nil, fmt.Errorf("%w: an issuer needs trust records and DID versions", ErrMalformed)
	}
	ix := &issuerIndex{}
	for i, t := range is.Trust {
		if t.Leaf >= seq || (i > 0 && is.Trust[i-1].Leaf >= t.Leaf) {
			return nil, fmt.Errorf("%w: trust record at leaf %d out of order or after the checkpoint", ErrMalformed, t.Leaf)
		}
		if t.Kind != ledgerstore.KindAccredit && t.Kind != ledgerstore.KindWithdraw {
			return nil, fmt.Errorf("%w: trust record kind %q", ErrMalformed, t.Kind)
		}
		if len(t.Types) == 0 || len(t.Types) > 64 {
			return nil, fmt.Errorf("%w: trust record at leaf %d has %d types", ErrMalformed, t.Leaf, len(t.Types))
		}
		ix.trust = append(ix.trust, ledger.TrustRecord{Leaf: t.Leaf, Kind: t.Kind, Authority: t.Authority, Seq: t.Seq, Issuer: is.DID,
			Types: t.Types, From: t.From, Until: t.Until, At: t.At})
	}
	for i, v := range is.Versions {
		if v.Seq != uint64(i+1) || v.Leaf >= seq || (i > 0 && (is.Versions[i-1].Leaf >= v.Leaf || is.Versions[i-1].Time > v.Time)) {
			return nil, fmt.Errorf("%w: DID version %d out of order or after the checkpoint", ErrMalformed, v.Seq)
		}
		var doc did.Document
		dec := json.NewDecoder(bytes.NewReader(v.Document))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%w: DID version %d: document: %v", ErrMalformed, v.Seq, err)
		}
		if doc.ID != is.DID {
			return nil, fmt.Errorf("%w: DID version %d is a document of %q", ErrMalformed, v.Seq, doc.ID)
		}
		ix.versions = append(ix.versions, version{DIDVersion: v, doc: &doc})
	}
	for i, l := range is.StatusLists {
		if l.URI == "" || (i > 0 && is.StatusLists[i-1].URI >= l.URI) {
			return nil, fmt.Errorf("%w: status lists not sorted by URI, or repeated", ErrMalformed)
		}
		if l.Leaf >= seq || l.Token == "" || len(l.Token) > lim.TokenBytes {
			return nil, fmt.Errorf("%w: status list %s: empty, over %d bytes, or after the checkpoint", ErrMalformed, l.URI, lim.TokenBytes)
		}
	}
	return ix, nil
}

// File returns the signed bundle file as opened.
func (b *Bundle) File() []byte { return b.file }

// Content returns the bundle's payload. The caller must not modify it.
func (b *Bundle) Content() Content { return b.content }

// Seq returns the bundle's sequence number: the tree size of its ledger checkpoint.
func (b *Bundle) Seq() uint64 { return b.content.Seq }

// Created returns when the bundle was made.
func (b *Bundle) Created() time.Time { return time.Unix(b.content.Created, 0).UTC() }

// Key returns the key that signed the bundle.
func (b *Bundle) Key() PublicKey { return b.key }

// Checkpoint returns the bundle's verified ledger checkpoint.
func (b *Bundle) Checkpoint() merklelog.Checkpoint { return b.checkpoint }

// Digest returns "sha256:<hex>" of the bundle file, which names it in results.
func (b *Bundle) Digest() string {
	h := sha256.Sum256(b.file)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Age returns how old the bundle is at now (never negative).
func (b *Bundle) Age(now time.Time) time.Duration { return max(now.Sub(b.Created()), 0) }

// CheckAge returns an error wrapping ErrStale when the bundle is older than maxAge at now
// (maxAge 0: no limit).
func (b *Bundle) CheckAge(now time.Time, maxAge time.Duration) error {
	if age := b.Age(now); maxAge > 0 && age > maxAge {
		return fmt.Errorf("%w: made %s, %s ago, more than the %s allowed", ErrStale, b.Created().Format(time.RFC3339), age.Truncate(time.Second), maxAge)
	}
	return nil
}

// Policies returns the bundle's policy files by name. The caller must not modify them.
func (b *Bundle) Policies() map[string][]byte { return b.content.Policies }

// Issuers returns the DIDs of the bundle's issuers, sorted.
func (b *Bundle) Issuers() []string {
	out := make([]string, 0, len(b.issuers))
	for d := range b.issuers {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Info implements verifier.Source: the bundle is offline trust, named by its digest.
func (b *Bundle) Info(context.Context) verifier.SourceInfo {
	at := b.Created()
	return verifier.SourceInfo{Mode: verifier.SourceOffline, Bundle: fmt.Sprintf("%d %s", b.Seq(), b.Digest()), BundleIssuedAt: &at}
}

// Accreditation implements verifier.Trust from the bundle's trust records, with the ledger's
// own rules (ledger.AccreditationIn). An issuer not in the bundle is not accredited.
func (b *Bundle) Accreditation(_ context.Context, issuer, vct string, at time.Time) (ledger.Accreditation, error) {
	ix := b.issuers[issuer]
	if ix == nil {
		return ledger.Accreditation{}, fmt.Errorf("%w: %s is not in the trust bundle", ledger.ErrNotAccredited, issuer)
	}
	return ledger.AccreditationIn(ix.trust, issuer, vct, at)
}

// Resolve implements did.Resolver: the current document of a did:ez issuer in the bundle
// (empty once deactivated), did:key and did:jwk locally. Other DIDs give did.ErrNotFound or
// did.ErrMethodNotSupported: offline, nothing is fetched.
func (b *Bundle) Resolve(ctx context.Context, id string) (*did.Document, error) {
	doc, _, err := b.ResolveVersion(ctx, id, did.Query{})
	return doc, err
}

// ResolveVersion implements did.VersionResolver with the semantics of the ledger: the version
// in force at VersionTime is the newest whose block time is no later than the end of that
// second; metadata times are block times truncated to the second.
func (b *Bundle) ResolveVersion(ctx context.Context, id string, q did.Query) (*did.Document, did.Metadata, error) {
	d, err := did.Parse(id)
	if err != nil {
		return nil, did.Metadata{}, err
	}
	switch d.Method {
	case "key", "jwk":
		if !q.IsZero() {
			return nil, did.Metadata{}, fmt.Errorf("%w: did:%s has no versions", did.ErrNotFound, d.Method)
		}
		doc, err := did.Local{}.Resolve(ctx, id)
		return doc, did.Metadata{}, err
	case "ez":
	default:
		return nil, did.Metadata{}, fmt.Errorf("%w: did:%s cannot be resolved offline", did.ErrMethodNotSupported, d.Method)
	}
	ix := b.issuers[id]
	if ix == nil {
		return nil, did.Metadata{}, fmt.Errorf("%w: %s is not in the trust bundle", did.ErrNotFound, id)
	}
	i := len(ix.versions) - 1
	switch {
	case q.VersionID != "":
		i = slices.IndexFunc(ix.versions, func(v version) bool { return v.VersionID == q.VersionID })
		if i >= 0 && !q.VersionTime.IsZero() && ix.versions[i].Time > cut(q.VersionTime) {
			i = -1
		}
	case !q.VersionTime.IsZero():
		c := cut(q.VersionTime)
		for i >= 0 && ix.versions[i].Time > c {
			i--
		}
	}
	if i < 0 {
		return nil, did.Metadata{}, fmt.Errorf("%w: %s (version %q, time %v) is not in the trust bundle", did.ErrNotFound, id, q.VersionID, q.VersionTime)
	}
	v := ix.versions[i]
	md := did.Metadata{VersionID: v.VersionID, Deactivated: v.Deactivated}
	created := stamp(ix.versions[0].Time)
	md.Created = &created
	if i > 0 {
		up := stamp(v.Time)
		md.Updated = &up
	}
	if !q.IsZero() && i+1 < len(ix.versions) {
		next := stamp(ix.versions[i+1].Time)
		md.NextUpdate, md.NextVersionID = &next, ix.versions[i+1].VersionID
	}
	doc := *v.doc // a shallow copy: callers must not modify documents
	return &doc, md, nil
}

func cut(t time.Time) int64    { return t.Truncate(time.Second).UnixMilli() + 999 }
func stamp(ms int64) time.Time { return time.UnixMilli(ms).UTC().Truncate(time.Second) }

// StatusList implements verifier.StatusLists: the list as the bundle holds it.
func (b *Bundle) StatusList(_ context.Context, uri string) ([]byte, error) {
	tok, ok := b.lists[uri]
	if !ok {
		return nil, fmt.Errorf("status list %s is not in the trust bundle", uri)
	}
	return []byte(tok), nil
}
