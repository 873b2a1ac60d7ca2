package ledgerstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

type scanner interface{ Scan(...any) error }

// stmt returns the reader statement for query, preparing it on first use. Queries are
// constants, so the cache stays small.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (s *Store) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return err
}

// Meta returns the meta value stored under name, or ErrNotFound.
func (s *Store) Meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.queryRow(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v)
	return v, notFound(err, "meta "+name)
}

const blockColumns = `height, time, prev, ops_hash, log_size, log_root, results_hash, state_root, hash`

func scanBlock(row scanner) (Block, error) {
	var b Block
	var h, size int64
	err := row.Scan(&h, &b.Time, &b.Prev, &b.OpsHash, &size, &b.LogRoot, &b.ResultsHash, &b.StateRoot, &b.Hash)
	b.Height, b.LogSize = uint64(h), uint64(size)
	return b, err
}

// Head returns the newest block, or ErrNotFound if there is none (a new database).
func (s *Store) Head(ctx context.Context) (Block, error) {
	b, err := scanBlock(s.queryRow(ctx, `SELECT `+blockColumns+` FROM blocks ORDER BY height DESC LIMIT 1`))
	return b, notFound(err, "head block")
}

// Block returns the block at height, or ErrNotFound.
func (s *Store) Block(ctx context.Context, height uint64) (Block, error) {
	b, err := scanBlock(s.queryRow(ctx, `SELECT `+blockColumns+` FROM blocks WHERE height = ?`, int64(height)))
	return b, notFound(err, fmt.Sprintf("block %d", height))
}

// BlockOps returns the operations of the block at height in block order.
func (s *Store) BlockOps(ctx context.Context, height uint64) ([]Op, error) {
	rows, err := s.query(ctx, `SELECT pos, jws, code, reason, leaf_index FROM ops WHERE height = ? ORDER BY pos`, int64(height))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ops []Op
	for rows.Next() {
		o := Op{Height: height}
		var leaf sql.NullInt64
		if err := rows.Scan(&o.Pos, &o.JWS, &o.Code, &o.Reason, &leaf); err != nil {
			return nil, err
		}
		o.Accepted, o.Leaf = leaf.Valid, uint64(leaf.Int64)
		ops = append(ops, o)
	}
	return ops, rows.Err()
}

// OpByLeaf returns the operation that is log leaf index, or ErrNotFound.
func (s *Store) OpByLeaf(ctx context.Context, index uint64) (Op, error) {
	o := Op{Accepted: true, Leaf: index}
	var h int64
	err := s.queryRow(ctx, `SELECT height, pos, jws, code, reason FROM ops WHERE leaf_index = ?`, int64(index)).
		Scan(&h, &o.Pos, &o.JWS, &o.Code, &o.Reason)
	o.Height = uint64(h)
	return o, notFound(err, fmt.Sprintf("leaf %d", index))
}

// Checkpoint returns the signed checkpoint stored after the block at height, or ErrNotFound.
func (s *Store) Checkpoint(ctx context.Context, height uint64) ([]byte, error) {
	var n []byte
	err := s.queryRow(ctx, `SELECT note FROM checkpoints WHERE height = ?`, int64(height)).Scan(&n)
	return n, notFound(err, fmt.Sprintf("checkpoint %d", height))
}

// LatestCheckpoint returns the newest signed checkpoint, or ErrNotFound.
func (s *Store) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	var n []byte
	err := s.queryRow(ctx, `SELECT note FROM checkpoints ORDER BY height DESC LIMIT 1`).Scan(&n)
	return n, notFound(err, "checkpoint")
}

// DID returns the current state of id, or ErrNotFound.
func (s *Store) DID(ctx context.Context, id string) (DID, error) {
	d := DID{ID: id}
	var seq int64
	err := s.queryRow(ctx, `SELECT seq, version_id, update_key, recovery_commitment, created, updated, deactivated, doc FROM dids WHERE did = ?`, id).
		Scan(&seq, &d.VersionID, &d.UpdateKey, &d.RecoveryCommitment, &d.Created, &d.Updated, &d.Deactivated, &d.Doc)
	d.Seq = uint64(seq)
	return d, notFound(err, "DID "+id)
}

