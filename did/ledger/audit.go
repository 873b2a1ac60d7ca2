package ledger

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// MaxAuditIssues bounds the issues an audit lists: after a divergence every later block's
// hash and state root differ too.
const MaxAuditIssues = 1000

// AuditReport is the outcome of Audit. No Issues means the database is consistent.
type AuditReport struct {
	Blocks      uint64 // blocks replayed
	LogSize     uint64 // Merkle log size after the last block
	Checkpoints uint64 // checkpoints whose signature and contents were checked
	Issues      []AuditIssue
	Truncated   bool // more than MaxAuditIssues issues were found
}

// AuditIssue is one divergence between the stored database and the replay.
type AuditIssue struct {
	Height uint64 // block where it shows
	What   string
}

func (i AuditIssue) String() string { return fmt.Sprintf("block %d: %s", i.Height, i.What) }

// OK reports whether the audit found nothing wrong.
func (r AuditReport) OK() bool { return len(r.Issues) == 0 }

// FirstDivergence returns the lowest height with an issue, and false if there is none.
func (r AuditReport) FirstDivergence() (uint64, bool) {
	if len(r.Issues) == 0 {
		return 0, false
	}
	first := r.Issues[0].Height
	for _, i := range r.Issues {
		first = min(first, i.Height)
	}
	return first, true
}

func (r *AuditReport) add(h uint64, format string, args ...any) {
	if len(r.Issues) >= MaxAuditIssues {
		r.Truncated = true
		return
	}
	r.Issues = append(r.Issues, AuditIssue{Height: h, What: fmt.Sprintf(format, args...)})
}

