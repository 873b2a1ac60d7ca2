package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Machine is the deterministic state machine of the ledger over its store: Begin a block,
// Validate and Apply operations to it in order, Finish it, Commit it. Apply reads no clock,
// randomness, map order or floating point: the same blocks give the same state, hashes and
// log on every node. A Machine is used by one goroutine at a time; reads of the store by
// others see only committed blocks.
type Machine struct {
	store   *ledgerstore.Store
	genesis []byte // canonical genesis, once block 0 is committed
	root    string // root authority DID
	head    Block
	hasHead bool
	tree    *merklelog.Tree
}

// NewMachine loads the machine's state from store: the head block, the Merkle log's right
// edge (checked against the head's log root) and the root authority. A new store has no head;
// the first block must then be Genesis.
func NewMachine(ctx context.Context, store *ledgerstore.Store) (*Machine, error) {
	m := &Machine{store: store, tree: merklelog.NewTree()}
	h, err := store.Head(ctx)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	m.head, m.hasHead = blockFromStore(h), true
	if m.genesis, err = store.Meta(ctx, metaGenesis); err != nil {
		return nil, fmt.Errorf("load genesis: %w", err)
	}
	g, err := ParseGenesis(m.genesis)
	if err != nil {
		return nil, fmt.Errorf("stored genesis: %w", err)
	}
	m.root = g.RootAuthority()
	if m.tree, err = merklelog.Restore(ctx, store, h.LogSize); err != nil {
		return nil, err
	}
	if string(m.tree.Root()) != string(h.LogRoot) {
		return nil, fmt.Errorf("ledger: stored Merkle log does not match block %d's log root", h.Height)
	}
	return m, nil
}

const metaGenesis = "genesis"

// Head returns the last committed block and false if there is none.
func (m *Machine) Head() (Block, bool) { return m.head, m.hasHead }

// RootAuthority returns the root authority's DID, "" before genesis.
func (m *Machine) RootAuthority() string { return m.root }

// Pending is a block being built. Each operation is validated against the committed state
// plus the operations before it in the block.
type Pending struct {
	m       *Machine
	block   Block
	tree    *merklelog.Tree
	ops     []string
	codes   []string
	leaves  [][]byte
	changes ledgerstore.Changes
	done    bool

	// Overlay of the block's reads and writes. Maps are only looked up, never iterated.
	dids      map[string]*didState
	didOrder  []string // DIDs written, in first-write order
	anchors   map[[2]string]bool
	statuses  map[string]ledgerstore.Status
	trustSeqs map[string]bool
	trust     map[string][]ledgerstore.Trust
}

type didState struct {
	rec       ledgerstore.DID
	doc       Document
	updateKey *jose.JSONWebKey
	dirty     bool
}

// Begin starts block height at time t (truncated to milliseconds). height must be one more
// than the head's (0 for a new store, which must then be filled with Genesis) and t must not
// be before the head's time.
func (m *Machine) Begin(height uint64, t time.Time) (*Pending, error) {
	want := uint64(0)
	prev, prevRoot := zeroHash, zeroHash
	if m.hasHead {
		want, prev, prevRoot = m.head.Height+1, m.head.Hash, m.head.StateRoot
		if t.UnixMilli() < m.head.Time.UnixMilli() {
			return nil, fmt.Errorf("ledger: block %d time %s is before block %d's %s", height, t, m.head.Height, m.head.Time)
		}
	}
	if height != want {
		return nil, fmt.Errorf("ledger: block %d does not follow the head (next is %d)", height, want)
	}
	p := &Pending{
		m:         m,
		block:     Block{Height: height, Time: time.UnixMilli(t.UnixMilli()).UTC(), Prev: prev, StateRoot: prevRoot},
		tree:      m.tree.Clone(),
		dids:      map[string]*didState{},
		anchors:   map[[2]string]bool{},
		statuses:  map[string]ledgerstore.Status{},
		trustSeqs: map[string]bool{},
		trust:     map[string][]ledgerstore.Trust{},
	}
	return p, nil
}

// Height returns the height of the block being built.
func (p *Pending) Height() uint64 { return p.block.Height }

// Len returns the number of operations in the block so far.
func (p *Pending) Len() int { return len(p.ops) }

// Validate reports what Apply would decide for op, changing nothing. It returns an error only
// for faults (the store failing).
func (p *Pending) Validate(ctx context.Context, op *SignedOp) (Result, error) {
	_, res, err := p.check(ctx, op)
	return res, err
}

