package walletstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/wallet"
)

var _ wallet.AccountStore = (*Store)(nil)

// PutCode implements wallet.AccountStore.
func (s *Store) PutCode(ctx context.Context, c wallet.EnrolmentCode, notBefore time.Time) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `SELECT created_at FROM enrolment_codes WHERE phone_hash = ?`, c.PhoneHash).Scan(&created)
		if err == nil && created > notBefore.Unix() {
			return wallet.ErrCodeTooSoon
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO enrolment_codes(phone_hash, code_hash, attempts, created_at, expires_at) VALUES (?,?,0,?,?)
			ON CONFLICT (phone_hash) DO UPDATE SET code_hash = excluded.code_hash, attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			c.PhoneHash, c.CodeHash, c.CreatedAt.Unix(), c.ExpiresAt.Unix())
		return err
	})
}

// UseCode implements wallet.AccountStore. A wrong code's attempt is committed; everything
// else about a failure leaves the row as it was (an expired one is deleted).
func (s *Store) UseCode(ctx context.Context, phoneHash, codeHash []byte, now time.Time, maxAttempts int) error {
	var verdict error
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var stored []byte
		var attempts int
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT code_hash, attempts, expires_at FROM enrolment_codes WHERE phone_hash = ?`, phoneHash).Scan(&stored, &attempts, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			verdict = wallet.ErrCodeInvalid
			return nil
		case err != nil:
			return err
		case now.Unix() >= expires:
			verdict = wallet.ErrCodeExpired
			_, err := tx.ExecContext(ctx, `DELETE FROM enrolment_codes WHERE phone_hash = ?`, phoneHash)
			return err
		case attempts >= maxAttempts:
			verdict = wallet.ErrCodeAttempts
			return nil
		case subtle.ConstantTimeCompare(stored, codeHash) != 1:
			verdict = wallet.ErrCodeInvalid
			if attempts+1 >= maxAttempts {
				verdict = wallet.ErrCodeAttempts
			}
			_, err := tx.ExecContext(ctx, `UPDATE enrolment_codes SET attempts = attempts + 1 WHERE phone_hash = ?`, phoneHash)
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM enrolment_codes WHERE phone_hash = ?`, phoneHash)
		return err
	})
	if err != nil {
		return err
	}
	return verdict
}

// CitizenByPhone implements wallet.AccountStore.
func (s *Store) CitizenByPhone(ctx context.Context, phoneHash []byte) (wallet.Citizen, error) {
	return scanCitizen(s.db.QueryRowContext(ctx, `SELECT id, name, holder_did, holder_kid, created_at FROM citizens WHERE phone_hash = ?`, phoneHash))
}

// CreateAccount implements wallet.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, a wallet.NewAccount, d wallet.Device, tokenHash []byte) error {
	c := a.Citizen
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO citizens(id, name, holder_did, holder_kid, sealed_key, holder_key_version, created_at, phone_hash, sealed_data_key, sealed_profile)
			VALUES (?,?,?,?,?,1,?,?,?,?)`, c.ID, c.Name, c.HolderDID, c.HolderKID, a.SealedKey, c.CreatedAt.Unix(), a.PhoneHash, a.SealedDataKey, a.SealedProfile)
		if sqlitedb.IsUniqueViolation(err) {
			return fmt.Errorf("%w: the phone is enrolled already", wallet.ErrInvalidRequest)
		}
		if err != nil {
			return err
		}
		if err := insertDevice(ctx, tx, c.ID, d); err != nil {
			return err
		}
		return insertToken(ctx, tx, c.ID, d.ID, tokenHash, d.CreatedAt)
	})
}

func insertDevice(ctx context.Context, tx *sql.Tx, citizenID string, d wallet.Device) error {
	jwk, err := json.Marshal(d.Key)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO devices(id, citizen_id, jkt, jwk, alg, name, created_at) VALUES (?,?,?,?,?,?,?)`,
		d.ID, citizenID, d.Thumbprint, string(jwk), d.Alg, d.Name, d.CreatedAt.Unix())
	if sqlitedb.IsUniqueViolation(err) {
		return wallet.ErrDeviceKeyInUse
	}
	return err
}

