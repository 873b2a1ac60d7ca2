package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// ResolveQuery selects a version of a DID document (W3C DID Resolution versionId and
// versionTime). Zero values select the current version; with both set the version must match
// both.
type ResolveQuery struct {
	VersionID string
	// VersionTime selects the version in effect at this time, to the second (the precision
	// of DID Core timestamps): the newest version whose block time is before the end of
	// VersionTime's second.
	VersionTime time.Time
}

// Resolution is a resolved DID document with its document metadata.
type Resolution struct {
	Document *did.Document
	Metadata Metadata
}

// Metadata is the DID document metadata of a resolution (W3C DID Core §7.1.3). Times are
// block times truncated to the second, UTC, as DID Core timestamps are.
type Metadata struct {
	Created       time.Time // time of the create operation's block
	Updated       time.Time // time of the resolved version's block; zero for the created version
	VersionID     string    // the resolved version
	Deactivated   bool
	NextUpdate    time.Time // time of the version after the resolved one, zero if it is the newest
	NextVersionID string    // the version after the resolved one, "" if it is the newest
}

// Resolve resolves a did:ez DID, at the version q selects. A deactivated DID resolves to a
// document with no verification methods, relationships or services, and Deactivated set.
// Errors wrap did.ErrInvalidDID (not a valid did:ez DID) or did.ErrNotFound (no such DID, or no
// such version); others are faults.
func (l *Ledger) Resolve(ctx context.Context, id string, q ResolveQuery) (*Resolution, error) {
	return l.cachedResolve(ctx, id, q)
}

// resolve is Resolve without the read cache.
func (l *Ledger) resolve(ctx context.Context, id string, q ResolveQuery) (*Resolution, error) {
	if _, err := ParseDID(id); err != nil {
		return nil, err
	}
	var v ledgerstore.Version
	var err error
	// versionTime has the precision of DID Core timestamps, the second: the version in effect
	// at T is the newest written no later than the end of T's second.
	cut := q.VersionTime.Truncate(time.Second).UnixMilli() + 999
	switch {
	case q.VersionID != "":
		v, err = l.store.VersionByID(ctx, id, q.VersionID)
		if err == nil && !q.VersionTime.IsZero() && v.Time > cut {
			err = ledgerstore.ErrNotFound
		}
	case !q.VersionTime.IsZero():
		v, err = l.store.VersionAt(ctx, id, cut)
	default:
		var cur ledgerstore.DID
		if cur, err = l.store.DID(ctx, id); err == nil {
			v = ledgerstore.Version{DID: id, Seq: cur.Seq, VersionID: cur.VersionID, Time: cur.Updated, Deactivated: cur.Deactivated, Doc: cur.Doc}
		}
	}
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s (version %q, time %v)", did.ErrNotFound, id, q.VersionID, q.VersionTime)
	}
	if err != nil {
		return nil, err
	}
	doc, err := parseStoredDocument(v.Doc)
	if err != nil {
		return nil, fmt.Errorf("stored document of %s: %w", id, err)
	}
	res := &Resolution{Document: doc.DIDDocument(id), Metadata: Metadata{VersionID: v.VersionID, Deactivated: v.Deactivated}}
	res.Metadata.Created = stamp(v.Time)
	if v.Seq > 1 {
		res.Metadata.Updated = res.Metadata.Created
		first, err := l.store.Version(ctx, id, 1)
		if err != nil {
			return nil, err
		}
		res.Metadata.Created = stamp(first.Time)
	}
	if q == (ResolveQuery{}) {
		return res, nil
	}
	next, err := l.store.Version(ctx, id, v.Seq+1)
	switch {
	case err == nil:
		res.Metadata.NextUpdate, res.Metadata.NextVersionID = stamp(next.Time), next.VersionID
	case !errors.Is(err, ledgerstore.ErrNotFound):
		return nil, err
	}
	return res, nil
}

// stamp turns a block time into a DID Core timestamp: UTC, whole seconds.
func stamp(ms int64) time.Time { return time.UnixMilli(ms).UTC().Truncate(time.Second) }

