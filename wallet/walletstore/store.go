// Package walletstore keeps the wallet's citizens, tokens and sealed credentials in SQLite.
package walletstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/wallet"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements wallet.Store on SQLite. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

var _ wallet.Store = (*Store)(nil)

// Open opens (creating and migrating) the wallet database at filename.
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

// CreateCitizen implements wallet.Store.
func (s *Store) CreateCitizen(ctx context.Context, c wallet.Citizen, sealedKey []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO citizens(id, name, holder_did, holder_kid, sealed_key, created_at) VALUES (?,?,?,?,?,?)`,
		c.ID, c.Name, c.HolderDID, c.HolderKID, sealedKey, c.CreatedAt.Unix())
	if sqlitedb.IsUniqueViolation(err) {
		return fmt.Errorf("%w: citizen %q exists", wallet.ErrInvalidRequest, c.Name)
	}
	return err
}

func scanCitizen(row *sql.Row) (wallet.Citizen, error) {
	var c wallet.Citizen
	var created int64
	err := row.Scan(&c.ID, &c.Name, &c.HolderDID, &c.HolderKID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return c, wallet.ErrNotFound
	}
	c.CreatedAt = time.Unix(created, 0).UTC()
	return c, err
}

// CitizenByName implements wallet.Store.
func (s *Store) CitizenByName(ctx context.Context, name string) (wallet.Citizen, error) {
	return scanCitizen(s.db.QueryRowContext(ctx, `SELECT id, name, holder_did, holder_kid, created_at FROM citizens WHERE name = ?`, name))
}

// HolderKey returns a citizen's sealed holder key (see SealedHolderKey for its version).
func (s *Store) HolderKey(ctx context.Context, citizenID string) ([]byte, error) {
	var k []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed_key FROM citizens WHERE id = ?`, citizenID).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wallet.ErrNotFound
	}
	return k, err
}

const credentialColumns = `id, type, issuer, format, digest, claims, issued_at, expires_at, stored_at, key_version, sealed_raw`

func scanCredential(row interface{ Scan(...any) error }) (wallet.Credential, []byte, error) {
	var c wallet.Credential
	var claims string
	var issued, expires, stored int64
	var sealed []byte
	err := row.Scan(&c.ID, &c.Type, &c.Issuer, &c.Format, &c.Digest, &claims, &issued, &expires, &stored, &c.KeyVersion, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil, wallet.ErrNotFound
	}
	if err != nil {
		return c, nil, err
	}
	if err := json.Unmarshal([]byte(claims), &c.Claims); err != nil {
		return c, nil, fmt.Errorf("credential %s: claims: %w", c.ID, err)
	}
	c.IssuedAt, c.ExpiresAt, c.StoredAt = time.Unix(issued, 0).UTC(), time.Unix(expires, 0).UTC(), time.Unix(stored, 0).UTC()
	return c, sealed, nil
}

// SaveCredential implements wallet.Store.
func (s *Store) SaveCredential(ctx context.Context, citizenID string, c wallet.Credential, sealedRaw []byte) (wallet.Credential, bool, error) {
	claims, err := json.Marshal(c.Claims)
	if err != nil {
		return wallet.Credential{}, false, err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO credentials(id, citizen_id, type, issuer, format, digest, claims, sealed_raw, issued_at, expires_at, stored_at, key_version)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (citizen_id, digest) DO NOTHING`,
		c.ID, citizenID, c.Type, c.Issuer, c.Format, c.Digest, string(claims), sealedRaw, c.IssuedAt.Unix(), c.ExpiresAt.Unix(), c.StoredAt.Unix(), c.KeyVersion)
	if err != nil {
		return wallet.Credential{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return c, true, nil
	}
	stored, _, err := scanCredential(s.db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE citizen_id = ? AND digest = ?`, citizenID, c.Digest))
	return stored, false, err
}

// Credentials implements wallet.Store.
func (s *Store) Credentials(ctx context.Context, citizenID string) ([]wallet.Credential, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE citizen_id = ? ORDER BY stored_at, id`, citizenID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []wallet.Credential{}
	for rows.Next() {
		c, _, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// Credential implements wallet.Store.
func (s *Store) Credential(ctx context.Context, citizenID, id string) (wallet.Credential, []byte, error) {
	return scanCredential(s.db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE citizen_id = ? AND id = ?`, citizenID, id))
}

// CountCredentials returns how many credentials the wallet holds in all, for tests.
func (s *Store) CountCredentials(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM credentials`).Scan(&n)
	return n, err
}
