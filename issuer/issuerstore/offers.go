package issuerstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

// SaveOffer implements issuer.OfferStore.
func (s *Store) SaveOffer(ctx context.Context, o issuer.OfferRecord) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO offers(id, agency_id, type, sealed_claims, sealed_code, code_hash, tx_code_hash, state, created_at, expires_at)
		VALUES (?,?,?,?,?,?,?,?,?,?)`, o.ID, o.AgencyID, o.Type, o.SealedClaims, o.SealedCode, o.CodeHash, o.TxCodeHash, o.State, o.CreatedAt.Unix(), o.ExpiresAt.Unix())
	return err
}

const offerColumns = `id, agency_id, type, sealed_claims, sealed_code, code_hash, tx_code_hash, failed_attempts, state, created_at, expires_at`

func scanOffer(row interface{ Scan(...any) error }) (issuer.OfferRecord, error) {
	var o issuer.OfferRecord
	var created, expires int64
	err := row.Scan(&o.ID, &o.AgencyID, &o.Type, &o.SealedClaims, &o.SealedCode, &o.CodeHash, &o.TxCodeHash, &o.FailedAttempts, &o.State, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return o, issuer.ErrNotFound
	}
	o.CreatedAt, o.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	return o, err
}

// Offer implements issuer.OfferStore.
func (s *Store) Offer(ctx context.Context, id string) (issuer.OfferRecord, error) {
	return scanOffer(s.db.QueryRowContext(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = ?`, id))
}

// RedeemOffer implements issuer.OfferStore.
func (s *Store) RedeemOffer(ctx context.Context, codeHash []byte, check func(issuer.OfferRecord) error, tokenHash []byte, tokenExpires time.Time) (issuer.OfferRecord, error) {
	var o issuer.OfferRecord
	var checkErr error
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		o, err = scanOffer(tx.QueryRowContext(ctx, `SELECT `+offerColumns+` FROM offers WHERE code_hash = ?`, codeHash))
		if err != nil {
			return err
		}
		if checkErr = check(o); checkErr != nil {
			if errors.Is(checkErr, issuer.ErrWrongTxCode) {
				// Count the failure (and void the offer at the limit) even though the
				// redemption fails: the attempt must be remembered.
				_, err := tx.ExecContext(ctx, `UPDATE offers SET failed_attempts = failed_attempts + 1,
					state = CASE WHEN failed_attempts + 1 >= ? THEN 'void' ELSE state END WHERE id = ?`, issuer.MaxTxCodeAttempts, o.ID)
				return err
			}
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE offers SET state = 'redeemed' WHERE id = ? AND state = 'offered'`, o.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO offer_tokens(token_hash, offer_id, expires_at) VALUES (?,?,?)`, tokenHash, o.ID, tokenExpires.Unix())
		return err
	})
	if err != nil {
		return o, err
	}
	return o, checkErr
}

// UseToken implements issuer.OfferStore.
func (s *Store) UseToken(ctx context.Context, tokenHash []byte, now time.Time) (issuer.OfferRecord, error) {
	var o issuer.OfferRecord
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var offerID string
		var expires int64
		var used int
		err := tx.QueryRowContext(ctx, `SELECT offer_id, expires_at, used FROM offer_tokens WHERE token_hash = ?`, tokenHash).Scan(&offerID, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (used != 0 || now.Unix() >= expires)) {
			return issuer.ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE offer_tokens SET used = 1 WHERE token_hash = ?`, tokenHash); err != nil {
			return err
		}
		o, err = scanOffer(tx.QueryRowContext(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = ?`, offerID))
		return err
	})
	return o, err
}

// TokenOffer implements issuer.OfferStore.
func (s *Store) TokenOffer(ctx context.Context, tokenHash []byte) (issuer.OfferRecord, error) {
	var offerID string
	err := s.db.QueryRowContext(ctx, `SELECT offer_id FROM offer_tokens WHERE token_hash = ?`, tokenHash).Scan(&offerID)
	if errors.Is(err, sql.ErrNoRows) {
		return issuer.OfferRecord{}, issuer.ErrInvalidToken
	}
	if err != nil {
		return issuer.OfferRecord{}, err
	}
	return s.Offer(ctx, offerID)
}

// MarkOfferIssued implements issuer.OfferStore.
func (s *Store) MarkOfferIssued(ctx context.Context, offerID, notificationID string) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE offers SET state = 'issued' WHERE id = ?`, offerID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO offer_notifications(id, offer_id) VALUES (?,?)`, notificationID, offerID)
		return err
	})
}

// Notify implements issuer.OfferStore.
func (s *Store) Notify(ctx context.Context, offerID, notificationID, event string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE offer_notifications SET event = ?, at = ? WHERE id = ? AND offer_id = ?`, event, at.Unix(), notificationID, offerID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return issuer.ErrUnknownNotification
	}
	return nil
}

// SaveNonce implements issuer.OfferStore.
func (s *Store) SaveNonce(ctx context.Context, nonceHash []byte, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO offer_nonces(nonce_hash, expires_at) VALUES (?,?)`, nonceHash, expires.Unix())
	return err
}

// UseNonce implements issuer.OfferStore: it deletes the nonce, so it works once.
func (s *Store) UseNonce(ctx context.Context, nonceHash []byte, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM offer_nonces WHERE nonce_hash = ? AND expires_at > ?`, nonceHash, now.Unix())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return issuer.ErrInvalidNonce
	}
	s.db.ExecContext(ctx, `DELETE FROM offer_nonces WHERE expires_at <= ?`, now.Unix()) // housekeeping
	return nil
}
