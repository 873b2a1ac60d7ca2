package issuerstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.StatusStore = (*Store)(nil)

// CredentialStatus implements issuer.StatusStore.
func (s *Store) CredentialStatus(ctx context.Context, agencyID, credentialID string) (issuer.CredentialStatus, error) {
	cs := issuer.CredentialStatus{CredentialID: credentialID}
	var changed sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT cs.list_id, cs.idx, cs.status, cs.changed_at
		FROM credential_status cs JOIN credentials c ON c.id = cs.credential_id
		WHERE c.agency_id = ? AND cs.credential_id = ?`, agencyID, credentialID).Scan(&cs.List, &cs.Index, &cs.Status, &changed)
	if errors.Is(err, sql.ErrNoRows) {
		return cs, fmt.Errorf("%w: credential %q", issuer.ErrNotFound, credentialID)
	}
	if changed.Valid {
		cs.ChangedAt = time.Unix(changed.Int64, 0).UTC()
	}
	return cs, err
}

// StatusList implements issuer.StatusStore.
func (s *Store) StatusList(ctx context.Context, id string) (issuer.StatusList, error) {
	l := issuer.StatusList{ID: id}
	var token, uri, rev, sus, msg sql.NullString
	var exp sql.NullInt64
	var revSeq, susSeq, msgSeq uint64
	err := s.db.QueryRowContext(ctx, `SELECT agency_id, size, bits, seq, token, token_uri, token_expires,
		revocation_seq, revocation_credential, suspension_seq, suspension_credential, message_seq, message_credential
		FROM status_lists WHERE id = ?`, id).
		Scan(&l.AgencyID, &l.Size, &l.Bits, &l.Seq, &token, &uri, &exp, &revSeq, &rev, &susSeq, &sus, &msgSeq, &msg)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%w: status list %q", issuer.ErrNotFound, id)
	}
	l.Token, l.TokenURI = token.String, uri.String
	l.W3C = map[string]issuer.W3CList{
		statuslist.PurposeRevocation: {Seq: revSeq, Credential: rev.String},
		statuslist.PurposeSuspension: {Seq: susSeq, Credential: sus.String},
		issuer.PurposeMessage:        {Seq: msgSeq, Credential: msg.String},
	}
	if exp.Valid {
		l.TokenExpires = time.Unix(exp.Int64, 0).UTC()
	}
	return l, err
}

// SetStatuses implements issuer.StatusStore.
func (s *Store) SetStatuses(ctx context.Context, id string) (map[int]uint8, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT idx, status FROM credential_status WHERE list_id = ? AND status != 0`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[int]uint8{}
	for rows.Next() {
		var i int
		var v uint8
		if err := rows.Scan(&i, &v); err != nil {
			return nil, err
		}
		m[i] = v
	}
	return m, rows.Err()
}

// SaveStatusChange implements issuer.StatusStore.
func (s *Store) SaveStatusChange(ctx context.Context, ch issuer.StatusChange, prevSeq uint64) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if err := saveToken(ctx, tx, ch.List, prevSeq, ch.Seq, ch.Token, ch.TokenURI, ch.TokenExpires); err != nil {
			return err
		}
		for _, p := range ch.W3C {
			if err := saveW3C(ctx, tx, ch.List, p); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE credential_status SET status = ?, changed_at = ? WHERE credential_id = ? AND list_id = ? AND idx = ? AND status = ?`,
			ch.To, ch.At.Unix(), ch.CredentialID, ch.List, ch.Index, ch.From)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: credential %s is no longer %s", issuer.ErrStatusConflict, ch.CredentialID, issuer.StatusName(ch.From))
		}
		return insertAudit(ctx, tx, issuer.AuditEntry{AgencyID: ch.AgencyID, At: ch.At, Actor: ch.Actor,
			Action: issuer.AuditStatusPrefix + ch.Action, Target: ch.CredentialID, Reason: ch.Reason,
			Detail: map[string]string{"list": ch.List, "idx": strconv.Itoa(ch.Index), "from": strconv.Itoa(int(ch.From)),
				"to": strconv.Itoa(int(ch.To)), "seq": strconv.FormatUint(ch.Seq, 10), "note": ch.Note}})
	})
}

// SaveStatusToken implements issuer.StatusStore.
func (s *Store) SaveStatusToken(ctx context.Context, listID string, prevSeq, seq uint64, token, uri string, expires time.Time) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		return saveToken(ctx, tx, listID, prevSeq, seq, token, uri, expires)
	})
}

// SaveW3CStatusList implements issuer.StatusStore.
func (s *Store) SaveW3CStatusList(ctx context.Context, listID string, p issuer.W3CPublication) error {
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		return saveW3C(ctx, tx, listID, p)
	})
}

// w3cColumns maps a W3C purpose to the seq and credential columns of status_lists.
var w3cColumns = map[string][2]string{
	statuslist.PurposeRevocation: {"revocation_seq", "revocation_credential"},
	statuslist.PurposeSuspension: {"suspension_seq", "suspension_credential"},
	issuer.PurposeMessage:        {"message_seq", "message_credential"},
}

func saveW3C(ctx context.Context, tx *sql.Tx, listID string, p issuer.W3CPublication) error {
	col, ok := w3cColumns[p.Purpose]
	if !ok {
		return fmt.Errorf("status list %s: unknown purpose %q", listID, p.Purpose)
	}
	res, err := tx.ExecContext(ctx, `UPDATE status_lists SET `+col[0]+` = ?, `+col[1]+` = ? WHERE id = ? AND `+col[0]+` = ?`,
		p.Seq, p.Credential, listID, p.PrevSeq)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: status list %s/%s is no longer at seq %d", issuer.ErrStatusConflict, listID, p.Purpose, p.PrevSeq)
	}
	return nil
}

func saveToken(ctx context.Context, tx *sql.Tx, listID string, prevSeq, seq uint64, token, uri string, expires time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE status_lists SET seq = ?, token = ?, token_uri = ?, token_expires = ? WHERE id = ? AND seq = ?`,
		seq, token, uri, expires.Unix(), listID, prevSeq)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: status list %s is no longer at seq %d", issuer.ErrStatusConflict, listID, prevSeq)
	}
	return nil
}

// StatusEvents returns how many audit records of status changes credential id has, for tests.
func (s *Store) StatusEvents(ctx context.Context, credentialID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE target = ? AND action LIKE 'credential.%'`, credentialID).Scan(&n)
	return n, err
}
