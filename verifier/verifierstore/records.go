package verifierstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/verifier"
)

// Verification records are written by group commit: SaveRecord hands its record to one writer
// goroutine and waits for the transaction that stores it. While a transaction commits, the
// records of the requests that arrive meanwhile gather and go into the next one together, so
// a busy counter fleet pays one commit per batch, not per scan (see gather).

// maxRecordBatch bounds the records stored in one transaction.
const maxRecordBatch = 256

type recordRequest struct {
	r    verifier.Record
	done chan error
}

var errClosed = errors.New("verifierstore: closed")

// insertRecordSQL stores one verification record.
const insertRecordSQL = `INSERT INTO verification_records(id, verified_at, digest, format, type, issuer, valid, failed, counter, policy, source, service)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`

// recordWriter stores the records SaveRecord hands over until stop is closed.
func (s *Store) recordWriter() {
	defer close(s.recDone)
	for {
		var first recordRequest
		select {
		case first = <-s.recs:
		case <-s.recStop:
			return
		}
		batch := s.gather([]recordRequest{first})
		err := s.insertRecords(batch)
		for _, r := range batch {
			r.done <- err
		}
	}
}

// gather adds to batch the records waiting now; if others were waiting (the store is busy),
// it waits up to recordLinger for more, so that under load a commit carries many records,
// while a record that arrives alone is written at once.
func (s *Store) gather(batch []recordRequest) []recordRequest {
	for len(batch) < maxRecordBatch {
		select {
		case r := <-s.recs:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	if len(batch) == 1 {
		return batch // nothing else was waiting: write it at once
	}
	linger := time.NewTimer(recordLinger)
	defer linger.Stop()
	for len(batch) < maxRecordBatch {
		select {
		case r := <-s.recs:
			batch = append(batch, r)
		case <-linger.C:
			return batch
		case <-s.recStop:
			return batch
		}
	}
	return batch
}

// recordLinger is how long a busy record writer waits to fill a transaction.
const recordLinger = time.Millisecond

func (s *Store) insertRecords(batch []recordRequest) error {
	return sqlitedb.InTx(context.Background(), s.db, func(tx *sql.Tx) error {
		st := tx.Stmt(s.insRecord) // prepared once per connection, not once per batch
		defer st.Close()
		for _, req := range batch {
			r := req.r
			failed := []byte("[]")
			if r.Failed != nil {
				var err error
				if failed, err = json.Marshal(r.Failed); err != nil {
					return err
				}
			}
			if _, err := st.Exec(r.ID, r.VerifiedAt.Unix(), r.Digest, r.Format, r.Type, r.Issuer, r.Valid, string(failed), r.Counter, r.Policy, r.Source, r.Service); err != nil {
				return err
			}
		}
		return nil
	})
}

// SaveRecord implements verifier.Recorder: it returns once the record is stored (or storing the
// batch it went into failed; then none of that batch is stored).
func (s *Store) SaveRecord(ctx context.Context, r verifier.Record) error {
	req := recordRequest{r: r, done: make(chan error, 1)}
	select {
	case s.recs <- req:
	case <-s.recStop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the record may still be stored
	}
}
