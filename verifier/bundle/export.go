package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/statuslist"
)

// LedgerReader is what an Exporter reads from the DID ledger (*ledger.Ledger has it).
type LedgerReader interface {
	// Checkpoint returns the newest signed checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	AccreditedIssuers(ctx context.Context) ([]string, error)
	TrustRecords(ctx context.Context, issuer string) ([]ledger.TrustRecord, error)
	History(ctx context.Context, id string) ([]ledger.DIDVersion, error)
	IssuerStatusLists(ctx context.Context, issuer string) (map[string]ledger.StatusRecord, error)
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error)
}

// StatusLists fetches a status list as served (verifier.StatusLists has this shape).
type StatusLists interface {
	StatusList(ctx context.Context, uri string) ([]byte, error)
}

// ExportConfig configures an Exporter.
type ExportConfig struct {
	Ledger LedgerReader
	// LedgerKey is the ledger's note verifier key; the exporter checks the checkpoint with it
	// and writes it into bundles.
	LedgerKey string
	// StatusLists fetches the issuers' status lists (each must match its newest ledger
	// digest). A list that cannot be fetched is left out (and logged): the status check of
	// its credentials then fails offline, as it would online.
	StatusLists StatusLists
	Logger      *slog.Logger // discard when nil
	// Policies returns the policy files to carry; none when nil.
	Policies func(ctx context.Context) (map[string][]byte, error)
	// Key signs bundles.
	Key ed25519.PrivateKey
	Now func() time.Time // time.Now when nil
	// Reuse is how long a built bundle is served again while the ledger has not grown; 30 s
	// when zero, negative to always rebuild.
	Reuse time.Duration
}

// Exporter builds signed full and delta bundles. It keeps the newest full bundle and reuses it
// while the ledger has not moved. It is safe for concurrent use.
type Exporter struct {
	cfg      ExportConfig
	verifier note.Verifier
	pub      PublicKey

	mu   sync.Mutex
	last *built
}

type built struct {
	content Content
	payload []byte
	sig     []byte
	file    []byte
	at      time.Time
}

// NewExporter returns an Exporter.
func NewExporter(cfg ExportConfig) (*Exporter, error) {
	if cfg.Ledger == nil || cfg.StatusLists == nil || len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("bundle: Ledger, StatusLists and an Ed25519 Key are required")
	}
	v, err := note.NewVerifier(cfg.LedgerKey)
	if err != nil {
		return nil, fmt.Errorf("bundle: ledger key: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Reuse == 0 {
		cfg.Reuse = 30 * time.Second
	}
	return &Exporter{cfg: cfg, verifier: v, pub: PublicKey(cfg.Key.Public().(ed25519.PublicKey))}, nil
}

// PublicKey returns the key bundles are signed with.
func (e *Exporter) PublicKey() PublicKey { return e.pub }

// Full returns the newest full bundle file and its sequence.
func (e *Exporter) Full(ctx context.Context) ([]byte, uint64, error) {
	b, err := e.current(ctx)
	if err != nil {
		return nil, 0, err
	}
	return b.file, b.content.Seq, nil
}

// ErrSince is returned by Delta for a sequence the ledger has not reached.
var ErrSince = errors.New("bundle: since is ahead of the ledger")

// Delta returns a delta file from sequence since to the newest bundle, and the newest
// sequence. It returns an error wrapping ErrSince when since is past the newest sequence.
func (e *Exporter) Delta(ctx context.Context, since uint64) ([]byte, uint64, error) {
	b, err := e.current(ctx)
	if err != nil {
		return nil, 0, err
	}
	c := b.content
	if since > c.Seq {
		return nil, 0, fmt.Errorf("%w: since %d, the newest bundle is %d", ErrSince, since, c.Seq)
	}
	d := Delta{Format: FormatDelta, Version: Version, From: since, Seq: c.Seq, Created: c.Created, Ledger: c.Ledger,
		Consistency: [][]byte{}, Issuers: diffIssuers(c.Issuers, since), Policies: c.Policies, Signature: b.sig}
	if since > 0 && since < c.Seq {
		if d.Consistency, err = e.cfg.Ledger.ConsistencyProof(ctx, since, c.Seq); err != nil {
			return nil, 0, fmt.Errorf("consistency proof %d→%d: %w", since, c.Seq, err)
		}
		if d.Consistency == nil {
			d.Consistency = [][]byte{}
		}
	}
	payload, err := encode(d)
	if err != nil {
		return nil, 0, err
	}
	file, err := seal(kindDelta, e.pub, sign(e.cfg.Key, kindDelta, payload), payload)
	return file, c.Seq, err
}

