// Package ledger is the permissioned DID ledger of ezheng: did:ez operations (create, update,
// recover, deactivate), issuers' anchors of credential batches, status-list publications and
// the root authority's accreditations, as signed JWS operations; the deterministic state
// machine that validates and applies them in hash-chained blocks; the Merkle log of accepted
// operations with a signed checkpoint after every block; resolution of did:ez DIDs (with
// versionId and versionTime); and an audit that replays a node's database from genesis.
//
// Ledger is the embedded single-node engine on SQLite. The state machine (Machine) is separate
// from it so that a replicated engine can drive the same rules. The contract is
// docs/design/0002-ledger.md; the method is specified in docs/did-ez-method.md.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Errors of the engine and its queries.
var (
	ErrNotFound        = errors.New("ledger: not found")
	ErrNotAccredited   = errors.New("ledger: issuer not accredited")
	ErrClosed          = errors.New("ledger: closed")
	ErrGenesisMismatch = errors.New("ledger: genesis differs from the one the database was created with")
	ErrRange           = errors.New("ledger: tree size or leaf index out of range")
)

// Defaults of Config.
const (
	DefaultBlockInterval = 50 * time.Millisecond
	DefaultMaxBlockOps   = 1000
)

// Config configures an embedded ledger node.
type Config struct {
	Path     string        // SQLite file, created if missing
	Genesis  Genesis       // used only when the database is new; must match the stored one otherwise
	Signer   note.Signer   // checkpoint signer (the node key); its name must be Genesis.Origin
	Verifier note.Verifier // the Signer's verifier, to check every checkpoint before storing it

	// A block is cut BlockInterval after its first operation arrived, or as soon as it holds
	// MaxBlockOps operations.
	BlockInterval time.Duration
	MaxBlockOps   int

	Now    func() time.Time // engine clock for block times (never read in Apply); default time.Now
	Logger *slog.Logger     // default: discard
}