// Audit checks the database of a stopped node at path. It opens it read-only and replays every
// block from the stored genesis through the state machine into a scratch database, then
// compares: each operation's result and leaf index, each block's prev, ops hash, log size and
// root, results hash, state root and hash, the Merkle log nodes each block added, each stored
// checkpoint (signature by one of verifiers, origin, size, root, height, block hash), and at
// the end the derived state tables (DIDs, versions, anchors, status lists, accreditations).
// progress, if not nil, is called after each block. Divergences are issues in the report;
// the error is for faults (unreadable database, scratch space).
func Audit(ctx context.Context, path string, verifiers note.Verifiers, progress func(done, total uint64)) (AuditReport, error) {
	var rep AuditReport
	src, err := ledgerstore.OpenReadOnly(ctx, path)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	head, err := src.Head(ctx)
	if err != nil {
		return rep, fmt.Errorf("audit: %w", err)
	}
	gb, err := src.Meta(ctx, metaGenesis)
	if err != nil {
		return rep, fmt.Errorf("audit: %w", err)
	}
	g, err := ParseGenesis(gb)
	if err != nil {
		rep.add(0, "stored genesis is invalid: %v", err)
		return rep, nil
	}

	dir, err := os.MkdirTemp("", "ezheng-ledger-audit-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	dst, err := ledgerstore.OpenScratch(ctx, filepath.Join(dir, "replay.sqlite"))
	if err != nil {
		return rep, err
	}
	defer dst.Close()
	m, err := NewMachine(ctx, dst)
	if err != nil {
		return rep, err
	}

	total := head.Height + 1
	for h := uint64(0); h <= head.Height; h++ {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		stop, err := auditBlock(ctx, &rep, src, m, g, verifiers, h)
		if err != nil {
			return rep, err
		}
		if stop {
			return rep, nil
		}
		rep.Blocks++
		if progress != nil {
			progress(h+1, total)
		}
	}
	if hb, ok := m.Head(); ok {
		rep.LogSize = hb.LogSize
	}

	want, err := dst.StateDigests(ctx)
	if err != nil {
		return rep, err
	}
	got, err := src.StateDigests(ctx)
	if err != nil {
		return rep, err
	}
	for _, t := range []string{"dids", "did_versions", "anchors", "statuses", "trust"} {
		if !bytes.Equal(want[t], got[t]) {
			rep.add(head.Height, "state table %s differs from the replay's", t)
		}
	}
	return rep, nil
}

// auditBlock replays block h and compares it; stop reports that the replay cannot go on.
func auditBlock(ctx context.Context, rep *AuditReport, src *ledgerstore.Store, m *Machine, g Genesis, verifiers note.Verifiers, h uint64) (stop bool, err error) {
	stored, err := src.Block(ctx, h)
	if err != nil {
		return false, fmt.Errorf("audit: block %d: %w", h, err)
	}
	ops, err := src.BlockOps(ctx, h)
	if err != nil {
		return false, fmt.Errorf("audit: block %d: %w", h, err)
	}
	var p *Pending
	if h == 0 {
		if len(ops) != 1 || ops[0].JWS != g.Create || ops[0].Code != string(CodeOK) || ops[0].Leaf != 0 {
			rep.add(0, "block 0 does not hold exactly the accepted genesis create operation")
		}
		if stored.Time != g.Time.UnixMilli() {
			rep.add(0, "block 0 time %d, genesis time %d", stored.Time, g.Time.UnixMilli())
		}
		if p, err = m.Genesis(ctx, g); err != nil {
			rep.add(0, "replaying the genesis: %v", err)
			return true, nil
		}
		ops = ops[min(1, len(ops)):] // the genesis create is applied; compare its result below
	} else {
		if p, err = m.Begin(h, time.UnixMilli(stored.Time)); err != nil {
			rep.add(h, "cannot replay: %v", err)
			return true, nil
		}
	}
	for _, o := range ops {
		if o.Pos != p.Len() {
			rep.add(h, "operation %d is stored at position %d", p.Len(), o.Pos)
		}
		res, err := p.Apply(ctx, o.JWS, nil)
		if err != nil {
			return false, err
		}
		if string(res.Code) != o.Code || res.OK() != o.Accepted || (res.OK() && res.LeafIndex != o.Leaf) {
			rep.add(h, "operation %d: stored result %s (leaf %d, accepted %t), replay gives %s (leaf %d)",
				o.Pos, o.Code, o.Leaf, o.Accepted, res.Code, res.LeafIndex)
		}
	}
	b, err := p.Finish()
	if err != nil {
		return false, err
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"prev", stored.Prev, b.Prev},
		{"ops_hash", stored.OpsHash, b.OpsHash},
		{"log_root", stored.LogRoot, b.LogRoot},
		{"results_hash", stored.ResultsHash, b.ResultsHash},
		{"state_root", stored.StateRoot, b.StateRoot},
		{"hash", stored.Hash, b.Hash},
	} {
		if !bytes.Equal(f.got, f.want) {
			rep.add(h, "%s is %x, replay gives %x", f.name, f.got, f.want)
		}
	}
	if stored.LogSize != b.LogSize {
		rep.add(h, "log_size is %d, replay gives %d", stored.LogSize, b.LogSize)
	}
	if stored.Time != b.Time.UnixMilli() {
		rep.add(h, "time is %d, replay gives %d", stored.Time, b.Time.UnixMilli())
	}
	if nodes := p.Nodes(); len(nodes) > 0 {
		ids := make([]merklelog.NodeID, len(nodes))
		for i, n := range nodes {
			ids[i] = n.ID
		}
		have, err := src.Nodes(ctx, ids)
		if err != nil {
			rep.add(h, "Merkle log nodes of the block: %v", err)
		} else {
			for i, n := range nodes {
				if !bytes.Equal(have[i], n.Hash) {
					rep.add(h, "Merkle log node (level %d, index %d) is %x, replay gives %x", n.ID.Level, n.ID.Index, have[i], n.Hash)
				}
			}
		}
	}
	if err := m.Commit(ctx, p, nil); err != nil {
		return false, fmt.Errorf("audit: replay of block %d: %w", h, err)
	}
	auditCheckpoint(ctx, rep, src, b.Checkpoint(g.Origin), verifiers)
	return false, nil
}

// auditCheckpoint checks the stored checkpoint of block want.Height against the replay's.
func auditCheckpoint(ctx context.Context, rep *AuditReport, src *ledgerstore.Store, want merklelog.Checkpoint, verifiers note.Verifiers) {
	h := want.Height
	signed, err := src.Checkpoint(ctx, h)
	if err != nil {
		rep.add(h, "checkpoint: %v", err)
		return
	}
	cp, err := merklelog.OpenCheckpoint(signed, verifiers)
	if err != nil {
		rep.add(h, "checkpoint: %v", err)
		return
	}
	rep.Checkpoints++
	if cp.Origin != want.Origin || cp.Size != want.Size || cp.Height != want.Height ||
		!bytes.Equal(cp.Root, want.Root) || !bytes.Equal(cp.Block, want.Block) {
		rep.add(h, "checkpoint says origin %q size %d root %x block %x, replay gives %q size %d root %x block %x",
			cp.Origin, cp.Size, cp.Root, cp.Block, want.Origin, want.Size, want.Root, want.Block)
	}
}
