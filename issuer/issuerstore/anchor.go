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

// AgenciesWithPending implements issuer.AnchorStore.
func (s *Store) AgenciesWithPending(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT agency_id FROM anchor_queue WHERE batch_id IS NULL ORDER BY agency_id`)
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

// CreateBatch implements issuer.AnchorStore.
func (s *Store) CreateBatch(ctx context.Context, agencyID string, max int, at time.Time, sign func(batchID string, digests [][]byte) (string, error)) (issuer.Batch, error) {
	var b issuer.Batch
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT credential_id, digest FROM anchor_queue WHERE agency_id = ? AND batch_id IS NULL ORDER BY rowid LIMIT ?`, agencyID, max)
		if err != nil {
			return err
		}
		b = issuer.Batch{AgencyID: agencyID}
		for rows.Next() {
			var id string
			var d []byte
			if err := rows.Scan(&id, &d); err != nil {
				rows.Close()
				return err
			}
			b.CredentialIDs = append(b.CredentialIDs, id)
			b.Digests = append(b.Digests, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(b.Digests) == 0 {
			return issuer.ErrNotFound
		}
		b.ID = issuer.NewBatchID()
		if b.Op, err = sign(b.ID, b.Digests); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO anchor_batches(id, agency_id, op, count, created_at) VALUES (?,?,?,?,?)`,
			b.ID, agencyID, b.Op, len(b.Digests), at.Unix()); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE anchor_queue SET batch_id = ?, batch_index = ? WHERE credential_id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, id := range b.CredentialIDs {
			if _, err := stmt.ExecContext(ctx, b.ID, i, id); err != nil {
				return err
			}
		}
		return nil
	})
	return b, err
}

// OpenBatches implements issuer.AnchorStore.
func (s *Store) OpenBatches(ctx context.Context) ([]issuer.Batch, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, agency_id, op FROM anchor_batches WHERE leaf_index IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	var bs []issuer.Batch
	for rows.Next() {
		var b issuer.Batch
		if err := rows.Scan(&b.ID, &b.AgencyID, &b.Op); err != nil {
			rows.Close()
			return nil, err
		}
		bs = append(bs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range bs {
		r, err := s.db.QueryContext(ctx, `SELECT credential_id, digest FROM anchor_queue WHERE batch_id = ? ORDER BY batch_index`, bs[i].ID)
		if err != nil {
			return nil, err
		}
		for r.Next() {
			var id string
			var d []byte
			if err := r.Scan(&id, &d); err != nil {
				r.Close()
				return nil, err
			}
			bs[i].CredentialIDs = append(bs[i].CredentialIDs, id)
			bs[i].Digests = append(bs[i].Digests, d)
		}
		r.Close()
		if err := r.Err(); err != nil {
			return nil, err
		}
	}
	return bs, nil
}

// ResignBatch implements issuer.AnchorStore.
func (s *Store) ResignBatch(ctx context.Context, batchID, op string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE anchor_batches SET op = ? WHERE id = ? AND leaf_index IS NULL`, op, batchID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return issuer.ErrNotFound
	}
	return nil
}

// CompleteBatch implements issuer.AnchorStore.
func (s *Store) CompleteBatch(ctx context.Context, batchID string, leafIndex uint64, receipts map[string][]byte) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE anchor_batches SET leaf_index = ? WHERE id = ? AND leaf_index IS NULL`, int64(leafIndex), batchID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return issuer.ErrNotFound
		}
		// Each receipt with its credential's digest, by which wallets and verifiers find it.
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO receipts(credential_id, batch_id, receipt, digest)
			SELECT ?, ?, ?, digest FROM anchor_queue WHERE credential_id = ? AND batch_id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, r := range receipts {
			res, err := stmt.ExecContext(ctx, id, batchID, r, id, batchID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("receipt for credential %s, which is not in batch %s", id, batchID)
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM anchor_queue WHERE batch_id = ?`, batchID)
		return err
	})
}

// Receipt implements issuer.AnchorStore.
func (s *Store) Receipt(ctx context.Context, agencyID, credentialID string) ([]byte, error) {
	var r []byte
	err := s.db.QueryRowContext(ctx, `SELECT r.receipt FROM receipts r JOIN credentials c ON c.id = r.credential_id
		WHERE c.agency_id = ? AND r.credential_id = ?`, agencyID, credentialID).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		var queued int
		s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM anchor_queue q JOIN credentials c ON c.id = q.credential_id WHERE c.agency_id = ? AND q.credential_id = ?`, agencyID, credentialID).Scan(&queued)
		if queued > 0 {
			return nil, issuer.ErrNotAnchored
		}
		return nil, issuer.ErrNotFound
	}
	return r, err
}

// PendingAnchors returns how many digests wait to be anchored, for status pages and tests.
func (s *Store) PendingAnchors(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM anchor_queue`).Scan(&n)
	return n, err
}