// ResolveDID returns the current DID document of a did:ez DID: the adapter that makes the
// ledger a did.Resolver (see DIDResolver). A deactivated DID returns a document with no keys,
// so every key lookup on it fails with did.ErrKeyNotFound; it does not return
// did.ErrNotFound. Errors are those of Resolve.
func (l *Ledger) ResolveDID(ctx context.Context, id string) (*did.Document, error) {
	r, err := l.Resolve(ctx, id, ResolveQuery{})
	if err != nil {
		return nil, err
	}
	return r.Document, nil
}

// DIDResolver returns l as a did.Resolver of did:ez DIDs (ResolveDID).
func (l *Ledger) DIDResolver() did.Resolver { return resolver{l} }

type resolver struct{ l *Ledger }

func (r resolver) Resolve(ctx context.Context, id string) (*did.Document, error) {
	return r.l.ResolveDID(ctx, id)
}

// Accreditation is an accreditation of an issuer for a credential type by the root authority.
type Accreditation struct {
	Issuer    string
	Type      string    // the credential type (vct) asked about
	Types     []string  // all types of the accredit operation
	From      time.Time // seconds precision
	Until     time.Time // end of the period, or of a later withdrawal taking effect before it
	Seq       uint64
	LeafIndex uint64 // of the accredit operation
}

// Accreditation returns the accreditation of issuer for credential type vct in effect at at:
// the newest accredit operation for vct with from <= at < until that no later withdraw
// operation for vct with at' <= at has withdrawn. vct "" asks for any type (what anchor and
// status operations require). It returns ErrNotAccredited if there is none.
func (l *Ledger) Accreditation(ctx context.Context, issuer, vct string, at time.Time) (Accreditation, error) {
	rows, err := l.cachedTrust(ctx, issuer)
	if err != nil {
		return Accreditation{}, err
	}
	a, ok := accreditationAt(rows, vct, at.Unix())
	if !ok {
		return Accreditation{}, fmt.Errorf("%w: %s for %q at %s", ErrNotAccredited, issuer, vct, at.UTC().Format(time.RFC3339))
	}
	return Accreditation{Issuer: issuer, Type: vct, Types: slices.Clone(a.Types), From: time.Unix(a.From, 0).UTC(), Until: time.Unix(a.Until, 0).UTC(),
		Seq: a.Seq, LeafIndex: a.Leaf}, nil
}

// RootAuthority returns the DID of the root authority, fixed by the genesis.
func (l *Ledger) RootAuthority() string { return l.root }

// Checkpoint returns the newest signed checkpoint, verbatim (a C2SP signed note).
func (l *Ledger) Checkpoint(ctx context.Context) ([]byte, error) {
	return l.store.LatestCheckpoint(ctx)
}

// InclusionProof returns the RFC 9162 inclusion proof of log leaf leafIndex in the tree of
// treeSize leaves, which must not exceed the committed log size. It returns an error wrapping
// ErrRange for an index or size out of range.
func (l *Ledger) InclusionProof(ctx context.Context, leafIndex, treeSize uint64) ([][]byte, error) {
	if head := l.head.Load(); treeSize > head.LogSize || leafIndex >= treeSize {
		return nil, fmt.Errorf("%w: leaf %d in tree of %d (log size %d)", ErrRange, leafIndex, treeSize, head.LogSize)
	}
	return merklelog.InclusionProof(ctx, l.store, leafIndex, treeSize)
}

// ConsistencyProof returns the RFC 9162 consistency proof from the tree of size1 leaves to the
// tree of size2, which must not exceed the committed log size. It returns an error wrapping
// ErrRange for sizes out of range.
func (l *Ledger) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if head := l.head.Load(); size2 > head.LogSize || size1 > size2 {
		return nil, fmt.Errorf("%w: sizes %d and %d (log size %d)", ErrRange, size1, size2, head.LogSize)
	}
	return merklelog.ConsistencyProof(ctx, l.store, size1, size2)
}

// Op returns the operation JWS that is log leaf leafIndex, or ErrNotFound.
func (l *Ledger) Op(ctx context.Context, leafIndex uint64) (string, error) {
	o, err := l.store.OpByLeaf(ctx, leafIndex)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return "", fmt.Errorf("%w: leaf %d", ErrNotFound, leafIndex)
	}
	return o.JWS, err
}

