// Package sqlitedb opens a component's SQLite database the one way ezheng does it: WAL journal,
// per-connection pragmas in the DSN, and numbered migrations embedded in the component applied
// at start in one transaction each.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// pragmas are applied to every connection through the DSN, so a pooled connection opened
// later gets them too.
var pragmas = []string{
	"journal_mode(WAL)",
	"foreign_keys(ON)",
	"busy_timeout(5000)",
	"synchronous(NORMAL)",
}

// DSN returns the modernc.org/sqlite data source name for the file at filename with ezheng's
// pragmas and immediate write transactions (so two writers queue on the busy timeout instead
// of failing on a lock upgrade).
func DSN(filename string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + filename + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at filename and applies the migrations
// found in migrations: files named "NNNN_description.sql" at the top of that FS, applied in
// number order, each in its own transaction, each exactly once (recorded in
// schema_migrations). It returns an error if a migration fails, if two migrations share a
// number, or if the database has a migration this binary does not know (it was written by a
// newer ezheng). The caller must Close the returned DB.
func Open(ctx context.Context, filename string, migrations fs.FS) (*sql.DB, error) {
	db, err := sql.Open("sqlite", DSN(filename))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filename, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", filename, err)
	}
	if err := Migrate(ctx, db, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", filename, err)
	}
	return db, nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func readMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share number %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// ErrNewerSchema is returned by Migrate when the database has migrations this binary does not
// know.
var ErrNewerSchema = errors.New("database schema is newer than this binary")

// Migrate applies the migrations in fsys that db has not had yet; see Open.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	ms, err := readMigrations(fsys)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL
	) STRICT`); err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("%w: database has migration %d, this binary does not know it", ErrNewerSchema, v)
		}
	}
	// Apply every migration not applied yet, in number order — also one numbered below the
	// newest applied (two branches adding migrations at once), so none is ever skipped.
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := InTx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES (?, ?)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction, committing if it returns nil and rolling back otherwise.
// fn must not keep tx after it returns.
func InTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// IsUniqueViolation reports whether err is a SQLite UNIQUE or PRIMARY KEY constraint failure,
// so stores can turn it into their domain's conflict error.
func IsUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
