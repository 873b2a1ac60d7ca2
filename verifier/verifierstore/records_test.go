package verifierstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierstore"
)

// TestRecordsGroupCommit: records saved at once from many goroutines are all stored, each
// SaveRecord returning only when its record is; a record that breaks its batch fails that
// batch's callers and no other; after Close, SaveRecord refuses.
func TestRecordsGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := verifierstore.Open(ctx, filepath.Join(t.TempDir(), "verifier.db"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.SaveRecord(ctx, verifier.Record{ID: fmt.Sprintf("vr_%03d", i), VerifiedAt: at, Digest: "d", Format: "dc+sd-jwt",
				Valid: i%2 == 0, Policy: "default", Source: verifier.SourceOnline})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	got, err := s.Records(ctx, verifier.RecordQuery{Limit: 1000})
	if err != nil || len(got) != n {
		t.Fatalf("%d records stored, %v; want %d", len(got), err, n)
	}
	// A duplicate id fails its own save; the store goes on.
	if err := s.SaveRecord(ctx, verifier.Record{ID: "vr_000", VerifiedAt: at, Policy: "default", Source: verifier.SourceOnline}); err == nil {
		t.Fatal("a duplicate record id was stored")
	}
	if err := s.SaveRecord(ctx, verifier.Record{ID: "vr_new", VerifiedAt: at, Policy: "default", Source: verifier.SourceOnline}); err != nil {
		t.Fatalf("after a failed batch: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRecord(ctx, verifier.Record{ID: "vr_late", VerifiedAt: at}); err == nil {
		t.Fatal("SaveRecord after Close succeeded")
	}
}