// Apply adds the operation jws to the block: it validates it and, if it is accepted, applies
// it and appends it to the Merkle log. op is jws already parsed by ParseOp, or nil to parse it
// here; either way a rejected operation is kept in the block with its result. It returns an
// error only for faults, after which the block must be abandoned.
func (p *Pending) Apply(ctx context.Context, jws string, op *SignedOp) (Result, error) {
	if p.done {
		return Result{}, errors.New("ledger: block already finished")
	}
	var res Result
	if op == nil {
		var err error
		if op, err = ParseOp(jws); err != nil {
			var oe *OpError
			if !errors.As(err, &oe) {
				return Result{}, err
			}
			res = reject(oe)
		}
	}
	if op != nil {
		apply, r, err := p.check(ctx, op)
		if err != nil {
			return Result{}, err
		}
		if res = r; res.OK() {
			res.LeafIndex = p.tree.Size() + uint64(len(p.leaves))
			apply(res.LeafIndex)
			p.leaves = append(p.leaves, leafHash(jws))
		}
	}
	res.Height = p.block.Height
	p.changes.Ops = append(p.changes.Ops, ledgerstore.Op{Height: p.block.Height, Pos: len(p.ops), JWS: jws,
		Code: string(res.Code), Reason: res.Reason, Accepted: res.OK(), Leaf: res.LeafIndex})
	p.ops = append(p.ops, jws)
	p.codes = append(p.codes, string(res.Code))
	return res, nil
}

// Finish appends the block's accepted operations to the log and computes the block header.
// No operation can be added afterwards.
func (p *Pending) Finish() (Block, error) {
	if p.done {
		return p.block, nil
	}
	nodes, err := p.tree.Append(p.leaves...)
	if err != nil {
		return Block{}, err
	}
	b := &p.block
	b.OpsHash = opsHash(p.ops)
	b.LogSize, b.LogRoot = p.tree.Size(), p.tree.Root()
	b.ResultsHash = resultsHash(p.codes)
	b.StateRoot = stateRoot(b.StateRoot, b.Height, b.LogSize, b.LogRoot, b.ResultsHash)
	b.Hash = blockHash(*b)
	p.changes.Block = b.store()
	p.changes.Nodes = nodes
	for _, id := range p.didOrder {
		p.changes.DIDs = append(p.changes.DIDs, p.dids[id].rec)
	}
	p.done = true
	return *b, nil
}

// Nodes returns the Merkle log nodes the finished block adds.
func (p *Pending) Nodes() []merklelog.Node { return p.changes.Nodes }

// Commit writes the finished block p, and the signed checkpoint for it if not nil, in one
// transaction, and makes it the head. On error nothing is written and the machine is
// unchanged.
func (m *Machine) Commit(ctx context.Context, p *Pending, checkpoint []byte) error {
	if !p.done {
		return errors.New("ledger: commit of an unfinished block")
	}
	if p.m != m {
		return errors.New("ledger: commit of another machine's block")
	}
	p.changes.Checkpoint = checkpoint
	if err := m.store.Commit(ctx, &p.changes); err != nil {
		return err
	}
	if p.changes.Meta != nil {
		m.genesis = p.changes.Meta[metaGenesis]
	}
	m.head, m.hasHead, m.tree = p.block, true, p.tree
	return nil
}