const versionColumns = `did, seq, version_id, time, height, leaf_index, deactivated, doc`

func scanVersion(row scanner, what string) (Version, error) {
	var v Version
	var seq, h, leaf int64
	err := row.Scan(&v.DID, &seq, &v.VersionID, &v.Time, &h, &leaf, &v.Deactivated, &v.Doc)
	v.Seq, v.Height, v.Leaf = uint64(seq), uint64(h), uint64(leaf)
	return v, notFound(err, what)
}

// Version returns version seq (1 = the create) of id, or ErrNotFound.
func (s *Store) Version(ctx context.Context, id string, seq uint64) (Version, error) {
	return scanVersion(s.queryRow(ctx, `SELECT `+versionColumns+` FROM did_versions WHERE did = ? AND seq = ?`, id, int64(seq)),
		fmt.Sprintf("version %d of %s", seq, id))
}

// VersionByID returns the version of id whose versionId is versionID, or ErrNotFound.
func (s *Store) VersionByID(ctx context.Context, id, versionID string) (Version, error) {
	return scanVersion(s.queryRow(ctx, `SELECT `+versionColumns+` FROM did_versions WHERE version_id = ? AND did = ?`, versionID, id),
		fmt.Sprintf("version %s of %s", versionID, id))
}

// VersionAt returns the newest version of id whose time is at or before t (Unix
// milliseconds), or ErrNotFound if id did not exist yet at t.
func (s *Store) VersionAt(ctx context.Context, id string, t int64) (Version, error) {
	return scanVersion(s.queryRow(ctx, `SELECT `+versionColumns+` FROM did_versions WHERE did = ? AND time <= ? ORDER BY seq DESC LIMIT 1`, id, t),
		fmt.Sprintf("version of %s at %d", id, t))
}

// Anchor returns the anchor of issuer's batch, or ErrNotFound.
func (s *Store) Anchor(ctx context.Context, issuer, batch string) (Anchor, error) {
	a := Anchor{Issuer: issuer, Batch: batch}
	var count, leaf, h int64
	err := s.queryRow(ctx, `SELECT root, count, leaf_index, height FROM anchors WHERE issuer = ? AND batch = ?`, issuer, batch).
		Scan(&a.Root, &count, &leaf, &h)
	a.Count, a.Leaf, a.Height = uint64(count), uint64(leaf), uint64(h)
	return a, notFound(err, "anchor "+issuer+" "+batch)
}

// LatestStatus returns the status record of list with the highest seq, or ErrNotFound.
func (s *Store) LatestStatus(ctx context.Context, list string) (Status, error) {
	st := Status{List: list}
	var seq, leaf, h int64
	err := s.queryRow(ctx, `SELECT seq, issuer, digest, leaf_index, height FROM statuses WHERE list = ? ORDER BY seq DESC LIMIT 1`, list).
		Scan(&seq, &st.Issuer, &st.Digest, &leaf, &h)
	st.Seq, st.Leaf, st.Height = uint64(seq), uint64(leaf), uint64(h)
	return st, notFound(err, "status list "+list)
}

