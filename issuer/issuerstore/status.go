package issuerstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/issuer"
)

var _ issuer.StatusStore = (*Store)(nil)

// randomProbes is how many random indexes allocateStatus tries before it lists the free ones.
const randomProbes = 16

// allocateStatus picks a random unused entry of the agency's open status list, starting a new
// list when none has room, and counts it as used. The caller inserts the credential_status
// row in the same transaction.
func allocateStatus(ctx context.Context, tx *sql.Tx, agencyID string, now time.Time) (issuer.StatusEntry, error) {
	var id string
	var size int
	err := tx.QueryRowContext(ctx, `SELECT id, size FROM status_lists WHERE agency_id = ? AND used < size ORDER BY rowid LIMIT 1`, agencyID).Scan(&id, &size)
	if errors.Is(err, sql.ErrNoRows) {
		id, size = issuer.NewStatusListID(), issuer.StatusListSize
		_, err = tx.ExecContext(ctx, `INSERT INTO status_lists(id, agency_id, size, bits, created_at) VALUES (?,?,?,?,?)`,
			id, agencyID, size, issuer.StatusListBits, now.Unix())
	}
	if err != nil {
		return issuer.StatusEntry{}, err
	}
	idx := -1
	for range randomProbes {
		i := rand.IntN(size) // ChaCha8, seeded from the OS: indexes do not reveal issuance order
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM credential_status WHERE list_id = ? AND idx = ?`, id, i).Scan(&taken); err != nil {
			return issuer.StatusEntry{}, err
		}
		if taken == 0 {
			idx = i
			break
		}
	}
	if idx < 0 { // a crowded list: choose uniformly among the free entries
		used := make([]bool, size)
		rows, err := tx.QueryContext(ctx, `SELECT idx FROM credential_status WHERE list_id = ?`, id)
		if err != nil {
			return issuer.StatusEntry{}, err
		}
		n := 0
		for rows.Next() {
			var i int
			if err := rows.Scan(&i); err != nil {
				rows.Close()
				return issuer.StatusEntry{}, err
			}
			if i >= 0 && i < size && !used[i] {
				used[i] = true
				n++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return issuer.StatusEntry{}, err
		}
		if n >= size {
			return issuer.StatusEntry{}, fmt.Errorf("status list %s is full but not marked so", id)
		}
		k := rand.IntN(size - n)
		for i, u := range used {
			if !u {
				if k == 0 {
					idx = i
					break
				}
				k--
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE status_lists SET used = used + 1 WHERE id = ?`, id); err != nil {
		return issuer.StatusEntry{}, err
	}
	return issuer.StatusEntry{List: id, Index: idx}, nil
}

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
	var token, uri, rev, sus sql.NullString
	var exp sql.NullInt64
	var revSeq, susSeq uint64
	err := s.db.QueryRowContext(ctx, `SELECT agency_id, size, bits, seq, token, token_uri, token_expires,
		revocation_seq, revocation_credential, suspension_seq, suspension_credential FROM status_lists WHERE id = ?`, id).
		Scan(&l.AgencyID, &l.Size, &l.Bits, &l.Seq, &token, &uri, &exp, &revSeq, &rev, &susSeq, &sus)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%w: status list %q", issuer.ErrNotFound, id)
	}
	l.Token, l.TokenURI = token.String, uri.String
	l.W3C = map[string]issuer.W3CList{
		statuslist.PurposeRevocation: {Seq: revSeq, Credential: rev.String},
		statuslist.PurposeSuspension: {Seq: susSeq, Credential: sus.String},
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
		_, err = tx.ExecContext(ctx, `INSERT INTO status_events(agency_id, credential_id, list_id, idx, action, from_status, to_status, reason, note, seq, at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			ch.AgencyID, ch.CredentialID, ch.List, ch.Index, ch.Action, ch.From, ch.To, ch.Reason, ch.Note, ch.Seq, ch.At.Unix())
		return err
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
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_events WHERE credential_id = ?`, credentialID).Scan(&n)
	return n, err
}
