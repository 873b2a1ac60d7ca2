package sqlitedb

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestOpenMigratesOnceAndSetsPragmas(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "x.db")
	ms := fstest.MapFS{
		"0001_init.sql": {Data: []byte(`CREATE TABLE a (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES a(id));`)},
		"0002_more.sql": {Data: []byte(`CREATE TABLE b (id INTEGER PRIMARY KEY);`)},
		"README.md":     {Data: []byte("ignored")},
	}
	db, err := Open(ctx, file, ms)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if _, err := db.Exec(`INSERT INTO a(id, parent) VALUES (1, 99)`); err == nil {
		t.Fatal("foreign key violation accepted")
	}
	db.Close()

	// Reopening applies nothing twice (the CREATE TABLEs would fail).
	db, err = Open(ctx, file, ms)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if n != 2 {
		t.Fatalf("schema_migrations has %d rows, want 2", n)
	}
	db.Close()

	// A binary that knows fewer migrations refuses the newer database.
	_, err = Open(ctx, file, fstest.MapFS{"0001_init.sql": ms["0001_init.sql"]})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older binary: err = %v, want ErrNewerSchema", err)
	}
}

func TestMigrationErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		fs   fstest.MapFS
	}{
		{"bad name", fstest.MapFS{"init.sql": {Data: []byte(`SELECT 1`)}}},
		{"duplicate number", fstest.MapFS{"0001_a.sql": {Data: []byte(`SELECT 1`)}, "0001_b.sql": {Data: []byte(`SELECT 1`)}}},
		{"bad sql rolls back", fstest.MapFS{"0001_a.sql": {Data: []byte(`CREATE TABLE t(x); NOT SQL`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "x.db")
			if _, err := Open(ctx, file, tt.fs); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
	// The failed migration left no table behind.
	file := filepath.Join(t.TempDir(), "y.db")
	Open(ctx, file, fstest.MapFS{"0001_a.sql": {Data: []byte(`CREATE TABLE t(x); NOT SQL`)}})
	db, err := Open(ctx, file, fstest.MapFS{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 't'`).Scan(&n)
	if n != 0 {
		t.Fatal("failed migration left table t behind")
	}
}

// TestMigrateAppliesAGapLater: a migration numbered below the newest applied one (added on
// another branch) is applied when it appears, not skipped.
func TestMigrateAppliesAGapLater(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "x.db")
	first := fstest.MapFS{
		"0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"0003_c.sql": {Data: []byte(`CREATE TABLE c (x INTEGER);`)},
	}
	db, err := Open(ctx, file, first)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	first["0002_b.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE b (x INTEGER);`)}
	db, err = Open(ctx, file, first)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n)
	if n != 1 {
		t.Fatal("migration 0002 added after 0003 was skipped")
	}
}
