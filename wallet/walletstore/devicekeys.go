package walletstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/wallet"
)

var _ wallet.DeviceKeyStore = (*Store)(nil)

// AddHolderKey implements wallet.DeviceKeyStore.
func (s *Store) AddHolderKey(ctx context.Context, citizenID string, k wallet.HolderKey) (wallet.HolderKey, bool, error) {
	jwk, err := k.Key.MarshalJSON()
	if err != nil {
		return wallet.HolderKey{}, false, err
	}
	var stored wallet.HolderKey
	created := false
	err = sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE jkt = ?`, k.Thumbprint).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return wallet.ErrHolderKeyIsDeviceKey
		}
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT citizen_id FROM device_holder_keys WHERE jkt = ?`, k.Thumbprint).Scan(&owner)
		switch {
		case err == nil && owner != citizenID:
			return wallet.ErrHolderKeyInUse
		case err == nil:
			stored, err = scanHolderKey(tx.QueryRowContext(ctx, `SELECT `+holderKeyColumns+` FROM device_holder_keys WHERE jkt = ?`, k.Thumbprint))
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var dev any
		if k.DeviceID != "" {
			dev = k.DeviceID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_holder_keys(id, citizen_id, device_id, jkt, jwk, alg, did, created_at) VALUES (?,?,?,?,?,?,?,?)`,
			k.ID, citizenID, dev, k.Thumbprint, string(jwk), k.Alg, k.DID, k.CreatedAt.Unix()); err != nil {
			return err
		}
		stored, created = k, true
		return nil
	})
	return stored, created, err
}

const holderKeyColumns = `id, device_id, jkt, jwk, alg, did, created_at`

func scanHolderKey(row interface{ Scan(...any) error }) (wallet.HolderKey, error) {
	var k wallet.HolderKey
	var dev sql.NullString
	var jwk string
	var created int64
	err := row.Scan(&k.ID, &dev, &k.Thumbprint, &jwk, &k.Alg, &k.DID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, wallet.ErrNotFound
	}
	if err != nil {
		return k, err
	}
	if err := k.Key.UnmarshalJSON([]byte(jwk)); err != nil {
		return k, fmt.Errorf("holder key %s: %w", k.ID, err)
	}
	k.Key = jose.JSONWebKey{Key: k.Key.Key, Algorithm: k.Alg}
	k.DeviceID = dev.String
	k.KID = k.DID + "#0" // did:jwk has one verification method
	k.CreatedAt = time.Unix(created, 0).UTC()
	return k, nil
}

// HolderKeys implements wallet.DeviceKeyStore.
func (s *Store) HolderKeys(ctx context.Context, citizenID string) ([]wallet.HolderKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+holderKeyColumns+` FROM device_holder_keys WHERE citizen_id = ? ORDER BY created_at, id`, citizenID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []wallet.HolderKey{}
	for rows.Next() {
		k, err := scanHolderKey(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, k)
	}
	return list, rows.Err()
}

// HolderKeyByThumbprint implements wallet.DeviceKeyStore.
func (s *Store) HolderKeyByThumbprint(ctx context.Context, citizenID, jkt string) (wallet.HolderKey, error) {
	return scanHolderKey(s.db.QueryRowContext(ctx, `SELECT `+holderKeyColumns+` FROM device_holder_keys WHERE citizen_id = ? AND jkt = ?`, citizenID, jkt))
}

// HolderKeyByID implements wallet.DeviceKeyStore.
func (s *Store) HolderKeyByID(ctx context.Context, citizenID, id string) (wallet.HolderKey, error) {
	return scanHolderKey(s.db.QueryRowContext(ctx, `SELECT `+holderKeyColumns+` FROM device_holder_keys WHERE citizen_id = ? AND id = ?`, citizenID, id))
}

// DeleteHolderKey implements wallet.DeviceKeyStore.
func (s *Store) DeleteHolderKey(ctx context.Context, citizenID, id string) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		// Explicitly, not only by ON DELETE CASCADE: a connection without the foreign_keys
		// pragma must not leave requests for a key that is gone.
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_signings WHERE citizen_id = ? AND holder_key_id = ?`, citizenID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM device_holder_keys WHERE citizen_id = ? AND id = ?`, citizenID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return wallet.ErrNotFound
		}
		return nil
	})
}

// signingRetention is how long an expired or used signing request is kept (to answer
// "expired" or "used" rather than "not found") before SaveSigning forgets it.
const signingRetention = time.Hour

// SaveSigning implements wallet.DeviceKeyStore.
func (s *Store) SaveSigning(ctx context.Context, p wallet.DeviceSigning, sealed []byte) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_signings WHERE expires_at < ?`, p.CreatedAt.Add(-signingRetention).Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_signings(id, citizen_id, device_id, holder_key_id, kind, credential_id, sealed, created_at, expires_at)
			VALUES (?,?,?,?,?,?,?,?,?)`, p.ID, p.CitizenID, p.DeviceID, p.HolderKeyID, p.Kind, p.CredentialID, sealed, p.CreatedAt.Unix(), p.ExpiresAt.Unix())
		return err
	})
}

// Signing implements wallet.DeviceKeyStore.
func (s *Store) Signing(ctx context.Context, citizenID, id string) (wallet.DeviceSigning, []byte, error) {
	var p wallet.DeviceSigning
	var sealed []byte
	var created, expires int64
	var used sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, citizen_id, device_id, holder_key_id, kind, credential_id, sealed, created_at, expires_at, used_at
		FROM device_signings WHERE citizen_id = ? AND id = ?`, citizenID, id).
		Scan(&p.ID, &p.CitizenID, &p.DeviceID, &p.HolderKeyID, &p.Kind, &p.CredentialID, &sealed, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil, wallet.ErrNotFound
	}
	p.CreatedAt, p.ExpiresAt, p.Used = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC(), used.Valid
	return p, sealed, err
}

// UseSigning implements wallet.DeviceKeyStore.
func (s *Store) UseSigning(ctx context.Context, citizenID, id string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE device_signings SET used_at = ?, sealed = x'' WHERE citizen_id = ? AND id = ? AND used_at IS NULL`,
		now.Unix(), citizenID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM device_signings WHERE citizen_id = ? AND id = ?`, citizenID, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return wallet.ErrNotFound
	}
	return wallet.ErrSigningUsed
}
