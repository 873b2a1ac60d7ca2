package verifierstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierstore"
)

func open(t *testing.T) *verifierstore.Store {
	t.Helper()
	s, err := verifierstore.Open(context.Background(), filepath.Join(t.TempDir(), "verifier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCounters: a counter keeps its default policy; unknown ids and names are ErrNotFound.
func TestCounters(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	c := verifier.Counter{ID: "c-1", Name: "Counter 1", Type: "urn:ezheng:vct:DrivingLicence", Disclose: []string{"family_name"}, Policy: "traffic-police-counter"}
	if err := s.SaveCounter(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() (verifier.Counter, error){
		func() (verifier.Counter, error) { return s.Counter(ctx, "c-1") },
		func() (verifier.Counter, error) { return s.CounterByName(ctx, "Counter 1") },
	} {
		got, err := get()
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("got %+v, %v; want %+v", got, err, c)
		}
	}
	c.Policy = ""
	if err := s.SaveCounter(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Counter(ctx, "c-1"); got.Policy != "" {
		t.Errorf("policy not cleared: %+v", got)
	}
	if _, err := s.Counter(ctx, "nope"); !errors.Is(err, verifier.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if err := s.SaveCounter(ctx, verifier.Counter{ID: "c-2", Name: "Counter 1"}); !errors.Is(err, verifier.ErrInvalidRequest) {
		t.Errorf("taken name: %v", err)
	}
}

// TestRecords: records come back as saved, newest first, filtered by counter and time.
func TestRecords(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	var saved []verifier.Record
	for i := range 5 {
		r := verifier.Record{ID: "vr_" + string(rune('a'+i)), VerifiedAt: at.Add(time.Duration(i) * time.Minute), Digest: "d", Format: verifier.FormatSDJWTVC,
			Type: "urn:ezheng:vct:DrivingLicence", Issuer: "did:ez:x", Valid: i%2 == 0, Counter: []string{"c-1", "c-2"}[i%2], Policy: "default", Source: verifier.SourceOnline}
		if !r.Valid {
			r.Failed = []string{"holder_binding", "status"}
		}
		if err := s.SaveRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, r)
	}
	if err := s.SaveRecord(ctx, saved[0]); err == nil {
		t.Error("a record was saved twice")
	}
	all, err := s.Records(ctx, verifier.RecordQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || !reflect.DeepEqual(all[0], saved[4]) || !reflect.DeepEqual(all[4], saved[0]) || !reflect.DeepEqual(all[3], saved[1]) {
		t.Fatalf("records = %+v", all)
	}
	c2, _ := s.Records(ctx, verifier.RecordQuery{Counter: "c-2", Limit: 10})
	if len(c2) != 2 || c2[0].ID != "vr_d" || c2[1].ID != "vr_b" {
		t.Errorf("counter c-2: %+v", c2)
	}
	before, _ := s.Records(ctx, verifier.RecordQuery{Before: at.Add(2 * time.Minute), Limit: 1})
	if len(before) != 1 || before[0].ID != "vr_b" {
		t.Errorf("before: %+v", before)
	}
}
