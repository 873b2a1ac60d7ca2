// Package ledgerstore keeps the DID ledger's blocks, operations, Merkle log nodes, checkpoints
// and derived state (DIDs and their versions, anchors, status records, accreditations) in one
// SQLite file. It holds all of the ledger's SQL and no ledger rules: the state machine in
// package ledger decides what to write, and Commit writes one block's worth in one transaction.
package ledgerstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("ledgerstore: not found")

// ErrReadOnly is returned by Commit on a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("ledgerstore: opened read-only")

// Store is the ledger's SQLite database. Reads may run concurrently with each other and with
// Commit (WAL: a read sees the last committed block). Commit must be called by one goroutine
// at a time.
type Store struct {
	w     *sql.DB  // the one writer connection; nil when read-only
	r     *sql.DB  // readers
	stmts sync.Map // query → *sql.Stmt on r
}

func migrationFS() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Open opens (creating and migrating) the ledger database at filename. Writes go through one
// connection with synchronous=FULL, so a committed block survives power loss, not only a
// crash of the process; reads use a pool with ezheng's usual pragmas. The caller must Close it.
func Open(ctx context.Context, filename string) (*Store, error) {
	return open(ctx, filename, "FULL")
}

// OpenScratch is Open for a throw-away copy (an audit's replay, a benchmark fixture): commits
// are not synced to disk at all, so a crash can corrupt the file.
func OpenScratch(ctx context.Context, filename string) (*Store, error) {
	return open(ctx, filename, "OFF")
}

func open(ctx context.Context, filename, sync string) (*Store, error) {
	w, err := sql.Open("sqlite", sqlitedb.DSN(filename)+"&_pragma=synchronous("+sync+")")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filename, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := sqlitedb.Migrate(ctx, w, migrationFS()); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", filename, err)
	}
	// Readers map up to 1 GiB of the file: proofs read ~100 random B-tree pages, and memory
	// reads instead of pread calls more than halve an inclusion proof at 10 M leaves (220 µs
	// → 90 µs, BENCHMARKS.md). Writes still go through the writer's WAL.
	r, err := sql.Open("sqlite", sqlitedb.DSN(filename)+"&_pragma=mmap_size(1073741824)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", filename, err)
	}
	return &Store{w: w, r: r}, nil
}

// OpenReadOnly opens an existing ledger database without writing to it (for audits of a
// stopped node). It fails if the file does not exist or its schema is not the one this binary
// writes.
func OpenReadOnly(ctx context.Context, filename string) (*Store, error) {
	dsn := "file:" + filename + "?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filename, err)
	}
	var v int
	if err := r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		r.Close()
		return nil, fmt.Errorf("open %s: not a ledger database: %w", filename, err)
	}
	entries, _ := fs.ReadDir(migrationFS(), ".")
	if v != len(entries) {
		r.Close()
		return nil, fmt.Errorf("open %s: schema version %d, this binary reads %d", filename, v, len(entries))
	}
	return &Store{r: r}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	err := s.r.Close()
	if s.w != nil {
		if werr := s.w.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// Block is a stored block header (the operations are in Op rows).
type Block struct {
	Height      uint64
	Time        int64 // Unix milliseconds
	Prev        []byte
	OpsHash     []byte
	LogSize     uint64
	LogRoot     []byte
	ResultsHash []byte
	StateRoot   []byte
	Hash        []byte
}

// Op is one operation of a block with its result. Leaf is the log leaf index when Accepted.
type Op struct {
	Height   uint64
	Pos      int
	JWS      string
	Code     string
	Reason   string
	Accepted bool
	Leaf     uint64
}

// DID is the current state of a DID.
type DID struct {
	ID                 string
	Seq                uint64 // accepted operations on it so far; 1 after the create
	VersionID          string
	UpdateKey          []byte // canonical public JWK; empty once deactivated
	RecoveryCommitment string // empty once deactivated
	Created, Updated   int64  // Unix milliseconds
	Deactivated        bool
	Doc                []byte // canonical document with relative ids
}

// Version is one version of a DID: its state after an accepted operation.
type Version struct {
	DID         string
	Seq         uint64
	VersionID   string
	Time        int64 // Unix milliseconds
	Height      uint64
	Leaf        uint64
	Deactivated bool
	Doc         []byte
}

// Anchor is an accepted anchor operation.
type Anchor struct {
	Issuer, Batch string
	Root          []byte
	Count         uint64
	Leaf          uint64
	Height        uint64
}

// Status is an accepted status-list publication.
type Status struct {
	List   string
	Seq    uint64
	Issuer string
	Digest []byte
	Leaf   uint64
	Height uint64
}

// The kinds of Trust rows.
const (
	KindAccredit = "accredit"
	KindWithdraw = "withdraw"
)

// Trust is an accepted accredit or withdraw operation.
type Trust struct {
	Leaf      uint64
	Kind      string // KindAccredit or KindWithdraw
	Authority string
	Seq       uint64
	Issuer    string
	Types     []string
	From      int64 // Unix seconds, accredit
	Until     int64 // Unix seconds, accredit
	At        int64 // Unix seconds, withdraw
	Height    uint64
}

// Changes is everything one block writes. Rows are written in slice order.
type Changes struct {
	Block      Block
	Ops        []Op
	Nodes      []merklelog.Node
	DIDs       []DID // final state of each DID the block touched, each at most once
	Versions   []Version
	Anchors    []Anchor
	Statuses   []Status
	Trust      []Trust
	Checkpoint []byte
	Meta       map[string][]byte // written in sorted order; only genesis uses it
}

// Commit writes c in one transaction. It fails, writing nothing, if a row already exists (a
// block at that height, a node, a DID version, an anchor, ...).
func (s *Store) Commit(ctx context.Context, c *Changes) error {
	if s.w == nil {
		return ErrReadOnly
	}
	return sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		if err := commit(ctx, tx, c); err != nil {
			return fmt.Errorf("commit block %d: %w", c.Block.Height, err)
		}
		return nil
	})
}

