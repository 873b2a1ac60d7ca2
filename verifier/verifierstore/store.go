// Package verifierstore keeps the verifier's counters and verification records in SQLite.
package verifierstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/verifier"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements verifier.Store on SQLite. It is safe for concurrent use.
type Store struct {
	db *sql.DB

	insRecord *sql.Stmt          // insertRecordSQL
	recs      chan recordRequest // to the record writer (records.go)
	recStop   chan struct{}      // closed by Close
	recDone   chan struct{}      // closed when the record writer has stopped
	closeOnce sync.Once
}

var (
	_ verifier.Store    = (*Store)(nil)
	_ verifier.Recorder = (*Store)(nil)
)

// Open opens (creating and migrating) the verifier database at filename.
func Open(ctx context.Context, filename string) (*Store, error) {
	sub, _ := fs.Sub(migrations, "migrations")
	db, err := sqlitedb.Open(ctx, filename, sub)
	if err != nil {
		return nil, err
	}
	ins, err := db.PrepareContext(ctx, insertRecordSQL)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, insRecord: ins, recs: make(chan recordRequest), recStop: make(chan struct{}), recDone: make(chan struct{})}
	go s.recordWriter()
	return s, nil
}

// Close stops the record writer and closes the database. Records saved before Close returned
// are stored.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.recStop) })
	<-s.recDone
	s.insRecord.Close()
	return s.db.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SaveCounter implements verifier.Store.
func (s *Store) SaveCounter(ctx context.Context, c verifier.Counter) error {
	disclose, err := json.Marshal(c.Disclose)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO counters(id, name, type, disclose, policy) VALUES (?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, disclose = excluded.disclose, policy = excluded.policy`,
		c.ID, c.Name, c.Type, string(disclose), c.Policy)
	if sqlitedb.IsUniqueViolation(err) {
		return fmt.Errorf("%w: counter name %q is taken", verifier.ErrInvalidRequest, c.Name)
	}
	return err
}

func scanCounter(row *sql.Row) (verifier.Counter, error) {
	var c verifier.Counter
	var disclose string
	err := row.Scan(&c.ID, &c.Name, &c.Type, &disclose, &c.Policy)
	if errors.Is(err, sql.ErrNoRows) {
		return c, verifier.ErrNotFound
	}
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal([]byte(disclose), &c.Disclose)
}

// Counter implements verifier.Store.
func (s *Store) Counter(ctx context.Context, id string) (verifier.Counter, error) {
	return scanCounter(s.db.QueryRowContext(ctx, `SELECT id, name, type, disclose, policy FROM counters WHERE id = ?`, id))
}

// CounterByName implements verifier.Store.
func (s *Store) CounterByName(ctx context.Context, name string) (verifier.Counter, error) {
	return scanCounter(s.db.QueryRowContext(ctx, `SELECT id, name, type, disclose, policy FROM counters WHERE name = ?`, name))
}

// Records implements verifier.Recorder.
func (s *Store) Records(ctx context.Context, q verifier.RecordQuery) ([]verifier.Record, error) {
	query := `SELECT id, verified_at, digest, format, type, issuer, valid, failed, counter, policy, source, service FROM verification_records WHERE 1=1`
	var args []any
	if q.Counter != "" {
		query += ` AND counter = ?`
		args = append(args, q.Counter)
	}
	if q.Service != "" {
		query += ` AND service = ?`
		args = append(args, q.Service)
	}
	if !q.Before.IsZero() {
		query += ` AND verified_at < ?`
		args = append(args, q.Before.Unix())
	}
	query += ` ORDER BY verified_at DESC, id DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []verifier.Record{}
	for rows.Next() {
		var r verifier.Record
		var at int64
		var failed string
		if err := rows.Scan(&r.ID, &at, &r.Digest, &r.Format, &r.Type, &r.Issuer, &r.Valid, &failed, &r.Counter, &r.Policy, &r.Source, &r.Service); err != nil {
			return nil, err
		}
		r.VerifiedAt = time.Unix(at, 0).UTC()
		if err := json.Unmarshal([]byte(failed), &r.Failed); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.ID, err)
		}
		if len(r.Failed) == 0 {
			r.Failed = nil
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
