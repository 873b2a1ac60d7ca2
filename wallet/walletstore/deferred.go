package walletstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ezheng/ezheng/wallet"
)

var _ wallet.PendingStore = (*Store)(nil)

// SavePending implements wallet.PendingStore.
func (s *Store) SavePending(ctx context.Context, citizenID string, p wallet.PendingIssuance, sealed []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO pending_issuances(id, citizen_id, issuer, type, interval_s, sealed, created_at) VALUES (?,?,?,?,?,?,?)`,
		p.ID, citizenID, p.Issuer, p.Type, p.Interval, sealed, p.CreatedAt.Unix())
	return err
}

const pendingColumns = `id, issuer, type, interval_s, created_at, sealed`

func scanPending(row interface{ Scan(...any) error }) (wallet.PendingIssuance, []byte, error) {
	var p wallet.PendingIssuance
	var created int64
	var sealed []byte
	err := row.Scan(&p.ID, &p.Issuer, &p.Type, &p.Interval, &created, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil, wallet.ErrNotFound
	}
	p.CreatedAt = time.Unix(created, 0).UTC()
	return p, sealed, err
}

// PendingIssuances implements wallet.PendingStore.
func (s *Store) PendingIssuances(ctx context.Context, citizenID string) ([]wallet.PendingIssuance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pendingColumns+` FROM pending_issuances WHERE citizen_id = ? ORDER BY created_at, id`, citizenID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []wallet.PendingIssuance{}
	for rows.Next() {
		p, _, err := scanPending(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, rows.Err()
}

// PendingIssuance implements wallet.PendingStore.
func (s *Store) PendingIssuance(ctx context.Context, citizenID, id string) (wallet.PendingIssuance, []byte, error) {
	return scanPending(s.db.QueryRowContext(ctx, `SELECT `+pendingColumns+` FROM pending_issuances WHERE citizen_id = ? AND id = ?`, citizenID, id))
}

// DeletePending implements wallet.PendingStore.
func (s *Store) DeletePending(ctx context.Context, citizenID, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM pending_issuances WHERE citizen_id = ? AND id = ?`, citizenID, id)
	return err
}
