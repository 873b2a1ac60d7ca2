package issuerstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.DeferredStore = (*Store)(nil)

// SaveDeferred implements issuer.DeferredStore.
func (s *Store) SaveDeferred(ctx context.Context, d issuer.DeferredRecord) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO deferred_issuances(tx_hash, offer_id, state, reason, interval_s, created_at, expires_at)
			VALUES (?,?,?,?,?,?,?)`, d.TransactionHash, d.OfferID, d.State, d.Reason, int64(d.Interval/time.Second), d.CreatedAt.Unix(), d.ExpiresAt.Unix()); err != nil {
			return err
		}
		for i, h := range d.Holders {
			if _, err := tx.ExecContext(ctx, `INSERT INTO deferred_holders(tx_hash, idx, holder_did, thumbprint) VALUES (?,?,?,?)`,
				d.TransactionHash, i, h.DID, h.Thumbprint); err != nil {
				return err
			}
		}
		return nil
	})
}

const deferredColumns = `d.tx_hash, d.offer_id, o.agency_id, o.type, d.state, d.reason, d.interval_s, d.created_at, d.decided_at, d.expires_at`

const deferredFrom = ` FROM deferred_issuances d JOIN offers o ON o.id = d.offer_id`

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanDeferred(row interface{ Scan(...any) error }) (issuer.DeferredRecord, error) {
	var d issuer.DeferredRecord
	var interval, created, expires int64
	var decided sql.NullInt64
	err := row.Scan(&d.TransactionHash, &d.OfferID, &d.AgencyID, &d.Type, &d.State, &d.Reason, &interval, &created, &decided, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return d, issuer.ErrNotFound
	}
	if err != nil {
		return d, err
	}
	d.Interval = time.Duration(interval) * time.Second
	d.CreatedAt, d.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	if decided.Valid {
		d.DecidedAt = time.Unix(decided.Int64, 0).UTC()
	}
	return d, nil
}

func deferredHolders(ctx context.Context, q queryer, txHash []byte) ([]issuer.PendingHolder, error) {
	rows, err := q.QueryContext(ctx, `SELECT holder_did, thumbprint, credential_id FROM deferred_holders WHERE tx_hash = ? ORDER BY idx`, txHash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issuer.PendingHolder
	for rows.Next() {
		var h issuer.PendingHolder
		var cred sql.NullString
		if err := rows.Scan(&h.DID, &h.Thumbprint, &cred); err != nil {
			return nil, err
		}
		h.CredentialID = cred.String
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *Store) deferredWhere(ctx context.Context, where string, arg any) (issuer.DeferredRecord, error) {
	d, err := scanDeferred(s.db.QueryRowContext(ctx, `SELECT `+deferredColumns+deferredFrom+` WHERE `+where, arg))
	if err != nil {
		return d, err
	}
	d.Holders, err = deferredHolders(ctx, s.db, d.TransactionHash)
	return d, err
}

// Deferred implements issuer.DeferredStore.
func (s *Store) Deferred(ctx context.Context, txHash []byte) (issuer.DeferredRecord, error) {
	return s.deferredWhere(ctx, `d.tx_hash = ?`, txHash)
}

// DeferredByOffer implements issuer.DeferredStore.
func (s *Store) DeferredByOffer(ctx context.Context, offerID string) (issuer.DeferredRecord, error) {
	return s.deferredWhere(ctx, `d.offer_id = ?`, offerID)
}

// PendingDeferred implements issuer.DeferredStore.
func (s *Store) PendingDeferred(ctx context.Context, agencyID string, now time.Time) ([]issuer.DeferredRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deferredColumns+deferredFrom+`
		WHERE o.agency_id = ? AND d.state = 'pending' AND d.expires_at > ? ORDER BY d.created_at, d.offer_id`, agencyID, now.Unix())
	if err != nil {
		return nil, err
	}
	var list []issuer.DeferredRecord
	for rows.Next() {
		d, err := scanDeferred(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Holders, err = deferredHolders(ctx, s.db, list[i].TransactionHash); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// DecideDeferred implements issuer.DeferredStore.
func (s *Store) DecideDeferred(ctx context.Context, offerID, state, reason string, holders []issuer.PendingHolder, at time.Time) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var txHash []byte
		err := tx.QueryRowContext(ctx, `UPDATE deferred_issuances SET state = ?, reason = ?, decided_at = ?
			WHERE offer_id = ? AND state = 'pending' RETURNING tx_hash`, state, reason, at.Unix(), offerID).Scan(&txHash)
		if errors.Is(err, sql.ErrNoRows) {
			return issuer.ErrAlreadyDecided
		}
		if err != nil {
			return err
		}
		for i, h := range holders {
			if _, err := tx.ExecContext(ctx, `UPDATE deferred_holders SET credential_id = ? WHERE tx_hash = ? AND idx = ?`, h.CredentialID, txHash, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// CollectDeferred implements issuer.DeferredStore.
func (s *Store) CollectDeferred(ctx context.Context, txHash []byte, notificationID string, at time.Time) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var offerID string
		err := tx.QueryRowContext(ctx, `UPDATE deferred_issuances SET state = 'collected'
			WHERE tx_hash = ? AND state = 'approved' AND expires_at > ? RETURNING offer_id`, txHash, at.Unix()).Scan(&offerID)
		if errors.Is(err, sql.ErrNoRows) {
			return issuer.ErrInvalidTransactionID
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE offers SET state = 'issued' WHERE id = ?`, offerID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO offer_notifications(id, offer_id) VALUES (?,?)`, notificationID, offerID)
		return err
	})
}
