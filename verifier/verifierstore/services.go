package verifierstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/verifier"
)

var _ verifier.RelyingPartyStore = (*Store)(nil)

// CreateRelyingParty implements verifier.RelyingPartyStore.
func (s *Store) CreateRelyingParty(ctx context.Context, rp verifier.RelyingParty, first verifier.ServiceToken) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO verifier_services(id, name, created_at) VALUES (?,?,?)`, rp.ID, rp.Name, rp.CreatedAt.Unix())
		if sqlitedb.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %q", verifier.ErrServiceExists, rp.Name)
		}
		if err != nil {
			return err
		}
		return insertServiceToken(ctx, tx, rp.ID, first)
	})
}

func insertServiceToken(ctx context.Context, tx *sql.Tx, service string, t verifier.ServiceToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO verifier_service_tokens(id, service, token_hash, created_at) VALUES (?,?,?,?)`,
		t.ID, service, t.Hash, t.CreatedAt.Unix())
	return err
}

// RelyingParties implements verifier.RelyingPartyStore.
func (s *Store) RelyingParties(ctx context.Context) ([]verifier.RelyingParty, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.name, s.created_at, t.id, t.created_at, t.revoked_at
		FROM verifier_services s LEFT JOIN verifier_service_tokens t ON t.service = s.id
		ORDER BY s.rowid, t.rowid`) // insertion order: oldest first
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []verifier.RelyingParty{}
	for rows.Next() {
		var rp verifier.RelyingParty
		var created int64
		var tokID sql.NullString
		var tokCreated, tokRevoked sql.NullInt64
		if err := rows.Scan(&rp.ID, &rp.Name, &created, &tokID, &tokCreated, &tokRevoked); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != rp.ID {
			rp.CreatedAt = time.Unix(created, 0).UTC()
			rp.Tokens = []verifier.ServiceToken{}
			out = append(out, rp)
		}
		if tokID.Valid {
			t := verifier.ServiceToken{ID: tokID.String, CreatedAt: time.Unix(tokCreated.Int64, 0).UTC()}
			if tokRevoked.Valid {
				at := time.Unix(tokRevoked.Int64, 0).UTC()
				t.RevokedAt = &at
			}
			last := &out[len(out)-1]
			last.Tokens = append(last.Tokens, t)
		}
	}
	return out, rows.Err()
}

// AddServiceToken implements verifier.RelyingPartyStore.
func (s *Store) AddServiceToken(ctx context.Context, id string, t verifier.ServiceToken) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM verifier_services WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: service %q", verifier.ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		return insertServiceToken(ctx, tx, id, t)
	})
}

// RevokeServiceToken implements verifier.RelyingPartyStore.
func (s *Store) RevokeServiceToken(ctx context.Context, id, tokenID string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE verifier_service_tokens SET revoked_at = ? WHERE id = ? AND service = ? AND revoked_at IS NULL`,
		at.Unix(), tokenID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: no live token %q of service %q", verifier.ErrNotFound, tokenID, id)
	}
	return nil
}

// RelyingPartyByToken implements verifier.RelyingPartyStore.
func (s *Store) RelyingPartyByToken(ctx context.Context, hash []byte) (verifier.RelyingParty, error) {
	var rp verifier.RelyingParty
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT s.id, s.name, s.created_at FROM verifier_service_tokens t JOIN verifier_services s ON s.id = t.service
		WHERE t.token_hash = ? AND t.revoked_at IS NULL`, hash).Scan(&rp.ID, &rp.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return rp, verifier.ErrNotFound
	}
	if err != nil {
		return rp, err
	}
	rp.CreatedAt = time.Unix(created, 0).UTC()
	return rp, nil
}
