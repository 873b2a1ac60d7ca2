package issuerstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.KeyStore = (*Store)(nil)

// SavePendingKeys implements issuer.KeyStore.
func (s *Store) SavePendingKeys(ctx context.Context, agencyID string, p issuer.PendingKeys) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO agency_pending_keys(agency_id, kid, sealed_key, sealed_update_key, created_at)
		VALUES (?,?,?,?,?)
		ON CONFLICT (agency_id) DO UPDATE SET kid = excluded.kid, sealed_key = excluded.sealed_key,
			sealed_update_key = excluded.sealed_update_key, created_at = excluded.created_at`,
		agencyID, p.KID, p.Signing, p.Update, p.CreatedAt.Unix())
	return err
}

// PendingKeys implements issuer.KeyStore.
func (s *Store) PendingKeys(ctx context.Context, agencyID string) (issuer.PendingKeys, error) {
	var p issuer.PendingKeys
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT kid, sealed_key, sealed_update_key, created_at FROM agency_pending_keys WHERE agency_id = ?`, agencyID).
		Scan(&p.KID, &p.Signing, &p.Update, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return p, issuer.ErrNotFound
	}
	p.CreatedAt = time.Unix(created, 0).UTC()
	return p, err
}

// PromoteKeys implements issuer.KeyStore: the history row, the agency's new keys and kid, the
// invalidated status list tokens and the removal of the pending row are one transaction.
func (s *Store) PromoteKeys(ctx context.Context, agencyID, kid string, at time.Time) (issuer.Agency, error) {
	var a issuer.Agency
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var p issuer.PendingKeys
		err := tx.QueryRowContext(ctx, `SELECT kid, sealed_key, sealed_update_key FROM agency_pending_keys WHERE agency_id = ?`, agencyID).
			Scan(&p.KID, &p.Signing, &p.Update)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && p.KID != kid) {
			return issuer.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO agency_key_history(agency_id, kid, sealed_key, retired_at)
			SELECT id, kid, sealed_key, ? FROM agencies WHERE id = ?
			ON CONFLICT (agency_id, kid) DO NOTHING`, at.Unix(), agencyID); err != nil {
			return fmt.Errorf("key history: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE agencies SET kid = ?, sealed_key = ?, sealed_update_key = ? WHERE id = ?`, p.KID, p.Signing, p.Update, agencyID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return issuer.ErrNotFound
		}
		// Tokens signed with the retired key are re-signed with the new one when next served;
		// so are the W3C lists, which have no expiry: they are dropped, keeping their seqs.
		if _, err := tx.ExecContext(ctx, `UPDATE status_lists SET token_expires = 0 WHERE agency_id = ? AND token IS NOT NULL`, agencyID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE status_lists SET revocation_credential = NULL, suspension_credential = NULL, message_credential = NULL WHERE agency_id = ?`, agencyID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agency_pending_keys WHERE agency_id = ?`, agencyID); err != nil {
			return err
		}
		a, err = scanAgency(tx.QueryRowContext(ctx, `SELECT `+agencyColumns+` FROM agencies WHERE id = ?`, agencyID))
		return err
	})
	return a, err
}

// RetiredKeys implements issuer.KeyStore.
func (s *Store) RetiredKeys(ctx context.Context, agencyID string) ([]issuer.RetiredKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kid, retired_at FROM agency_key_history WHERE agency_id = ? ORDER BY retired_at, kid`, agencyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issuer.RetiredKey
	for rows.Next() {
		var k issuer.RetiredKey
		var at int64
		if err := rows.Scan(&k.KID, &at); err != nil {
			return nil, err
		}
		k.RetiredAt = time.Unix(at, 0).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

// StatusListIDs implements issuer.KeyStore.
func (s *Store) StatusListIDs(ctx context.Context, agencyID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM status_lists WHERE agency_id = ? AND token IS NOT NULL ORDER BY created_at, id`, agencyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DeletePendingKeys implements issuer.KeyStore.
func (s *Store) DeletePendingKeys(ctx context.Context, agencyID, kid string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM agency_pending_keys WHERE agency_id = ? AND kid = ?`, agencyID, kid)
	return err
}