func insertToken(ctx context.Context, tx *sql.Tx, citizenID, deviceID string, tokenHash []byte, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO citizen_tokens(token_hash, citizen_id, device_id, created_at) VALUES (?,?,?,?)`, tokenHash, citizenID, deviceID, at.Unix())
	return err
}

const deviceColumns = `id, name, jkt, alg, jwk, created_at`

func scanDevice(row interface{ Scan(...any) error }) (wallet.Device, error) {
	var d wallet.Device
	var jwk string
	var created int64
	if err := row.Scan(&d.ID, &d.Name, &d.Thumbprint, &d.Alg, &jwk, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, wallet.ErrNotFound
		}
		return d, err
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(jwk)); err != nil {
		return d, fmt.Errorf("device %s: jwk: %w", d.ID, err)
	}
	d.Key = k
	d.CreatedAt = time.Unix(created, 0).UTC()
	return d, nil
}

// AddDevice implements wallet.AccountStore.
func (s *Store) AddDevice(ctx context.Context, citizenID string, d wallet.Device, tokenHash []byte, at time.Time) (wallet.Device, error) {
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT citizen_id FROM devices WHERE jkt = ?`, d.Thumbprint).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM citizens WHERE id = ?`, citizenID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return wallet.ErrNotFound
			}
			if err := insertDevice(ctx, tx, citizenID, d); err != nil {
				return err
			}
		case err != nil:
			return err
		case owner != citizenID:
			return wallet.ErrDeviceKeyInUse
		default: // the citizen's own device again: a new token for it
			if d, err = scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE jkt = ?`, d.Thumbprint)); err != nil {
				return err
			}
		}
		return insertToken(ctx, tx, citizenID, d.ID, tokenHash, at)
	})
	return d, err
}

// SessionByToken implements wallet.AccountStore.
func (s *Store) SessionByToken(ctx context.Context, tokenHash []byte) (wallet.Citizen, wallet.Device, error) {
	var deviceID sql.NullString
	c, err := scanCitizen(s.db.QueryRowContext(ctx, `SELECT c.id, c.name, c.holder_did, c.holder_kid, c.created_at
		FROM citizen_tokens t JOIN citizens c ON c.id = t.citizen_id WHERE t.token_hash = ?`, tokenHash))
	if err != nil {
		return c, wallet.Device{}, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT device_id FROM citizen_tokens WHERE token_hash = ?`, tokenHash).Scan(&deviceID); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // deleted in between
			return wallet.Citizen{}, wallet.Device{}, wallet.ErrNotFound
		}
		return c, wallet.Device{}, err
	}
	if !deviceID.Valid {
		return c, wallet.Device{}, nil
	}
	d, err := scanDevice(s.db.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ? AND citizen_id = ?`, deviceID.String, c.ID))
	return c, d, err
}

// Devices implements wallet.AccountStore.
func (s *Store) Devices(ctx context.Context, citizenID string) ([]wallet.Device, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE citizen_id = ? ORDER BY created_at, id`, citizenID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []wallet.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, d)
	}
	return list, rows.Err()
}

// DeleteDevice implements wallet.AccountStore.
func (s *Store) DeleteDevice(ctx context.Context, citizenID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM devices WHERE citizen_id = ? AND id = ?`, citizenID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wallet.ErrNotFound
	}
	return nil
}

// RememberJTI implements wallet.AccountStore.
func (s *Store) RememberJTI(ctx context.Context, key []byte, expires, now time.Time) (bool, error) {
	fresh := false
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dpop_jtis WHERE expires_at < ?`, now.Unix()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO dpop_jtis(key, expires_at) VALUES (?,?) ON CONFLICT (key) DO NOTHING`, key, expires.Unix())
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		fresh = n == 1
		return nil
	})
	return fresh, err
}

// DataKey implements wallet.AccountStore.
func (s *Store) DataKey(ctx context.Context, citizenID string) ([]byte, error) {
	var k []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed_data_key FROM citizens WHERE id = ?`, citizenID).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wallet.ErrNotFound
	}
	return k, err
}

// SetDataKey implements wallet.AccountStore.
func (s *Store) SetDataKey(ctx context.Context, citizenID string, sealed []byte) ([]byte, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE citizens SET sealed_data_key = ? WHERE id = ? AND sealed_data_key IS NULL`, sealed, citizenID); err != nil {
		return nil, err
	}
	k, err := s.DataKey(ctx, citizenID)
	if err == nil && k == nil {
		err = errors.New("data key not stored")
	}
	return k, err
}

// Profile implements wallet.AccountStore.
func (s *Store) Profile(ctx context.Context, citizenID string) ([]byte, error) {
	var p []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed_profile FROM citizens WHERE id = ?`, citizenID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wallet.ErrNotFound
	}
	return p, err
}

// LegacyCredentials implements wallet.AccountStore.
func (s *Store) LegacyCredentials(ctx context.Context, citizenID string) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, sealed_raw FROM credentials WHERE citizen_id = ? AND key_version = 0`, citizenID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var id string
		var sealed []byte
		if err := rows.Scan(&id, &sealed); err != nil {
			return nil, err
		}
		out[id] = sealed
	}
	return out, rows.Err()
}

