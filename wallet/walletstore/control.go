package walletstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/wallet"
)

// Presentation history, the notification event log, the status check's memory and restore
// (wallet/history.go, notify.go, backup.go).

var (
	_ wallet.HistoryStore = (*Store)(nil)
	_ wallet.EventStore   = (*Store)(nil)
	_ wallet.RestoreStore = (*Store)(nil)
)

// AddPresentation implements wallet.HistoryStore.
func (s *Store) AddPresentation(ctx context.Context, citizenID, id string, at time.Time, sealed []byte) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO presentations(id, citizen_id, at, sealed) VALUES (?,?,?,?)`, id, citizenID, at.Unix(), sealed)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// Presentations implements wallet.HistoryStore.
func (s *Store) Presentations(ctx context.Context, citizenID string, before int64, limit int) ([]wallet.SealedRecord, error) {
	q := `SELECT seq, id, at, sealed FROM presentations WHERE citizen_id = ?`
	args := []any{citizenID}
	if before > 0 {
		q += ` AND seq < ?`
		args = append(args, before)
	}
	q += ` ORDER BY seq DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return s.records(ctx, q, args...)
}

func (s *Store) records(ctx context.Context, q string, args ...any) ([]wallet.SealedRecord, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wallet.SealedRecord
	for rows.Next() {
		var r wallet.SealedRecord
		var at int64
		if err := rows.Scan(&r.Seq, &r.ID, &at, &r.Sealed); err != nil {
			return nil, err
		}
		r.At = time.Unix(at, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Presentation implements wallet.HistoryStore.
func (s *Store) Presentation(ctx context.Context, citizenID, id string) (wallet.SealedRecord, error) {
	list, err := s.records(ctx, `SELECT seq, id, at, sealed FROM presentations WHERE citizen_id = ? AND id = ?`, citizenID, id)
	if err != nil {
		return wallet.SealedRecord{}, err
	}
	if len(list) == 0 {
		return wallet.SealedRecord{}, wallet.ErrNotFound
	}
	return list[0], nil
}

// UpdatePresentation implements wallet.HistoryStore.
func (s *Store) UpdatePresentation(ctx context.Context, citizenID, id string, sealed []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE presentations SET sealed = ? WHERE citizen_id = ? AND id = ?`, sealed, citizenID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wallet.ErrNotFound
	}
	return nil
}

// AppendEvent implements wallet.EventStore.
func (s *Store) AppendEvent(ctx context.Context, citizenID, typ string, at time.Time, sealed []byte, keep int) (int64, error) {
	var seq int64
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO wallet_events(citizen_id, type, at, sealed) VALUES (?,?,?,?)`, citizenID, typ, at.Unix(), sealed)
		if err != nil {
			return err
		}
		if seq, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM wallet_events WHERE citizen_id = ? AND seq <= (
			SELECT seq FROM wallet_events WHERE citizen_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, citizenID, citizenID, keep)
		return err
	})
	return seq, err
}

// Events implements wallet.EventStore.
func (s *Store) Events(ctx context.Context, citizenID string, after int64, limit int) ([]wallet.SealedRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, type, at, sealed FROM wallet_events WHERE citizen_id = ? AND seq > ? ORDER BY seq LIMIT ?`, citizenID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wallet.SealedRecord
	for rows.Next() {
		var r wallet.SealedRecord
		var at int64
		if err := rows.Scan(&r.Seq, &r.Type, &at, &r.Sealed); err != nil {
			return nil, err
		}
		r.At = time.Unix(at, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// WatchList implements wallet.EventStore.
func (s *Store) WatchList(ctx context.Context) ([]wallet.Watched, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.citizen_id, w.status, COALESCE(w.expiry_warned, 0), w.credential_id IS NOT NULL,
		c.id, c.type, c.issuer, c.format, c.digest, c.claims, c.issued_at, c.expires_at, c.stored_at, c.key_version, c.sealed_raw
		FROM credentials c LEFT JOIN credential_watch w ON w.credential_id = c.id ORDER BY c.citizen_id, c.stored_at, c.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wallet.Watched
	for rows.Next() {
		var w wallet.Watched
		var status sql.NullString
		var warned int
		sc := scanFunc(func(dest ...any) error {
			return rows.Scan(append([]any{&w.CitizenID, &status, &warned, &w.Seen}, dest...)...)
		})
		cr, sealed, err := scanCredential(sc)
		if err != nil {
			return nil, err
		}
		w.Credential, w.Sealed, w.Status, w.ExpiryWarned = cr, sealed, status.String, warned != 0
		out = append(out, w)
	}
	return out, rows.Err()
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// SetWatch implements wallet.EventStore.
func (s *Store) SetWatch(ctx context.Context, citizenID, credentialID, status string, expiryWarned bool, at time.Time) error {
	warned := 0
	if expiryWarned {
		warned = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO credential_watch(credential_id, citizen_id, status, expiry_warned, checked_at) VALUES (?,?,?,?,?)
		ON CONFLICT (credential_id) DO UPDATE SET status = excluded.status, expiry_warned = excluded.expiry_warned, checked_at = excluded.checked_at`,
		credentialID, citizenID, status, warned, at.Unix())
	return err
}

// RestoreWallet implements wallet.RestoreStore.
func (s *Store) RestoreWallet(ctx context.Context, citizenID string, r wallet.RestoredWallet) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM credentials WHERE citizen_id = ?`, citizenID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: the wallet already holds %d credentials", wallet.ErrRestoreConflict, n)
		}
		res, err := tx.ExecContext(ctx, `UPDATE citizens SET holder_did = ?, holder_kid = ?, sealed_key = ?, holder_key_version = 1 WHERE id = ?`,
			r.HolderDID, r.HolderKID, r.SealedKey, citizenID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wallet.ErrNotFound
		}
		for _, c := range r.Credentials {
			claims, err := jsonText(c.Credential.Claims)
			if err != nil {
				return err
			}
			cr := c.Credential
			if _, err := tx.ExecContext(ctx, `INSERT INTO credentials(id, citizen_id, type, issuer, format, digest, claims, sealed_raw, issued_at, expires_at, stored_at, key_version)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, cr.ID, citizenID, cr.Type, cr.Issuer, cr.Format, cr.Digest, claims, c.Sealed,
				cr.IssuedAt.Unix(), cr.ExpiresAt.Unix(), cr.StoredAt.Unix(), cr.KeyVersion); err != nil {
				if sqlitedb.IsUniqueViolation(err) {
					return fmt.Errorf("%w: the backup holds credential %s twice", wallet.ErrBackupMalformed, cr.Digest)
				}
				return err
			}
		}
		for _, p := range r.Presentations {
			if _, err := tx.ExecContext(ctx, `INSERT INTO presentations(id, citizen_id, at, sealed) VALUES (?,?,?,?)`, p.ID, citizenID, p.At.Unix(), p.Sealed); err != nil {
				return err
			}
		}
		return nil
	})
}

func jsonText(v []string) (string, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", errors.New("claims: " + err.Error())
	}
	return string(b), nil
}