// Genesis begins block 0 of a new store: it applies g's create operation, which must be
// accepted, and records g. Finish and Commit it like any block.
func (m *Machine) Genesis(ctx context.Context, g Genesis) (*Pending, error) {
	if m.hasHead {
		return nil, errors.New("ledger: genesis of a store that has blocks")
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	p, err := m.Begin(0, g.Time)
	if err != nil {
		return nil, err
	}
	res, err := p.Apply(ctx, g.Create, nil)
	if err != nil {
		return nil, err
	}
	if !res.OK() {
		return nil, fmt.Errorf("ledger: genesis create operation rejected: %s: %s", res.Code, res.Reason)
	}
	p.changes.Meta = map[string][]byte{metaGenesis: g.Encode()}
	m.root = g.RootAuthority()
	return p, nil
}

// --- reads through the overlay ---

func (p *Pending) did(ctx context.Context, id string) (*didState, error) {
	if st, ok := p.dids[id]; ok {
		return st, nil
	}
	rec, err := p.m.store.DID(ctx, id)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st := &didState{rec: rec}
	if !rec.Deactivated {
		if st.doc, err = parseStoredDocument(rec.Doc); err != nil {
			return nil, fmt.Errorf("stored document of %s: %w", id, err)
		}
		if st.updateKey, err = parseStoredJWK(rec.UpdateKey); err != nil {
			return nil, fmt.Errorf("stored update key of %s: %w", id, err)
		}
	}
	p.dids[id] = st
	return st, nil
}

func parseStoredJWK(b []byte) (*jose.JSONWebKey, error) {
	v, err := decodeStrict(b, "stored key")
	if err != nil {
		return nil, err
	}
	return decodeJWK(v, "stored key")
}

func (p *Pending) putDID(st *didState) {
	if !st.dirty {
		st.dirty = true
		p.didOrder = append(p.didOrder, st.rec.ID)
	}
	p.dids[st.rec.ID] = st
}

func (p *Pending) anchorExists(ctx context.Context, issuer, batch string) (bool, error) {
	if p.anchors[[2]string{issuer, batch}] {
		return true, nil
	}
	_, err := p.m.store.Anchor(ctx, issuer, batch)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (p *Pending) latestStatus(ctx context.Context, list string) (ledgerstore.Status, bool, error) {
	if st, ok := p.statuses[list]; ok {
		return st, true, nil
	}
	st, err := p.m.store.LatestStatus(ctx, list)
	if errors.Is(err, ledgerstore.ErrNotFound) {
		return st, false, nil
	}
	return st, err == nil, err
}

func (p *Pending) trustSeqUsed(ctx context.Context, authority string, seq uint64) (bool, error) {
	if p.trustSeqs[fmt.Sprint(authority, " ", seq)] {
		return true, nil
	}
	return p.m.store.TrustSeqUsed(ctx, authority, seq)
}

func (p *Pending) trustOf(ctx context.Context, issuer string) ([]ledgerstore.Trust, error) {
	if rows, ok := p.trust[issuer]; ok {
		return rows, nil
	}
	rows, err := p.m.store.Trust(ctx, issuer)
	if err != nil {
		return nil, err
	}
	p.trust[issuer] = rows
	return rows, nil
}

// --- the rules ---

// check decides op against the current state. When accepted, apply records its effects given
// its leaf index.
func (p *Pending) check(ctx context.Context, op *SignedOp) (apply func(leaf uint64), res Result, err error) {
	var oe *OpError
	switch op.Op.Type {
	case TypeCreate:
		apply, oe, err = p.checkCreate(ctx, op)
	case TypeUpdate, TypeRecover, TypeDeactivate:
		apply, oe, err = p.checkChange(ctx, op)
	case TypeAnchor, TypeStatus:
		apply, oe, err = p.checkIssuerOp(ctx, op)
	case TypeAccredit, TypeWithdraw:
		apply, oe, err = p.checkTrust(ctx, op)
	default:
		oe = opErr(CodeMalformed, "unknown operation type %q", op.Op.Type)
	}
	if err != nil {
		return nil, Result{}, err
	}
	if oe != nil {
		return nil, reject(oe), nil
	}
	return apply, Result{Code: CodeOK}, nil
}

func (p *Pending) checkCreate(ctx context.Context, op *SignedOp) (func(uint64), *OpError, error) {
	id := didOfPayload(op.Payload)
	st, err := p.did(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		return nil, opErr(CodeDuplicate, "%s already exists", id), nil
	}
	if err := op.Verify(op.Op.UpdateKey); err != nil {
		return nil, err.(*OpError), nil
	}
	return func(leaf uint64) {
		t := p.block.Time.UnixMilli()
		uk, _ := canonicalJWK(op.Op.UpdateKey)
		st := &didState{
			rec: ledgerstore.DID{ID: id, Seq: 1, VersionID: op.VersionID(), UpdateKey: uk, RecoveryCommitment: op.Op.RecoveryCommitment,
				Created: t, Updated: t, Doc: op.Op.Document.canonical()},
			doc: *op.Op.Document, updateKey: op.Op.UpdateKey,
		}
		p.putDID(st)
		p.addVersion(st, leaf)
	}, nil, nil
}

func (p *Pending) addVersion(st *didState, leaf uint64) {
	p.changes.Versions = append(p.changes.Versions, ledgerstore.Version{DID: st.rec.ID, Seq: st.rec.Seq, VersionID: st.rec.VersionID,
		Time: p.block.Time.UnixMilli(), Height: p.block.Height, Leaf: leaf, Deactivated: st.rec.Deactivated, Doc: st.rec.Doc})
}

// checkChange decides update, recover and deactivate.
func (p *Pending) checkChange(ctx context.Context, op *SignedOp) (func(uint64), *OpError, error) {
	o := op.Op
	st, err := p.did(ctx, o.DID)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case st == nil:
		return nil, opErr(CodeUnknownDID, "%s is not on the ledger", o.DID), nil
	case st.rec.Deactivated:
		return nil, opErr(CodeDeactivated, "%s is deactivated", o.DID), nil
	case o.Prev != st.rec.VersionID:
		return nil, opErr(CodeStalePrev, "prev is not the current versionId of %s (replayed or out of order)", o.DID), nil
	}
	next := &didState{rec: st.rec, doc: st.doc, updateKey: st.updateKey, dirty: st.dirty}
	switch o.Type {
	case TypeUpdate:
		if err := op.Verify(st.updateKey); err != nil {
			return nil, err.(*OpError), nil
		}
		if o.NextUpdateKey != nil {
			if rc, _ := RecoveryCommitment(o.NextUpdateKey); rc == st.rec.RecoveryCommitment {
				return nil, opErr(CodeWrongKey, "the next update key is the recovery key"), nil
			}
			next.updateKey = o.NextUpdateKey
		}
		doc, oe := st.doc.applyPatches(o.Patches)
		if oe != nil {
			return nil, oe, nil
		}
		next.doc = doc
	case TypeRecover, TypeDeactivate:
		if rc, _ := RecoveryCommitment(o.RecoveryKey); rc != st.rec.RecoveryCommitment {
			return nil, opErr(CodeWrongKey, "recovery_key does not match the recovery commitment of %s", o.DID), nil
		}
		if err := op.Verify(o.RecoveryKey); err != nil {
			return nil, err.(*OpError), nil
		}
		if o.Type == TypeRecover {
			next.doc, next.updateKey = *o.Document, o.UpdateKey
			next.rec.RecoveryCommitment = o.RecoveryCommitment
		} else {
			next.doc, next.updateKey = Document{}, nil
			next.rec.RecoveryCommitment = ""
			next.rec.Deactivated = true
		}
	}
	return func(leaf uint64) {
		next.rec.Seq++
		next.rec.VersionID = op.VersionID()
		next.rec.Updated = p.block.Time.UnixMilli()
		next.rec.Doc = next.doc.canonical()
		next.rec.UpdateKey = nil
		if next.updateKey != nil {
			next.rec.UpdateKey, _ = canonicalJWK(next.updateKey)
		}
		p.putDID(next)
		p.addVersion(next, leaf)
	}, nil, nil
}

// signerKey resolves the kid of op to an assertionMethod key of the DID state st.
func signerKey(op *SignedOp, st *didState) *jose.JSONWebKey {
	_, frag, _ := did.SplitURL(op.KeyID)
	return st.doc.key("#"+frag, did.AssertionMethod)
}

// issuerKey finds the issuer id and checks it may sign: on the ledger, not deactivated, kid an
// assertionMethod key of it, signature valid.
func (p *Pending) issuerKey(ctx context.Context, op *SignedOp, id string) (*didState, *OpError, error) {
	st, err := p.did(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if st == nil {
		return nil, opErr(CodeUnknownDID, "%s is not on the ledger", id), nil
	}
	if st.rec.Deactivated {
		return nil, opErr(CodeDeactivated, "%s is deactivated", id), nil
	}
	key := signerKey(op, st)
	if key == nil {
		return nil, opErr(CodeWrongKey, "%s is not an assertionMethod key of %s", op.KeyID, id), nil
	}
	if err := op.Verify(key); err != nil {
		return nil, err.(*OpError), nil
	}
	return st, nil, nil
}

// checkIssuerOp decides anchor and status.
func (p *Pending) checkIssuerOp(ctx context.Context, op *SignedOp) (func(uint64), *OpError, error) {
	o := op.Op
	if _, oe, err := p.issuerKey(ctx, op, o.Issuer); oe != nil || err != nil {
		return nil, oe, err
	}
	if o.Issuer != p.m.root {
		rows, err := p.trustOf(ctx, o.Issuer)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := accreditationAt(rows, "", p.block.Time.Unix()); !ok {
			return nil, opErr(CodeNotAccredited, "%s holds no accreditation in effect", o.Issuer), nil
		}
	}
	if o.Type == TypeAnchor {
		dup, err := p.anchorExists(ctx, o.Issuer, o.Batch)
		if err != nil {
			return nil, nil, err
		}
		if dup {
			return nil, opErr(CodeDuplicate, "%s already anchored batch %q", o.Issuer, o.Batch), nil
		}
		return func(leaf uint64) {
			p.anchors[[2]string{o.Issuer, o.Batch}] = true
			p.changes.Anchors = append(p.changes.Anchors, ledgerstore.Anchor{Issuer: o.Issuer, Batch: o.Batch, Root: o.Root,
				Count: o.Count, Leaf: leaf, Height: p.block.Height})
		}, nil, nil
	}
	latest, ok, err := p.latestStatus(ctx, o.List)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		switch {
		case latest.Issuer != o.Issuer:
			return nil, opErr(CodeWrongKey, "status list %q belongs to %s", o.List, latest.Issuer), nil
		case o.Seq == latest.Seq:
			return nil, opErr(CodeDuplicate, "status list %q already has seq %d", o.List, o.Seq), nil
		case o.Seq < latest.Seq:
			return nil, opErr(CodeStalePrev, "status list %q is at seq %d; seq must increase", o.List, latest.Seq), nil
		}
	}
	return func(leaf uint64) {
		st := ledgerstore.Status{List: o.List, Seq: o.Seq, Issuer: o.Issuer, Digest: o.Digest, Leaf: leaf, Height: p.block.Height}
		p.statuses[o.List] = st
		p.changes.Statuses = append(p.changes.Statuses, st)
	}, nil, nil
}

// checkTrust decides accredit and withdraw.
func (p *Pending) checkTrust(ctx context.Context, op *SignedOp) (func(uint64), *OpError, error) {
	o := op.Op
	signer, _, _ := did.SplitURL(op.KeyID)
	if signer.String() != p.m.root {
		return nil, opErr(CodeNotRoot, "%s is not signed by the root authority", o.Type), nil
	}
	if _, oe, err := p.issuerKey(ctx, op, p.m.root); oe != nil || err != nil {
		return nil, oe, err
	}
	if o.Issuer == p.m.root {
		return nil, opErr(CodeNotRoot, "the root authority accredits; it is not accredited"), nil
	}
	// A did:ez issuer must be on the ledger and active; an external one (did:key, did:jwk,
	// did:web: ExternalIssuer) has no state here to check.
	if !ExternalIssuer(o.Issuer) {
		st, err := p.did(ctx, o.Issuer)
		if err != nil {
			return nil, nil, err
		}
		if st == nil {
			return nil, opErr(CodeUnknownDID, "issuer %s is not on the ledger", o.Issuer), nil
		}
		if st.rec.Deactivated && o.Type == TypeAccredit {
			return nil, opErr(CodeDeactivated, "issuer %s is deactivated", o.Issuer), nil
		}
	}
	used, err := p.trustSeqUsed(ctx, p.m.root, o.Seq)
	if err != nil {
		return nil, nil, err
	}
	if used {
		return nil, opErr(CodeDuplicate, "the root authority already used seq %d", o.Seq), nil
	}
	rows, err := p.trustOf(ctx, o.Issuer)
	if err != nil {
		return nil, nil, err
	}
	return func(leaf uint64) {
		t := ledgerstore.Trust{Leaf: leaf, Kind: o.Type, Authority: p.m.root, Seq: o.Seq, Issuer: o.Issuer,
			Types: slices.Clone(o.Types), From: o.From, Until: o.Until, At: o.At, Height: p.block.Height}
		p.trustSeqs[fmt.Sprint(p.m.root, " ", o.Seq)] = true
		p.trust[o.Issuer] = append(slices.Clip(rows), t)
		p.changes.Trust = append(p.changes.Trust, t)
	}, nil, nil
}

// accreditationAt returns the newest accreditation in rows (one issuer's trust records in log
// order) in effect at unix second at for credential type vct ("" for any type): from <= at <
// until, and not withdrawn for that type by a later withdrawal with at <= the given time. The
// returned record's Until is cut short by a later withdrawal that takes effect after at.
func accreditationAt(rows []ledgerstore.Trust, vct string, at int64) (ledgerstore.Trust, bool) {
	for i := len(rows) - 1; i >= 0; i-- {
		a := rows[i]
		if a.Kind != ledgerstore.KindAccredit || at < a.From || at >= a.Until {
			continue
		}
		types := a.Types
		if vct != "" {
			if !slices.Contains(types, vct) {
				continue
			}
			types = []string{vct}
		}
		for _, t := range types {
			until, withdrawn := a.Until, false
			for _, w := range rows[i+1:] {
				if w.Kind != ledgerstore.KindWithdraw || !slices.Contains(w.Types, t) {
					continue
				}
				if w.At <= at {
					withdrawn = true
					break
				}
				until = min(until, w.At)
			}
			if !withdrawn {
				a.Until = until
				return a, true
			}
		}
	}
	return ledgerstore.Trust{}, false
}