// diffIssuers returns the items of issuers with leaf index since or more; an issuer first
// accredited at or after since comes whole.
func diffIssuers(issuers []Issuer, since uint64) []Issuer {
	out := []Issuer{}
	for _, is := range issuers {
		if is.Trust[0].Leaf >= since {
			out = append(out, is)
			continue
		}
		d := Issuer{DID: is.DID, Trust: []Trust{}, Versions: []DIDVersion{}, StatusLists: []StatusList{}}
		for _, t := range is.Trust {
			if t.Leaf >= since {
				d.Trust = append(d.Trust, t)
			}
		}
		for _, v := range is.Versions {
			if v.Leaf >= since {
				d.Versions = append(d.Versions, v)
			}
		}
		for _, l := range is.StatusLists {
			if l.Leaf >= since {
				d.StatusLists = append(d.StatusLists, l)
			}
		}
		if len(d.Trust)+len(d.Versions)+len(d.StatusLists) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// current returns the newest built bundle, building one if the kept one is too old or the
// ledger has grown since.
func (e *Exporter) current(ctx context.Context) (*built, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	if b := e.last; b != nil && e.cfg.Reuse > 0 && now.Sub(b.at) < e.cfg.Reuse {
		if cp, _, err := e.checkpoint(ctx); err == nil && cp.Size == b.content.Seq {
			return b, nil
		}
	}
	c, err := e.build(ctx, now)
	if err != nil {
		return nil, err
	}
	payload, err := encode(c)
	if err != nil {
		return nil, err
	}
	sig := sign(e.cfg.Key, kindFull, payload)
	file, err := seal(kindFull, e.pub, sig, payload)
	if err != nil {
		return nil, err
	}
	e.last = &built{content: c, payload: payload, sig: sig, file: file, at: now}
	return e.last, nil
}

func (e *Exporter) checkpoint(ctx context.Context) (merklelog.Checkpoint, []byte, error) {
	signed, err := e.cfg.Ledger.Checkpoint(ctx)
	if err != nil {
		return merklelog.Checkpoint{}, nil, err
	}
	cp, err := merklelog.OpenCheckpoint(signed, note.VerifierList(e.verifier))
	if err != nil {
		return merklelog.Checkpoint{}, nil, fmt.Errorf("bundle: the ledger's checkpoint: %w", err)
	}
	return cp, signed, nil
}

// errMoved says the ledger moved while a bundle was built; building again settles it.
var errMoved = errors.New("the ledger moved during the export")

// build reads a consistent bundle: status lists are fetched first (fetching may make an
// issuer re-sign and anchor a list), then the checkpoint fixes the sequence, then every
// record before it is read; a list whose newest ledger digest is not the fetched list's, or
// is after the checkpoint, means the ledger moved, and the build starts again.
func (e *Exporter) build(ctx context.Context, now time.Time) (Content, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var c Content
		c, err = e.buildOnce(ctx, now)
		if !errors.Is(err, errMoved) {
			return c, err
		}
	}
	return Content{}, fmt.Errorf("bundle: %w five times in a row", err)
}

func (e *Exporter) buildOnce(ctx context.Context, now time.Time) (Content, error) {
	l := e.cfg.Ledger
	ids, err := l.AccreditedIssuers(ctx)
	if err != nil {
		return Content{}, err
	}
	// Issuers accredited by a DID that is not on the ledger (did:key, did:jwk, did:web:
	// ledger.ExternalIssuer) have no DID history here to carry: bundles leave them out, so an
	// offline verifier does not accept them (docs/design/0008-wallet-receive.md).
	ids = slices.DeleteFunc(ids, ledger.ExternalIssuer)
	tokens := map[string][]byte{} // nil: could not be fetched
	for _, id := range ids {
		recs, err := l.IssuerStatusLists(ctx, id)
		if err != nil {
			return Content{}, err
		}
		for uri := range recs {
			tok, err := e.cfg.StatusLists.StatusList(ctx, uri)
			if err != nil {
				if ctx.Err() != nil {
					return Content{}, ctx.Err()
				}
				e.cfg.Logger.WarnContext(ctx, "trust bundle without a status list", "issuer", id, "list", uri, "err", err)
			}
			tokens[uri] = tok
		}
	}
	cp, signed, err := e.checkpoint(ctx)
	if err != nil {
		return Content{}, err
	}
	c := Content{Format: FormatFull, Version: Version, Seq: cp.Size, Created: now.Unix(), Issuers: []Issuer{},
		Ledger: Ledger{Origin: cp.Origin, Key: e.cfg.LedgerKey, Checkpoint: string(signed)}, Policies: map[string][]byte{}}
	if e.cfg.Policies != nil {
		if c.Policies, err = e.cfg.Policies(ctx); err != nil {
			return Content{}, fmt.Errorf("policies: %w", err)
		}
		if c.Policies == nil {
			c.Policies = map[string][]byte{}
		}
	}
	for _, id := range ids {
		is, ok, err := e.issuer(ctx, id, cp.Size, tokens)
		if err != nil {
			return Content{}, err
		}
		if ok {
			c.Issuers = append(c.Issuers, is)
		}
	}
	return c, nil
}

// issuer reads issuer id as of the tree size seq; ok is false if it was not yet accredited.
func (e *Exporter) issuer(ctx context.Context, id string, seq uint64, tokens map[string][]byte) (Issuer, bool, error) {
	l := e.cfg.Ledger
	is := Issuer{DID: id, Trust: []Trust{}, Versions: []DIDVersion{}, StatusLists: []StatusList{}}
	recs, err := l.TrustRecords(ctx, id)
	if err != nil {
		return Issuer{}, false, err
	}
	for _, r := range recs {
		if r.Leaf >= seq {
			continue
		}
		is.Trust = append(is.Trust, Trust{Leaf: r.Leaf, Kind: r.Kind, Authority: r.Authority, Seq: r.Seq, Types: slices.Clone(r.Types),
			From: r.From, Until: r.Until, At: r.At})
	}
	if len(is.Trust) == 0 {
		return Issuer{}, false, nil
	}
	hist, err := l.History(ctx, id)
	if err != nil {
		return Issuer{}, false, fmt.Errorf("history of %s: %w", id, err)
	}
	for _, v := range hist {
		if v.LeafIndex >= seq {
			break
		}
		doc, err := json.Marshal(v.Document)
		if err != nil {
			return Issuer{}, false, err
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			return Issuer{}, false, err
		}
		is.Versions = append(is.Versions, DIDVersion{Seq: v.Seq, VersionID: v.VersionID, Time: v.Time.UnixMilli(), Leaf: v.LeafIndex,
			Deactivated: v.Deactivated, Document: compact.Bytes()})
	}
	if len(is.Versions) == 0 {
		return Issuer{}, false, fmt.Errorf("accredited issuer %s has no DID document", id)
	}
	lists, err := l.IssuerStatusLists(ctx, id)
	if err != nil {
		return Issuer{}, false, err
	}
	for uri, rec := range lists {
		tok, asked := tokens[uri]
		if asked && tok == nil {
			continue // could not be fetched (logged)
		}
		if !asked || rec.LeafIndex >= seq || !bytes.Equal(rec.Digest, statuslist.Digest(tok)) {
			return Issuer{}, false, fmt.Errorf("%w: status list %s", errMoved, uri)
		}
		is.StatusLists = append(is.StatusLists, StatusList{URI: uri, Seq: rec.Seq, Leaf: rec.LeafIndex, Token: string(tok)})
	}
	slices.SortFunc(is.StatusLists, func(a, b StatusList) int { return strings.Compare(a.URI, b.URI) })
	return is, true, nil
}
