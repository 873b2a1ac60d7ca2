package verifier

import (
	"context"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/internal/secret"
)

// Record is the audit trace of one verification, without personal data: which credential (by
// digest), of which type and issuer, was found valid or not, by which checks, where and under
// which policy. No claim, holder key or holder DID is kept.
type Record struct {
	ID         string    `json:"id"`
	VerifiedAt time.Time `json:"verified_at"`
	Digest     string    `json:"digest"` // Result.Digest
	Format     string    `json:"format"`
	Type       string    `json:"type,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
	Valid      bool      `json:"valid"`
	Failed     []string  `json:"failed,omitempty"` // names of the failed checks
	Counter    string    `json:"counter,omitempty"`
	// Service is the online service (RelyingParty id) whose OpenID4VP session it was.
	Service string `json:"service,omitempty"`
	Policy  string `json:"policy"`
	Source  string `json:"source"` // SourceOnline or SourceOffline
}

// RecordQuery selects records, newest first.
type RecordQuery struct {
	Counter string    // only this counter's; "" for all
	Service string    // only this online service's; "" for all
	Before  time.Time // only records verified before this time; zero for no bound
	Limit   int       // at most this many; 1 to 1000
}

// Recorder is the optional ability of a Store to keep verification records. Service finds
// it on Config.Store by type assertion; verifierstore.Store implements it.
type Recorder interface {
	// SaveRecord stores r. Records are never changed.
	SaveRecord(ctx context.Context, r Record) error
	// Records returns the records q selects, newest first.
	Records(ctx context.Context, q RecordQuery) ([]Record, error)
}

// NewRecord returns the record of res.
func NewRecord(res Result) Record {
	return Record{ID: secret.SortableID("vr", res.VerifiedAt), VerifiedAt: res.VerifiedAt, Digest: res.Digest, Format: res.Format, Type: res.Type, Issuer: res.Issuer,
		Valid: res.Valid, Failed: res.Failed(), Counter: res.Counter, Policy: res.Policy, Source: res.Source.Mode}
}

// record keeps the record of res when the store can and opts allow.
func (s *Service) record(ctx context.Context, res Result, opts Options) error {
	if opts.NoRecord {
		return nil
	}
	return s.saveRecord(ctx, NewRecord(res))
}

// saveRecord keeps r when the store can.
func (s *Service) saveRecord(ctx context.Context, r Record) error {
	rec, ok := s.store.(Recorder)
	if !ok {
		return nil
	}
	if err := rec.SaveRecord(ctx, r); err != nil {
		return fmt.Errorf("save verification record: %w", err)
	}
	return nil
}

// Records returns verification records, newest first. ErrInvalidRequest for a bad limit;
// ErrNotFound when this verifier keeps no records.
func (s *Service) Records(ctx context.Context, q RecordQuery) ([]Record, error) {
	rec, ok := s.store.(Recorder)
	if !ok {
		return nil, fmt.Errorf("%w: this verifier keeps no records", ErrNotFound)
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return nil, fmt.Errorf("%w: limit must be 1 to 1000", ErrInvalidRequest)
	}
	return rec.Records(ctx, q)
}
