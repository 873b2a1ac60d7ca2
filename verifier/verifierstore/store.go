// Package verifierstore keeps the verifier's counters in SQLite.
package verifierstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/verifier"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements verifier.Store on SQLite. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

var _ verifier.Store = (*Store)(nil)

// Open opens (creating and migrating) the verifier database at filename.
func Open(ctx context.Context, filename string) (*Store, error) {
	sub, _ := fs.Sub(migrations, "migrations")
	db, err := sqlitedb.Open(ctx, filename, sub)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SaveCounter implements verifier.Store.
func (s *Store) SaveCounter(ctx context.Context, c verifier.Counter) error {
	disclose, err := json.Marshal(c.Disclose)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO counters(id, name, type, disclose) VALUES (?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, disclose = excluded.disclose`,
		c.ID, c.Name, c.Type, string(disclose))
	if sqlitedb.IsUniqueViolation(err) {
		return fmt.Errorf("%w: counter name %q is taken", verifier.ErrInvalidRequest, c.Name)
	}
	return err
}

func scanCounter(row *sql.Row) (verifier.Counter, error) {
	var c verifier.Counter
	var disclose string
	err := row.Scan(&c.ID, &c.Name, &c.Type, &disclose)
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
	return scanCounter(s.db.QueryRowContext(ctx, `SELECT id, name, type, disclose FROM counters WHERE id = ?`, id))
}

// CounterByName implements verifier.Store.
func (s *Store) CounterByName(ctx context.Context, name string) (verifier.Counter, error) {
	return scanCounter(s.db.QueryRowContext(ctx, `SELECT id, name, type, disclose FROM counters WHERE name = ?`, name))
}
