package verifierstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/verifier"
)

var _ verifier.VPStore = (*Store)(nil)

const vpColumns = `id, service, request_id, state, nonce, client_id, query, policy, client_name, purpose, status, created_at, expires_at, completed_at, result`

// CreateVPSession implements verifier.VPStore.
func (s *Store) CreateVPSession(ctx context.Context, v verifier.VPSession) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO vp_sessions(`+vpColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)`,
		v.ID, v.Service, v.RequestID, v.State, v.Nonce, v.ClientID, string(v.Query), v.Policy, v.ClientName, v.Purpose, v.Status,
		v.CreatedAt.Unix(), v.ExpiresAt.Unix())
	return err
}

func (s *Store) vpSession(ctx context.Context, where string, arg string) (verifier.VPSession, error) {
	var v verifier.VPSession
	var query string
	var created, expires int64
	var completed sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT `+vpColumns+` FROM vp_sessions WHERE `+where+` = ?`, arg).Scan(
		&v.ID, &v.Service, &v.RequestID, &v.State, &v.Nonce, &v.ClientID, &query, &v.Policy, &v.ClientName, &v.Purpose, &v.Status,
		&created, &expires, &completed, &v.SealedResult)
	if errors.Is(err, sql.ErrNoRows) {
		return v, verifier.ErrNotFound
	}
	if err != nil {
		return v, err
	}
	v.Query = []byte(query)
	v.CreatedAt, v.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	if completed.Valid {
		t := time.Unix(completed.Int64, 0).UTC()
		v.CompletedAt = &t
	}
	return v, nil
}

// VPSession implements verifier.VPStore.
func (s *Store) VPSession(ctx context.Context, id string) (verifier.VPSession, error) {
	return s.vpSession(ctx, "id", id)
}

// VPSessionByRequest implements verifier.VPStore.
func (s *Store) VPSessionByRequest(ctx context.Context, requestID string) (verifier.VPSession, error) {
	return s.vpSession(ctx, "request_id", requestID)
}

// VPSessionByState implements verifier.VPStore.
func (s *Store) VPSessionByState(ctx context.Context, state string) (verifier.VPSession, error) {
	return s.vpSession(ctx, "state", state)
}

// MarkVPFetched implements verifier.VPStore.
func (s *Store) MarkVPFetched(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE vp_sessions SET status = ? WHERE id = ? AND status = ?`, verifier.VPFetched, id, verifier.VPCreated)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return verifier.ErrRequestUsed
	}
	return nil
}

// CompleteVPSession implements verifier.VPStore.
func (s *Store) CompleteVPSession(ctx context.Context, id, status string, sealedResult []byte, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE vp_sessions SET status = ?, result = ?, completed_at = ? WHERE id = ? AND status = ?`,
		status, sealedResult, at.Unix(), id, verifier.VPFetched)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return verifier.ErrSessionDone
	}
	return nil
}

// VerifierKey implements verifier.VPStore.
func (s *Store) VerifierKey(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	var out []byte
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO verifier_keys(name, sealed) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, sealed); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT sealed FROM verifier_keys WHERE name = ?`, name).Scan(&out)
	})
	return out, err
}
