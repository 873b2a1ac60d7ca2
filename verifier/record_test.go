package verifier_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierstore"
)

// TestRecordsHoldNoPersonalData: every verification leaves a record naming the credential by
// digest, type, issuer, result, failed checks, counter and policy — and no claim value, holder
// key or holder DID appears anywhere in the verifier's database.
func TestRecordsHoldNoPersonalData(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	file := filepath.Join(t.TempDir(), "verifier.db")
	store, err := verifierstore.Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := w.service(store)
	if err := s.SaveCounter(ctx, verifier.Counter{ID: "c-1", Name: "Counter 1", Type: dlVCT, Policy: "traffic-police-counter"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCounter(ctx, verifier.Counter{ID: "c-2", Name: "Counter 2", Policy: "nope"}); err == nil {
		t.Error("a counter with an unknown policy was saved")
	}

	issued := w.sdJWT(w.key1, "#key-1", tIssue)
	good := w.present(issued, []string{"family_name", "given_name", "licence_class", "photo"}, w.holder)
	noPhoto := w.present(issued, []string{"family_name", "given_name", "licence_class"}, w.holder)
	vc := w.vcJWT(false, w.key1, "#key-1", tIssue, revokedIdx)
	for _, v := range []struct {
		text string
		opts verifier.Options
	}{
		{good, verifier.Options{Counter: "c-1"}},
		{noPhoto, verifier.Options{Counter: "c-1"}},
		{vc, verifier.Options{Policy: "credential"}},
	} {
		if _, err := s.Verify(ctx, v.text, v.opts); err != nil {
			t.Fatal(err)
		}
	}

	recs, err := s.Records(ctx, verifier.RecordQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	type row struct {
		valid        bool
		failed       []string
		counter, pol string
		format, typ  string
	}
	var got []row
	for _, r := range recs {
		if r.Digest == "" || r.Issuer != issuerDID || r.Source != verifier.SourceOnline || !r.VerifiedAt.Equal(tNow.Truncate(time.Second)) {
			t.Errorf("record %+v", r)
		}
		got = append(got, row{r.Valid, r.Failed, r.Counter, r.Policy, r.Format, r.Type})
	}
	want := []row{
		{true, nil, "c-1", "traffic-police-counter", verifier.FormatSDJWTVC, dlVCT},
		{false, []string{"policy"}, "c-1", "traffic-police-counter", verifier.FormatSDJWTVC, dlVCT},
		{false, []string{"status"}, "", "credential", verifier.FormatVCJWT, "DrivingLicence"},
	}
	for _, wr := range want {
		if !slices.ContainsFunc(got, func(g row) bool {
			return g.valid == wr.valid && slices.Equal(g.failed, wr.failed) && g.counter == wr.counter && g.pol == wr.pol && g.format == wr.format && g.typ == wr.typ
		}) {
			t.Errorf("no record %+v in %+v", wr, got)
		}
	}
	digests := map[string]int{}
	for _, r := range recs {
		digests[r.Digest]++
	}
	if len(digests) != 2 {
		t.Errorf("digests %v: two presentations of one credential must share theirs, the vc+jwt has its own", digests)
	}
	if only, _ := s.Records(ctx, verifier.RecordQuery{Counter: "c-1", Limit: 1}); len(only) != 1 || only[0].Counter != "c-1" {
		t.Errorf("counter query = %+v", only)
	}
	if _, err := s.Records(ctx, verifier.RecordQuery{Limit: 5000}); err == nil {
		t.Error("limit 5000 accepted")
	}

	// Nothing personal anywhere: every column of every table, and the files' bytes.
	secrets := []string{w.holderDID}
	for _, v := range licence {
		secrets = append(secrets, fmt.Sprint(v))
	}
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	var dump strings.Builder
	cells := map[string]bool{} // every column value, as text
	for _, n := range names {
		rows, err := db.Query(`SELECT * FROM "` + n + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintln(&dump, n, vals)
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				cells[fmt.Sprint(v)] = true
			}
		}
		rows.Close()
	}
	matches, _ := filepath.Glob(file + "*")
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		dump.Write(b)
	}
	for _, sec := range secrets {
		// A short value ("C1", "张") turns up by chance in random ids and sealed bytes: look
		// for it as a whole value or quoted as JSON would hold it; a longer one anywhere.
		short := len(sec) < 4 && (cells[sec] || strings.Contains(dump.String(), `"`+sec+`"`))
		if short || len(sec) >= 4 && strings.Contains(dump.String(), sec) {
			t.Errorf("the verifier database holds %q", sec)
		}
	}
	if !strings.Contains(dump.String(), recs[0].Digest) {
		t.Errorf("the dump misses the records (digest %s)", recs[0].Digest)
	}
}