func commit(ctx context.Context, tx *sql.Tx, c *Changes) error {
	for _, k := range sortedKeys(c.Meta) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta(name, value) VALUES (?, ?)`, k, c.Meta[k]); err != nil {
			return err
		}
	}
	b := c.Block
	if _, err := tx.ExecContext(ctx, `INSERT INTO blocks(height, time, prev, ops_hash, log_size, log_root, results_hash, state_root, hash)
		VALUES (?,?,?,?,?,?,?,?,?)`, int64(b.Height), b.Time, b.Prev, b.OpsHash, int64(b.LogSize), b.LogRoot, b.ResultsHash, b.StateRoot, b.Hash); err != nil {
		return err
	}
	err := insertAll(ctx, tx, `INSERT INTO ops(height, pos, jws, code, reason, leaf_index) VALUES (?,?,?,?,?,?)`, c.Ops, func(o Op) []any {
		var leaf any
		if o.Accepted {
			leaf = int64(o.Leaf)
		}
		return []any{int64(o.Height), o.Pos, o.JWS, o.Code, o.Reason, leaf}
	})
	if err != nil {
		return err
	}
	if err := putNodes(ctx, tx, c.Nodes); err != nil {
		return err
	}
	err = insertAll(ctx, tx, `INSERT INTO dids(did, seq, version_id, update_key, recovery_commitment, created, updated, deactivated, doc)
		VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT(did) DO UPDATE SET seq = excluded.seq, version_id = excluded.version_id, update_key = excluded.update_key,
			recovery_commitment = excluded.recovery_commitment, updated = excluded.updated, deactivated = excluded.deactivated, doc = excluded.doc`,
		c.DIDs, func(d DID) []any {
			return []any{d.ID, int64(d.Seq), d.VersionID, nonNil(d.UpdateKey), d.RecoveryCommitment, d.Created, d.Updated, d.Deactivated, nonNil(d.Doc)}
		})
	if err != nil {
		return err
	}
	err = insertAll(ctx, tx, `INSERT INTO did_versions(did, seq, version_id, time, height, leaf_index, deactivated, doc) VALUES (?,?,?,?,?,?,?,?)`,
		c.Versions, func(v Version) []any {
			return []any{v.DID, int64(v.Seq), v.VersionID, v.Time, int64(v.Height), int64(v.Leaf), v.Deactivated, nonNil(v.Doc)}
		})
	if err != nil {
		return err
	}
	err = insertAll(ctx, tx, `INSERT INTO anchors(issuer, batch, root, count, leaf_index, height) VALUES (?,?,?,?,?,?)`, c.Anchors, func(a Anchor) []any {
		return []any{a.Issuer, a.Batch, a.Root, int64(a.Count), int64(a.Leaf), int64(a.Height)}
	})
	if err != nil {
		return err
	}
	err = insertAll(ctx, tx, `INSERT INTO statuses(list, seq, issuer, digest, leaf_index, height) VALUES (?,?,?,?,?,?)`, c.Statuses, func(st Status) []any {
		return []any{st.List, int64(st.Seq), st.Issuer, st.Digest, int64(st.Leaf), int64(st.Height)}
	})
	if err != nil {
		return err
	}
	err = insertAll(ctx, tx, `INSERT INTO trust(leaf_index, kind, authority, seq, issuer, types, valid_from, until, at, height) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		c.Trust, func(t Trust) []any {
			types, _ := json.Marshal(t.Types) // a []string always marshals
			return []any{int64(t.Leaf), t.Kind, t.Authority, int64(t.Seq), t.Issuer, string(types), t.From, t.Until, t.At, int64(t.Height)}
		})
	if err != nil {
		return err
	}
	if c.Checkpoint != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints(height, note) VALUES (?, ?)`, int64(b.Height), c.Checkpoint); err != nil {
			return err
		}
	}
	return nil
}

// insertAll executes query, prepared once, with the arguments of each row.
func insertAll[T any](ctx context.Context, tx *sql.Tx, query string, rows []T, args func(T) []any) error {
	if len(rows) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, args(r)...); err != nil {
			return err
		}
	}
	return nil
}

// nodeChunk is how many nodes one INSERT statement carries (3 parameters each).
const nodeChunk = 300

func putNodes(ctx context.Context, tx *sql.Tx, nodes []merklelog.Node) error {
	args := make([]any, 0, 3*nodeChunk)
	for len(nodes) > 0 {
		n := min(len(nodes), nodeChunk)
		args = args[:0]
		for _, nd := range nodes[:n] {
			args = append(args, int64(nd.ID.Level), int64(nd.ID.Index), nd.Hash)
		}
		q := `INSERT INTO nodes(level, idx, hash) VALUES ` + strings.Repeat("(?,?,?),", n-1) + `(?,?,?)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		nodes = nodes[n:]
	}
	return nil
}

// PutNodes stores Merkle log nodes outside a block, in one transaction. It exists to build
// large synthetic logs for benchmarks quickly; the ledger itself stores nodes through Commit.
func (s *Store) PutNodes(ctx context.Context, nodes []merklelog.Node) error {
	if s.w == nil {
		return ErrReadOnly
	}
	return sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error { return putNodes(ctx, tx, nodes) })
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