// ResealCredential implements wallet.AccountStore.
func (s *Store) ResealCredential(ctx context.Context, citizenID, id string, sealed []byte) error {
	_, err := s.db.ExecContext(ctx, `UPDATE credentials SET sealed_raw = ?, key_version = 1 WHERE citizen_id = ? AND id = ? AND key_version = 0`, sealed, citizenID, id)
	return err
}

// SealedHolderKey implements wallet.AccountStore.
func (s *Store) SealedHolderKey(ctx context.Context, citizenID string) ([]byte, int, error) {
	var k []byte
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT sealed_key, holder_key_version FROM citizens WHERE id = ?`, citizenID).Scan(&k, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, wallet.ErrNotFound
	}
	return k, v, err
}

// ResealHolderKey implements wallet.AccountStore.
func (s *Store) ResealHolderKey(ctx context.Context, citizenID string, sealed []byte) error {
	_, err := s.db.ExecContext(ctx, `UPDATE citizens SET sealed_key = ?, holder_key_version = 1 WHERE id = ? AND holder_key_version = 0`, sealed, citizenID)
	return err
}

// LegacyCitizenIDs implements wallet.AccountStore.
func (s *Store) LegacyCitizenIDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM citizens WHERE sealed_data_key IS NULL OR holder_key_version = 0
		UNION SELECT DISTINCT citizen_id FROM credentials WHERE key_version = 0 ORDER BY 1`)
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

// EraseCitizen implements wallet.AccountStore.
func (s *Store) EraseCitizen(ctx context.Context, citizenID string, rec wallet.AuditRecord) (wallet.Erasure, error) {
	e := wallet.Erasure{Subject: rec.Subject, ErasedAt: rec.At}
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var phoneHash []byte
		err := tx.QueryRowContext(ctx, `SELECT phone_hash FROM citizens WHERE id = ?`, citizenID).Scan(&phoneHash)
		if errors.Is(err, sql.ErrNoRows) {
			return wallet.ErrNotFound
		}
		if err != nil {
			return err
		}
		// Anchor receipts of the credentials (anchors.go) go first: they reference them.
		if _, err := tx.ExecContext(ctx, `DELETE FROM credential_anchors WHERE citizen_id = ?`, citizenID); err != nil {
			return err
		}
		for _, q := range []struct {
			n     *int
			table string
		}{{&e.Credentials, "credentials"}, {&e.Tokens, "citizen_tokens"}, {&e.Devices, "devices"}, {&e.Pending, "pending_issuances"}} {
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+q.table+` WHERE citizen_id = ?`, citizenID).Scan(q.n); err != nil {
				return err
			}
			// Explicit deletes, not only ON DELETE CASCADE: erasure must not depend on a
			// connection's foreign_keys pragma.
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+q.table+` WHERE citizen_id = ?`, citizenID); err != nil {
				return err
			}
		}
		if phoneHash != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM enrolment_codes WHERE phone_hash = ?`, phoneHash); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM citizens WHERE id = ?`, citizenID); err != nil {
			return err
		}
		detail, _ := json.Marshal(map[string]int{"credentials": e.Credentials, "devices": e.Devices, "tokens": e.Tokens, "pending": e.Pending})
		rec.Detail = detail
		return addAudit(ctx, tx, rec)
	})
	return e, err
}

// AddAudit implements wallet.AccountStore.
func (s *Store) AddAudit(ctx context.Context, rec wallet.AuditRecord) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error { return addAudit(ctx, tx, rec) })
}

func addAudit(ctx context.Context, tx *sql.Tx, rec wallet.AuditRecord) error {
	detail := string(rec.Detail)
	if detail == "" {
		detail = "{}"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit(at, action, subject, detail) VALUES (?,?,?,?)`, rec.At.Unix(), rec.Action, rec.Subject, detail)
	return err
}

// Audit returns the audit records, oldest first.
func (s *Store) Audit(ctx context.Context) ([]wallet.AuditRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, action, subject, detail FROM audit ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wallet.AuditRecord
	for rows.Next() {
		var r wallet.AuditRecord
		var at int64
		var detail string
		if err := rows.Scan(&at, &r.Action, &r.Subject, &detail); err != nil {
			return nil, err
		}
		r.At, r.Detail = time.Unix(at, 0).UTC(), json.RawMessage(detail)
		out = append(out, r)
	}
	return out, rows.Err()
}