func (c *Config) defaults() {
	if c.BlockInterval <= 0 {
		c.BlockInterval = DefaultBlockInterval
	}
	if c.MaxBlockOps <= 0 {
		c.MaxBlockOps = DefaultMaxBlockOps
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// LogValue keeps the checkpoint signer out of logs.
func (c Config) LogValue() slog.Value {
	name := ""
	if c.Signer != nil {
		name = c.Signer.Name()
	}
	return slog.GroupValue(slog.String("path", c.Path), slog.String("origin", c.Genesis.Origin), slog.String("key", name),
		slog.Duration("block_interval", c.BlockInterval), slog.Int("max_block_ops", c.MaxBlockOps))
}

// Validate checks the configuration (after defaults).
func (c *Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("ledger: config: Path is required")
	case c.Signer == nil || c.Verifier == nil:
		return errors.New("ledger: config: Signer and Verifier are required")
	case c.Signer.Name() != c.Genesis.Origin:
		return fmt.Errorf("ledger: config: checkpoint key is named %q, the origin is %q", c.Signer.Name(), c.Genesis.Origin)
	case c.Verifier.Name() != c.Signer.Name() || c.Verifier.KeyHash() != c.Signer.KeyHash():
		return errors.New("ledger: config: Verifier is not the Signer's")
	}
	return c.Genesis.Validate()
}

// Ledger is an embedded single-node ledger: one goroutine cuts blocks from submitted
// operations, commits each in one SQLite transaction with its checkpoint, and answers the
// submitters; queries read the committed state. All methods are safe for concurrent use.
type Ledger struct {
	cfg       Config
	store     *ledgerstore.Store
	m         *Machine // owned by the run goroutine after Open
	verifiers note.Verifiers
	log       *slog.Logger
	origin    string
	root      string

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	reqs   chan *request
	quit   chan struct{}
	done   chan struct{}
	head   atomic.Pointer[Block]
	cache  readCache // answers of Resolve and Accreditation at the current head (cache.go)
}

// request is one Submit or SubmitBatch call.
type request struct {
	jws     []string
	ops     []*SignedOp // nil entries were rejected by ParseOp; their result is already set
	results []Result
	left    int
	err     error
	done    chan struct{}
}

type item struct {
	r *request
	i int
}

// Open opens the node's database at cfg.Path, creating it with cfg.Genesis as block 0 if it is
// new, restores the Merkle log's right edge, and starts cutting blocks. It returns
// ErrGenesisMismatch if the database was created with another genesis. The caller must Close
// the Ledger.
func Open(ctx context.Context, cfg Config) (*Ledger, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	store, err := ledgerstore.Open(ctx, cfg.Path)
	if err != nil {
		return nil, err
	}
	l, err := open(ctx, cfg, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	go l.run()
	return l, nil
}

func open(ctx context.Context, cfg Config, store *ledgerstore.Store) (*Ledger, error) {
	m, err := NewMachine(ctx, store)
	if err != nil {
		return nil, err
	}
	l := &Ledger{
		cfg: cfg, store: store, m: m, verifiers: note.VerifierList(cfg.Verifier), log: cfg.Logger,
		origin: cfg.Genesis.Origin, root: cfg.Genesis.RootAuthority(),
		reqs: make(chan *request, 1024), quit: make(chan struct{}), done: make(chan struct{}),
	}
	if _, ok := m.Head(); !ok {
		p, err := m.Genesis(ctx, cfg.Genesis)
		if err != nil {
			return nil, err
		}
		if err := l.commit(ctx, p); err != nil {
			return nil, fmt.Errorf("ledger: genesis: %w", err)
		}
		l.log.InfoContext(ctx, "ledger created", "origin", l.origin, "root_authority", l.root)
	} else if string(m.genesis) != string(cfg.Genesis.Encode()) {
		return nil, ErrGenesisMismatch
	}
	head, _ := m.Head()
	l.head.Store(&head)
	l.log.InfoContext(ctx, "ledger open", "height", head.Height, "log_size", head.LogSize)
	return l, nil
}

// Close stops the node after committing the operations already submitted, and closes the
// database. Submit calls after Close return ErrClosed; queries after Close fail.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	return l.store.Close()
}

// Submit submits one operation and waits until the block holding it is durably committed, then
// returns its result: Code ok with its log leaf index, or the rejection. Operations that fail
// ParseOp are rejected at once and never enter a block (Height 0). The error is only for
// faults, ErrClosed, or ctx ending — in which case the operation may still be committed.
func (l *Ledger) Submit(ctx context.Context, jws string) (Result, error) {
	rs, err := l.SubmitBatch(ctx, []string{jws})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// SubmitBatch is Submit for several operations, which enter blocks in the given order (a
// batch of at most MaxBlockOps operations submitted while no other block is open lands in one
// block). It returns one result per operation.
func (l *Ledger) SubmitBatch(ctx context.Context, jws []string) ([]Result, error) {
	r := &request{jws: jws, ops: make([]*SignedOp, len(jws)), results: make([]Result, len(jws)), done: make(chan struct{})}
	for i, s := range jws {
		op, err := ParseOp(s)
		if err != nil {
			var oe *OpError
			if !errors.As(err, &oe) {
				return nil, err
			}
			r.results[i] = reject(oe)
			l.log.DebugContext(ctx, "operation refused", "code", oe.Code, "reason", oe.Reason)
			continue
		}
		l.warm(ctx, op)
		r.ops[i] = op
		r.left++
	}
	if r.left == 0 {
		return r.results, nil
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	l.reqs <- r
	l.mu.RUnlock()
	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		return r.results, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run cuts and commits blocks until Close.
func (l *Ledger) run() {
	defer close(l.done)
	var pending []item
	var timer *time.Timer
	var tick <-chan time.Time
	add := func(r *request) {
		for i, op := range r.ops {
			if op != nil {
				pending = append(pending, item{r, i})
			}
		}
		if tick == nil {
			timer = time.NewTimer(l.cfg.BlockInterval)
			tick = timer.C
		}
	}
	cut := func() {
		for len(pending) >= l.cfg.MaxBlockOps {
			l.block(pending[:l.cfg.MaxBlockOps])
			pending = pending[l.cfg.MaxBlockOps:]
		}
	}
	for {
		select {
		case r := <-l.reqs:
			add(r)
			cut()
		case <-tick:
			tick = nil
			if len(pending) > 0 {
				l.block(pending)
				pending = nil
			}
		case <-l.quit:
			if timer != nil {
				timer.Stop()
			}
		drain:
			for {
				select {
				case r := <-l.reqs:
					add(r)
				default:
					break drain
				}
			}
			cut()
			if len(pending) > 0 {
				l.block(pending)
			}
			return
		}
		if len(pending) == 0 && tick != nil {
			timer.Stop()
			tick = nil
		}
	}
}

// block builds, signs and commits one block of items and answers their requests.
func (l *Ledger) block(items []item) {
	ctx := context.Background()
	err := l.buildAndCommit(ctx, items)
	for _, it := range items {
		r := it.r
		if err != nil && r.err == nil {
			r.err = err
		}
		if r.left--; r.left == 0 {
			close(r.done)
		}
	}
	if err != nil {
		l.log.ErrorContext(ctx, "block failed", "err", err)
		if m, rerr := NewMachine(ctx, l.store); rerr == nil { // resynchronise with what is on disk
			l.m = m
		}
	}
}

func (l *Ledger) buildAndCommit(ctx context.Context, items []item) error {
	head, _ := l.m.Head()
	t := l.cfg.Now()
	if t.UnixMilli() < head.Time.UnixMilli() {
		t = head.Time // block times never go back, even if the clock does
	}
	p, err := l.m.Begin(head.Height+1, t)
	if err != nil {
		return err
	}
	results := make([]Result, len(items))
	for k, it := range items {
		if results[k], err = p.Apply(ctx, it.r.jws[it.i], it.r.ops[it.i]); err != nil {
			return err
		}
	}
	if err := l.commit(ctx, p); err != nil {
		return err
	}
	for k, it := range items {
		it.r.results[it.i] = results[k]
		if !results[k].OK() {
			l.log.DebugContext(ctx, "operation rejected", "height", results[k].Height, "code", results[k].Code, "reason", results[k].Reason)
		}
	}
	head = *l.head.Load()
	l.log.DebugContext(ctx, "block committed", "height", head.Height, "ops", len(items), "log_size", head.LogSize)
	return nil
}

// commit finishes p, signs and self-checks its checkpoint, and commits both.
func (l *Ledger) commit(ctx context.Context, p *Pending) error {
	b, err := p.Finish()
	if err != nil {
		return err
	}
	signed, err := merklelog.SignCheckpoint(b.Checkpoint(l.origin), l.cfg.Signer)
	if err != nil {
		return err
	}
	if _, err := merklelog.OpenCheckpoint(signed, l.verifiers); err != nil {
		return fmt.Errorf("ledger: own checkpoint does not verify: %w", err)
	}
	if err := l.m.Commit(ctx, p, signed); err != nil {
		return err
	}
	l.head.Store(&b)
	return nil
}

// warm verifies op's signature in the submitter's goroutine with the key the committed state
// names for it, so that the block goroutine, which decides, usually finds it verified. Any
// failure is ignored: Apply makes every check again against the state the block sees.
func (l *Ledger) warm(ctx context.Context, op *SignedOp) {
	if op.JWK != nil {
		_ = op.Verify(op.JWK)
		return
	}
	d, frag, err := did.SplitURL(op.KeyID)
	if err != nil {
		return
	}
	rec, err := l.store.DID(ctx, d.String())
	if err != nil || rec.Deactivated {
		return
	}
	var key *jose.JSONWebKey
	if frag == updateFragment {
		key, err = parseStoredJWK(rec.UpdateKey)
	} else {
		var doc Document
		if doc, err = parseStoredDocument(rec.Doc); err == nil {
			key = doc.key("#"+frag, did.AssertionMethod)
		}
	}
	if err == nil && key != nil {
		_ = op.Verify(key)
	}
}
