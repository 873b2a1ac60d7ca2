package issuerstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

var (
	_ issuer.ClientStore     = (*Store)(nil)
	_ issuer.AgencyDirectory = (*Store)(nil)
)

// ListAgencies implements issuer.AgencyDirectory.
func (s *Store) ListAgencies(ctx context.Context) ([]issuer.Agency, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+agencyColumns+` FROM agencies ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issuer.Agency
	for rows.Next() {
		a, err := scanAgency(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateClient implements issuer.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c issuer.Client) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO oauth_clients(id, agency_id, secret_hash, created_at) VALUES (?,?,?,?)`,
		c.ID, c.AgencyID, c.SecretHash, c.CreatedAt.Unix())
	return err
}

// Client implements issuer.ClientStore.
func (s *Store) Client(ctx context.Context, id string) (issuer.Client, error) {
	var c issuer.Client
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, agency_id, secret_hash, created_at FROM oauth_clients WHERE id = ? AND revoked_at IS NULL`, id).
		Scan(&c.ID, &c.AgencyID, &c.SecretHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return c, issuer.ErrNotFound
	}
	c.CreatedAt = time.Unix(created, 0).UTC()
	return c, err
}

// RevokeClient implements issuer.ClientStore.
func (s *Store) RevokeClient(ctx context.Context, agencyID, id string, at time.Time) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET revoked_at = ? WHERE id = ? AND agency_id = ? AND revoked_at IS NULL`, at.Unix(), id, agencyID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return issuer.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE client_id = ?`, id)
		return err
	})
}

// AddAccessToken implements issuer.ClientStore. It also drops the client's tokens expired at
// created, so the table holds only live tokens.
func (s *Store) AddAccessToken(ctx context.Context, clientID string, tokenHash []byte, created, expires time.Time) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE client_id = ? AND expires_at <= ?`, clientID, created.Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_tokens(token_hash, client_id, created_at, expires_at) VALUES (?,?,?,?)`,
			tokenHash, clientID, created.Unix(), expires.Unix())
		return err
	})
}

// AgencyByAccessToken implements issuer.ClientStore.
// The agency's Actor names the client ("client:<id>").
func (s *Store) AgencyByAccessToken(ctx context.Context, tokenHash []byte, now time.Time) (issuer.Agency, error) {
	var client string
	a, err := scanAgency(withExtra{s.db.QueryRowContext(ctx, `SELECT a.id, a.name, a.did, a.kid, a.types, a.root, a.created_at, c.id
		FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client_id JOIN agencies a ON a.id = c.agency_id
		WHERE t.token_hash = ? AND t.expires_at > ? AND c.revoked_at IS NULL`, tokenHash, now.Unix()), []any{&client}})
	if err != nil {
		return a, err
	}
	a.Actor = "client:" + client
	return a, nil
}

// withExtra scans a row of an agency's columns followed by the extra columns.
type withExtra struct {
	row   *sql.Row
	extra []any
}

// Scan implements scanAgency's row.
func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }
