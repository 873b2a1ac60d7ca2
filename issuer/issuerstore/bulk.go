package issuerstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

var (
	_ issuer.BatchStore = (*Store)(nil)
	_ issuer.BulkStore  = (*Store)(nil)
)

// SaveCredentials implements issuer.BatchStore: the credentials, their other formats, status
// rows and anchor-queue rows, in one transaction with prepared statements.
func (s *Store) SaveCredentials(ctx context.Context, agencyID string, cs []issuer.SealedCredential) error {
	if len(cs) == 0 {
		return nil
	}
	return sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		insCred, err := tx.PrepareContext(ctx, `INSERT INTO credentials(id, agency_id, type, format, holder, sealed_raw, digest, idempotency_key, request_hash, issued_at, expires_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer insCred.Close()
		insStatus, err := tx.PrepareContext(ctx, `INSERT INTO credential_status(credential_id, list_id, idx) VALUES (?,?,?)`)
		if err != nil {
			return err
		}
		defer insStatus.Close()
		insAnchor, err := tx.PrepareContext(ctx, `INSERT INTO anchor_queue(credential_id, agency_id, digest) VALUES (?,?,?)`)
		if err != nil {
			return err
		}
		defer insAnchor.Close()
		insFormat, err := tx.PrepareContext(ctx, `INSERT INTO credential_formats(credential_id, format, sealed) VALUES (?,?,?)`)
		if err != nil {
			return err
		}
		defer insFormat.Close()
		for _, sc := range cs {
			c := sc.Credential
			if c.AgencyID != agencyID {
				return fmt.Errorf("credential of agency %s saved for %s", c.AgencyID, agencyID)
			}
			if sc.Status.List == "" {
				return fmt.Errorf("credential %s has no status entry", c.ID)
			}
			digest, err := hex.DecodeString(c.Digest)
			if err != nil {
				return fmt.Errorf("credential digest: %w", err)
			}
			var key any
			if sc.IdempotencyKey != "" {
				key = sc.IdempotencyKey
			}
			_, err = insCred.ExecContext(ctx, c.ID, c.AgencyID, c.Type, c.Format, c.Holder, sc.Sealed, c.Digest, key, sc.RequestHash, c.IssuedAt.Unix(), c.ExpiresAt.Unix())
			if sqlitedb.IsUniqueViolation(err) {
				return issuer.ErrIdempotencyConflict
			}
			if err != nil {
				return err
			}
			if _, err := insStatus.ExecContext(ctx, c.ID, sc.Status.List, sc.Status.Index); err != nil {
				return err
			}
			if _, err := insAnchor.ExecContext(ctx, c.ID, c.AgencyID, digest); err != nil {
				return err
			}
			for _, f := range slices.Sorted(maps.Keys(sc.Formats)) {
				if _, err := insFormat.ExecContext(ctx, c.ID, f, sc.Formats[f]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// CredentialsByIdempotencyKeys implements issuer.BatchStore.
func (s *Store) CredentialsByIdempotencyKeys(ctx context.Context, agencyID string, keys []string) (map[string]issuer.SealedCredential, error) {
	out := make(map[string]issuer.SealedCredential)
	const per = 500 // bound the number of SQL variables
	for lo := 0; lo < len(keys); lo += per {
		part := keys[lo:min(lo+per, len(keys))]
		args := make([]any, 0, len(part)+1)
		args = append(args, agencyID)
		for _, k := range part {
			args = append(args, k)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT idempotency_key, `+credentialColumns+` FROM credentials
			WHERE agency_id = ? AND idempotency_key IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var key string
			var sc issuer.SealedCredential
			var issued, expires int64
			c := &sc.Credential
			if err := rows.Scan(&key, &c.ID, &c.AgencyID, &c.Type, &c.Format, &c.Holder, &sc.Sealed, &c.Digest, &sc.RequestHash, &issued, &expires); err != nil {
				rows.Close()
				return nil, err
			}
			c.IssuedAt, c.ExpiresAt = time.Unix(issued, 0).UTC(), time.Unix(expires, 0).UTC()
			sc.IdempotencyKey = key
			out[key] = sc
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const bulkJobColumns = `id, agency_id, type, digest, state, total, done, failed, created_at, finished_at`

func scanBulkJob(row interface{ Scan(...any) error }) (issuer.BulkJob, error) {
	var j issuer.BulkJob
	var created int64
	var finished sql.NullInt64
	err := row.Scan(&j.ID, &j.AgencyID, &j.Type, &j.Digest, &j.State, &j.Total, &j.Done, &j.Failed, &created, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return j, issuer.ErrNotFound
	}
	j.CreatedAt = time.Unix(created, 0).UTC()
	if finished.Valid {
		t := time.Unix(finished.Int64, 0).UTC()
		j.FinishedAt = &t
	}
	return j, err
}

// CreateBulkJob implements issuer.BulkStore.
func (s *Store) CreateBulkJob(ctx context.Context, j issuer.BulkJob, rows []issuer.BulkRow) (issuer.BulkJob, bool, error) {
	var out issuer.BulkJob
	created := false
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		prev, err := scanBulkJob(tx.QueryRowContext(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE agency_id = ? AND digest = ?`, j.AgencyID, j.Digest))
		if err == nil {
			out = prev
			return nil
		}
		if !errors.Is(err, issuer.ErrNotFound) {
			return err
		}
		var finished any
		if j.FinishedAt != nil {
			finished = j.FinishedAt.Unix()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_jobs(`+bulkJobColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			j.ID, j.AgencyID, j.Type, j.Digest, j.State, j.Total, j.Done, j.Failed, j.CreatedAt.Unix(), finished); err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO bulk_rows(job_id, row_num, row_id, state, sealed, error) VALUES (?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, r := range rows {
			perr, err := problemJSON(r.Problem)
			if err != nil {
				return err
			}
			if _, err := ins.ExecContext(ctx, j.ID, r.Num, r.RowID, r.State, r.Sealed, perr); err != nil {
				return fmt.Errorf("row %d: %w", r.Num, err)
			}
		}
		out, created = j, true
		return nil
	})
	return out, created, err
}

func problemJSON(p *issuer.RowProblem) (any, error) {
	if p == nil {
		return nil, nil
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// BulkJob implements issuer.BulkStore.
func (s *Store) BulkJob(ctx context.Context, agencyID, id string) (issuer.BulkJob, error) {
	return scanBulkJob(s.db.QueryRowContext(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE agency_id = ? AND id = ?`, agencyID, id))
}

// UnfinishedBulkJobs implements issuer.BulkStore.
func (s *Store) UnfinishedBulkJobs(ctx context.Context) ([]issuer.BulkJob, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+bulkJobColumns+` FROM bulk_jobs WHERE state != ? ORDER BY created_at, rowid`, issuer.BulkFinished)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var js []issuer.BulkJob
	for rows.Next() {
		j, err := scanBulkJob(rows)
		if err != nil {
			return nil, err
		}
		js = append(js, j)
	}
	return js, rows.Err()
}

// QueuedBulkRows implements issuer.BulkStore.
func (s *Store) QueuedBulkRows(ctx context.Context, jobID string, limit int) ([]issuer.BulkRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT row_num, row_id, sealed FROM bulk_rows WHERE job_id = ? AND state = ? ORDER BY row_num LIMIT ?`,
		jobID, issuer.BulkQueued, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issuer.BulkRow
	for rows.Next() {
		r := issuer.BulkRow{State: issuer.BulkQueued}
		if err := rows.Scan(&r.Num, &r.RowID, &r.Sealed); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveBulkRows implements issuer.BulkStore.
func (s *Store) SaveBulkRows(ctx context.Context, jobID string, rows []issuer.BulkRow, at time.Time) (issuer.BulkJob, error) {
	var j issuer.BulkJob
	err := sqlitedb.InTx(ctx, s.db, func(tx *sql.Tx) error {
		upd, err := tx.PrepareContext(ctx, `UPDATE bulk_rows SET state = ?, error = ?, credential_id = ?
			WHERE job_id = ? AND row_num = ? AND state = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		var done, failed int64
		for _, r := range rows {
			if r.State != issuer.BulkDone && r.State != issuer.BulkFailed {
				continue
			}
			perr, err := problemJSON(r.Problem)
			if err != nil {
				return err
			}
			var cred any
			if r.CredentialID != "" {
				cred = r.CredentialID
			}
			res, err := upd.ExecContext(ctx, r.State, perr, cred, jobID, r.Num, issuer.BulkQueued)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			if r.State == issuer.BulkDone {
				done += n
			} else {
				failed += n
			}
		}
		var queued int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_rows WHERE job_id = ? AND state = ?`, jobID, issuer.BulkQueued).Scan(&queued); err != nil {
			return err
		}
		state, finished := issuer.BulkRunning, any(nil)
		if queued == 0 {
			state, finished = issuer.BulkFinished, at.Unix()
			// Payloads are kept until the job ends, so a row may be processed again after a
			// crash; then the personal data goes.
			if _, err := tx.ExecContext(ctx, `UPDATE bulk_rows SET sealed = NULL WHERE job_id = ?`, jobID); err != nil {
				return err
			}
		}
		j, err = scanBulkJob(tx.QueryRowContext(ctx, `UPDATE bulk_jobs SET done = done + ?, failed = failed + ?, state = ?, finished_at = COALESCE(finished_at, ?)
			WHERE id = ? RETURNING `+bulkJobColumns, done, failed, state, finished, jobID))
		return err
	})
	return j, err
}

// BulkRows implements issuer.BulkStore.
func (s *Store) BulkRows(ctx context.Context, agencyID, jobID, state string, after, limit int) ([]issuer.BulkRow, error) {
	if _, err := s.BulkJob(ctx, agencyID, jobID); err != nil {
		return nil, err
	}
	q := `SELECT row_num, row_id, state, error, credential_id FROM bulk_rows WHERE job_id = ? AND row_num > ?`
	args := []any{jobID, after}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY row_num LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issuer.BulkRow
	for rows.Next() {
		var r issuer.BulkRow
		var perr, cred sql.NullString
		if err := rows.Scan(&r.Num, &r.RowID, &r.State, &perr, &cred); err != nil {
			return nil, err
		}
		r.CredentialID = cred.String
		if perr.Valid {
			r.Problem = &issuer.RowProblem{}
			if err := json.Unmarshal([]byte(perr.String), r.Problem); err != nil {
				return nil, fmt.Errorf("bulk row %d: %w", r.Num, err)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