// AnchorRecord is an accepted anchor operation.
type AnchorRecord struct {
	LeafIndex uint64
	Height    uint64
	Root      []byte // the batch root
	Count     uint64
	Op        string // the anchor operation JWS
}

// Anchor returns the anchor of issuer's batch, or ErrNotFound.
func (l *Ledger) Anchor(ctx context.Context, issuer, batch string) (AnchorRecord, error) {
	a, err := l.store.Anchor(ctx, issuer, batch)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return AnchorRecord{}, fmt.Errorf("%w: anchor %s %q", ErrNotFound, issuer, batch)
	}
	if err != nil {
		return AnchorRecord{}, err
	}
	op, err := l.Op(ctx, a.Leaf)
	if err != nil {
		return AnchorRecord{}, err
	}
	return AnchorRecord{LeafIndex: a.Leaf, Height: a.Height, Root: a.Root, Count: a.Count, Op: op}, nil
}

// StatusRecord is an accepted status-list publication.
type StatusRecord struct {
	Issuer    string
	Seq       uint64
	Digest    []byte
	LeafIndex uint64
	Height    uint64
}

// StatusList returns the newest publication of status list list, or ErrNotFound.
func (l *Ledger) StatusList(ctx context.Context, list string) (StatusRecord, error) {
	s, err := l.cachedStatus(ctx, list)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return StatusRecord{}, fmt.Errorf("%w: status list %q", ErrNotFound, list)
	}
	return StatusRecord{Issuer: s.Issuer, Seq: s.Seq, Digest: slices.Clone(s.Digest), LeafIndex: s.Leaf, Height: s.Height}, err
}

// Status is a summary of the node's state.
type Status struct {
	Height        uint64 // of the newest block
	Size          uint64 // of the Merkle log
	Root          []byte // of the Merkle log
	RootAuthority string
	Origin        string
}

// Status returns the node's head.
func (l *Ledger) Status(context.Context) Status {
	h := l.head.Load()
	return Status{Height: h.Height, Size: h.LogSize, Root: h.LogRoot, RootAuthority: l.root, Origin: l.origin}
}

// BlockData is a committed block with its operations and their results.
type BlockData struct {
	Block
	Ops     []string
	Results []Result
}

// Block returns the committed block at height, or ErrNotFound.
func (l *Ledger) Block(ctx context.Context, height uint64) (BlockData, error) {
	b, err := l.store.Block(ctx, height)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return BlockData{}, fmt.Errorf("%w: block %d", ErrNotFound, height)
	}
	if err != nil {
		return BlockData{}, err
	}
	ops, err := l.store.BlockOps(ctx, height)
	if err != nil {
		return BlockData{}, err
	}
	bd := BlockData{Block: blockFromStore(b)}
	for _, o := range ops {
		bd.Ops = append(bd.Ops, o.JWS)
		bd.Results = append(bd.Results, Result{Code: Code(o.Code), Reason: o.Reason, LeafIndex: o.Leaf, Height: height})
	}
	return bd, nil
}

// ProveLeaf returns the newest signed checkpoint and the inclusion proof of log leaf
// leafIndex in the tree it signs: what an anchor receipt needs, taken at one tree size. It
// verifies the proof against the checkpoint before returning it. It returns an error wrapping
// ErrNotFound if the leaf is not in the log.
func (l *Ledger) ProveLeaf(ctx context.Context, leafIndex uint64) (checkpoint []byte, proof [][]byte, err error) {
	jws, err := l.Op(ctx, leafIndex)
	if err != nil {
		return nil, nil, err
	}
	signed, err := l.store.LatestCheckpoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	cp, err := merklelog.OpenCheckpoint(signed, l.verifiers)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: stored checkpoint: %w", err)
	}
	if proof, err = merklelog.InclusionProof(ctx, l.store, leafIndex, cp.Size); err != nil {
		return nil, nil, err
	}
	if err := merklelog.VerifyInclusion(leafHash(jws), leafIndex, cp.Size, proof, cp.Root); err != nil {
		return nil, nil, fmt.Errorf("ledger: own inclusion proof of leaf %d does not verify: %w", leafIndex, err)
	}
	return signed, proof, nil
}
