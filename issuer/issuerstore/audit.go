package issuerstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.AuditStore = (*Store)(nil)

// execer is what insertAudit needs: a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertAudit appends e to the audit log: the one place entries are written, alone
// (AppendAudit) or inside the transaction of the action they record.
func insertAudit(ctx context.Context, db execer, e issuer.AuditEntry) error {
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return err
		}
	}
	_, err := db.ExecContext(ctx, `INSERT INTO audit_log(agency_id, at, actor, action, target, reason, detail) VALUES (?,?,?,?,?,?,?)`,
		e.AgencyID, e.At.Unix(), e.Actor, e.Action, e.Target, e.Reason, string(detail))
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// AppendAudit implements issuer.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, e issuer.AuditEntry) error {
	return insertAudit(ctx, s.db, e)
}

// AuditLog implements issuer.AuditStore.
func (s *Store) AuditLog(ctx context.Context, agencyID string, after int64, limit int) ([]issuer.AuditEntry, bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, agency_id, at, actor, action, target, reason, detail FROM audit_log
		WHERE agency_id = ? AND seq > ? ORDER BY seq LIMIT ?`, agencyID, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []issuer.AuditEntry
	for rows.Next() {
		var e issuer.AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&e.Seq, &e.AgencyID, &at, &e.Actor, &e.Action, &e.Target, &e.Reason, &detail); err != nil {
			return nil, false, err
		}
		e.At = time.Unix(at, 0).UTC()
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, false, fmt.Errorf("audit entry %d: detail: %w", e.Seq, err)
		}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