// TrustSeqUsed reports whether authority has already used seq for an accredit or withdraw.
func (s *Store) TrustSeqUsed(ctx context.Context, authority string, seq uint64) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM trust WHERE authority = ? AND seq = ?`, authority, int64(seq)).Scan(&n)
	return n > 0, err
}

// Trust returns the accredit and withdraw records of issuer in log order.
func (s *Store) Trust(ctx context.Context, issuer string) ([]Trust, error) {
	rows, err := s.query(ctx, `SELECT leaf_index, kind, authority, seq, types, valid_from, until, at, height FROM trust WHERE issuer = ? ORDER BY leaf_index`, issuer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Trust
	for rows.Next() {
		t := Trust{Issuer: issuer}
		var leaf, seq, h int64
		var types string
		if err := rows.Scan(&leaf, &t.Kind, &t.Authority, &seq, &types, &t.From, &t.Until, &t.At, &h); err != nil {
			return nil, err
		}
		t.Leaf, t.Seq, t.Height = uint64(leaf), uint64(seq), uint64(h)
		if err := json.Unmarshal([]byte(types), &t.Types); err != nil {
			return nil, fmt.Errorf("trust record %d: types: %w", leaf, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Nodes implements merklelog.NodeReader: the stored hashes of ids in the order of ids, or an
// error wrapping merklelog.ErrMissingNode.
func (s *Store) Nodes(ctx context.Context, ids []merklelog.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for start := 0; start < len(ids); start += nodeChunk {
		chunk := ids[start:min(len(ids), start+nodeChunk)]
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, int64(id.Level), int64(id.Index))
		}
		q := `SELECT level, idx, hash FROM nodes WHERE (level, idx) IN (VALUES ` + strings.Repeat("(?,?),", len(chunk)-1) + `(?,?))`
		rows, err := s.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		found := make(map[merklelog.NodeID][]byte, len(chunk))
		for rows.Next() {
			var level, idx int64
			var h []byte
			if err := rows.Scan(&level, &idx, &h); err != nil {
				rows.Close()
				return nil, err
			}
			found[merklelog.NodeID{Level: uint(level), Index: uint64(idx)}] = h
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		for i, id := range chunk {
			h, ok := found[id]
			if !ok {
				return nil, fmt.Errorf("%w: (%d, %d)", merklelog.ErrMissingNode, id.Level, id.Index)
			}
			out[start+i] = h
		}
	}
	return out, nil
}

// Counts returns the number of rows of each table, for status pages and tests.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range []string{"blocks", "ops", "nodes", "checkpoints", "dids", "did_versions", "anchors", "statuses", "trust"} {
		var n int64
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}

func sortedKeys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}

// derivedTables are the state tables computed from the blocks, with their key order.
var derivedTables = []struct{ name, columns, order string }{
	{"dids", "did, seq, version_id, update_key, recovery_commitment, created, updated, deactivated, doc", "did"},
	{"did_versions", "did, seq, version_id, time, height, leaf_index, deactivated, doc", "did, seq"},
	{"anchors", "issuer, batch, root, count, leaf_index, height", "issuer, batch"},
	{"statuses", "list, seq, issuer, digest, leaf_index, height", "list, seq"},
	{"trust", "leaf_index, kind, authority, seq, issuer, types, valid_from, until, at, height", "leaf_index"},
}

// StateDigests returns, for each table of derived state (dids, did_versions, anchors,
// statuses, trust), a SHA-256 over its rows in key order, so that an audit can compare a
// node's state with a replay's.
func (s *Store) StateDigests(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, t := range derivedTables {
		rows, err := s.r.QueryContext(ctx, `SELECT `+t.columns+` FROM `+t.name+` ORDER BY `+t.order)
		if err != nil {
			return nil, err
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		h := sha256.New()
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			for _, v := range vals {
				var b []byte
				switch x := v.(type) {
				case []byte:
					b = x
				case string:
					b = []byte(x)
				default:
					b = fmt.Append(nil, x)
				}
				h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
				h.Write(b)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		out[t.name] = h.Sum(nil)
	}
	return out, nil
}

// Size returns the bytes the database's pages take (page_count - freelist_count) ×
// page_size, including pages still in the WAL.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var pages, free, size int64
	if err := s.queryRow(ctx, `SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()`).Scan(&pages, &free, &size); err != nil {
		return 0, err
	}
	return (pages - free) * size, nil
}
