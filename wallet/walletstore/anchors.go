package walletstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ezheng/ezheng/wallet"
)

var _ wallet.AnchorStore = (*Store)(nil)

// DueAnchors implements wallet.AnchorStore.
func (s *Store) DueAnchors(ctx context.Context, now time.Time, max int) ([]wallet.AnchorDue, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.citizen_id, c.id, c.digest, c.issuer, c.stored_at, COALESCE(a.attempts, 0)
		FROM credentials c LEFT JOIN credential_anchors a ON a.credential_id = c.id
		WHERE a.credential_id IS NULL OR (a.state = ? AND a.next_at <= ?)
		ORDER BY COALESCE(a.next_at, c.stored_at), c.id LIMIT ?`, wallet.AnchorPending, now.Unix(), max)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var due []wallet.AnchorDue
	for rows.Next() {
		var d wallet.AnchorDue
		var stored int64
		if err := rows.Scan(&d.CitizenID, &d.CredentialID, &d.Digest, &d.Issuer, &stored, &d.Attempts); err != nil {
			return nil, err
		}
		d.StoredAt = time.Unix(stored, 0).UTC()
		due = append(due, d)
	}
	return due, rows.Err()
}

// SaveAnchor implements wallet.AnchorStore.
func (s *Store) SaveAnchor(ctx context.Context, citizenID, credentialID string, r wallet.AnchorRecord) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO credential_anchors(credential_id, citizen_id, state, attempts, next_at, verified_at, log_origin, leaf_index, tree_size, reason, sealed_receipt)
		SELECT id, citizen_id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM credentials WHERE id = ? AND citizen_id = ?
		ON CONFLICT (credential_id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, next_at = excluded.next_at,
			verified_at = excluded.verified_at, log_origin = excluded.log_origin, leaf_index = excluded.leaf_index,
			tree_size = excluded.tree_size, reason = excluded.reason, sealed_receipt = excluded.sealed_receipt
		WHERE credential_anchors.state != ?`,
		r.State, r.Attempts, unixOrNil(r.NextAttemptAt), unixOrNil(r.VerifiedAt), r.Log, int64(r.LeafIndex), int64(r.TreeSize), r.Reason, r.SealedReceipt,
		credentialID, citizenID, wallet.AnchorAnchored)
	return err
}

// Anchor implements wallet.AnchorStore.
func (s *Store) Anchor(ctx context.Context, citizenID, credentialID string) (wallet.AnchorRecord, error) {
	var r wallet.AnchorRecord
	var next, verified sql.NullInt64
	var leaf, size int64
	err := s.db.QueryRowContext(ctx, `SELECT state, attempts, next_at, verified_at, log_origin, leaf_index, tree_size, reason, sealed_receipt
		FROM credential_anchors WHERE citizen_id = ? AND credential_id = ?`, citizenID, credentialID).
		Scan(&r.State, &r.Attempts, &next, &verified, &r.Log, &leaf, &size, &r.Reason, &r.SealedReceipt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, wallet.ErrNotFound
	}
	if err != nil {
		return r, err
	}
	if next.Valid {
		r.NextAttemptAt = time.Unix(next.Int64, 0).UTC()
	}
	if verified.Valid {
		r.VerifiedAt = time.Unix(verified.Int64, 0).UTC()
	}
	r.LeafIndex, r.TreeSize = uint64(leaf), uint64(size)
	return r, nil
}

// unixOrNil returns t in Unix seconds, or nil (SQL NULL) for the zero time.
func unixOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}
