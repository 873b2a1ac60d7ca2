// Package issuerstore keeps the issuer's agencies, tokens and issued credentials in SQLite.
package issuerstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements issuer.Store on SQLite. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	orders orders // the entry order of open status lists (statusorder.go)
}

// Open opens (creating and migrating) the issuer database at filename.
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

// Ping reports whether the database answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

var _ issuer.Store = (*Store)(nil)

// CreateAgency implements issuer.Store.
func (s *Store) CreateAgency(ctx context.Context, a issuer.Agency, sec issuer.AgencySecrets) error {
	types, err := json.Marshal(a.Types)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO agencies(id, name, did, kid, types, sealed_key, sealed_update_key, sealed_recovery_key, root, created_at)
		VALUES (?,?,?,?,?,?,?,?,?,?)`,
		a.ID, a.Name, a.DID, a.KID, string(types), sec.Signing, sec.Update, sec.Recovery, a.Root, a.CreatedAt.Unix())
	if sqlitedb.IsUniqueViolation(err) {
		return fmt.Errorf("%w: agency %q exists", issuer.ErrInvalidRequest, a.Name)
	}
	return err
}

// DeleteAgency implements issuer.Store.
func (s *Store) DeleteAgency(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM agencies WHERE id = ? AND NOT EXISTS (SELECT 1 FROM credentials WHERE agency_id = ?)`, id, id)
	return err
}

const agencyColumns = `id, name, did, kid, types, root, created_at`

func scanAgency(row interface{ Scan(...any) error }) (issuer.Agency, error) {
	var a issuer.Agency
	var types string
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.DID, &a.KID, &types, &a.Root, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return a, issuer.ErrNotFound
		}
		return a, err
	}
	if err := json.Unmarshal([]byte(types), &a.Types); err != nil {
		return a, fmt.Errorf("agency %s: types: %w", a.ID, err)
	}
	a.CreatedAt = time.Unix(created, 0).UTC()
	return a, nil
}

// AgencyByName implements issuer.Store.
func (s *Store) AgencyByName(ctx context.Context, name string) (issuer.Agency, error) {
	return scanAgency(s.db.QueryRowContext(ctx, `SELECT `+agencyColumns+` FROM agencies WHERE name = ?`, name))
}

// AddToken implements issuer.Store.
func (s *Store) AddToken(ctx context.Context, agencyID string, tokenHash []byte, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO agency_tokens(token_hash, agency_id, created_at) VALUES (?,?,?)`, tokenHash, agencyID, at.Unix())
	return err
}

// AgencyByToken implements issuer.Store.
func (s *Store) AgencyByToken(ctx context.Context, tokenHash []byte) (issuer.Agency, error) {
	return scanAgency(s.db.QueryRowContext(ctx, `SELECT a.id, a.name, a.did, a.kid, a.types, a.root, a.created_at
		FROM agency_tokens t JOIN agencies a ON a.id = t.agency_id WHERE t.token_hash = ?`, tokenHash))
}

// Agency implements issuer.Store.
func (s *Store) Agency(ctx context.Context, id string) (issuer.Agency, error) {
	return scanAgency(s.db.QueryRowContext(ctx, `SELECT `+agencyColumns+` FROM agencies WHERE id = ?`, id))
}

// RootAuthority implements issuer.Store.
func (s *Store) RootAuthority(ctx context.Context) (issuer.Agency, error) {
	return scanAgency(s.db.QueryRowContext(ctx, `SELECT `+agencyColumns+` FROM agencies WHERE root = 1`))
}

// Secrets implements issuer.Store.
func (s *Store) Secrets(ctx context.Context, agencyID string) (issuer.AgencySecrets, error) {
	var sec issuer.AgencySecrets
	err := s.db.QueryRowContext(ctx, `SELECT sealed_key, sealed_update_key, sealed_recovery_key FROM agencies WHERE id = ?`, agencyID).
		Scan(&sec.Signing, &sec.Update, &sec.Recovery)
	if errors.Is(err, sql.ErrNoRows) {
		return sec, issuer.ErrNotFound
	}
	return sec, err
}

// NextSeq implements issuer.Store.
func (s *Store) NextSeq(ctx context.Context, agencyID string) (uint64, error) {
	var seq uint64
	err := s.db.QueryRowContext(ctx, `UPDATE agencies SET op_seq = op_seq + 1 WHERE id = ? RETURNING op_seq`, agencyID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, issuer.ErrNotFound
	}
	return seq, err
}

// SaveCredential implements issuer.Store: the status list entry, the credential and its
// anchor-queue entry are written in one transaction, so an index is never handed out twice.
func (s *Store) SaveCredential(ctx context.Context, agencyID, idemKey string, reqHash []byte, sign func(issuer.StatusEntry) (issuer.Credential, []byte, error)) error {
	var key any
	if idemKey != "" {
		key = idemKey
	}
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		es, err := s.reserveStatuses(ctx, tx, agencyID, 1, time.Now())
		if err != nil {
			return fmt.Errorf("allocate status entry: %w", err)
		}
		e := es[0]
		c, sealedRaw, err := sign(e)
		if err != nil {
			return err
		}
		if c.AgencyID != agencyID {
			return fmt.Errorf("credential of agency %s saved for %s", c.AgencyID, agencyID)
		}
		digest, err := hex.DecodeString(c.Digest)
		if err != nil {
			return fmt.Errorf("credential digest: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO credentials(id, agency_id, type, format, holder, sealed_raw, digest, idempotency_key, request_hash, issued_at, expires_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			c.ID, c.AgencyID, c.Type, c.Format, c.Holder, sealedRaw, c.Digest, key, reqHash, c.IssuedAt.Unix(), c.ExpiresAt.Unix())
		if sqlitedb.IsUniqueViolation(err) {
			return issuer.ErrIdempotencyConflict
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO credential_status(credential_id, list_id, idx) VALUES (?,?,?)`, c.ID, e.List, e.Index); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO anchor_queue(credential_id, agency_id, digest) VALUES (?,?,?)`, c.ID, c.AgencyID, digest)
		return err
	})
}

const credentialColumns = `id, agency_id, type, format, holder, sealed_raw, digest, request_hash, issued_at, expires_at`

func scanCredential(row interface{ Scan(...any) error }) (issuer.Credential, []byte, []byte, error) {
	var c issuer.Credential
	var sealed, reqHash []byte
	var issued, expires int64
	err := row.Scan(&c.ID, &c.AgencyID, &c.Type, &c.Format, &c.Holder, &sealed, &c.Digest, &reqHash, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil, nil, issuer.ErrNotFound
	}
	c.IssuedAt, c.ExpiresAt = time.Unix(issued, 0).UTC(), time.Unix(expires, 0).UTC()
	return c, sealed, reqHash, err
}

// CredentialByIdempotencyKey implements issuer.Store.
func (s *Store) CredentialByIdempotencyKey(ctx context.Context, agencyID, key string) (issuer.Credential, []byte, []byte, error) {
	return scanCredential(s.db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE agency_id = ? AND idempotency_key = ?`, agencyID, key))
}

// Credential implements issuer.Store.
func (s *Store) Credential(ctx context.Context, agencyID, id string) (issuer.Credential, []byte, error) {
	c, sealed, _, err := scanCredential(s.db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE agency_id = ? AND id = ?`, agencyID, id))
	return c, sealed, err
}

// CountCredentials returns how many credentials are stored, for tests and status pages.
func (s *Store) CountCredentials(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM credentials`).Scan(&n)
	return n, err
}
