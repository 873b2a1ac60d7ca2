package bundle_test

import (
	"math/rand"
	"testing"

	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/verifier/bundle"
)

// BenchmarkBundle measures a counter's trust bundle for 100 issuers with 10 M status entries
// in all (100,000 per issuer, 2 bits each, 1 % revoked at random): its size on disk, and the
// time to export it and to open (verify and index) it.
func BenchmarkBundle(b *testing.B) {
	const issuers, perIssuer = 100, 100_000
	w := newWorld(b)
	iss := w.addIssuers(issuers, perIssuer)
	r := rand.New(rand.NewSource(6))
	var pubs []string
	for _, is := range iss {
		for range perIssuer / 100 {
			is.list.Set(r.Intn(perIssuer), statuslist.Invalid)
		}
		pubs = append(pubs, w.publish(is))
	}
	w.submit(pubs...)
	x, err := bundle.NewExporter(bundle.ExportConfig{Ledger: w.l, LedgerKey: w.ledgerKey, StatusLists: w, Key: w.bundleKey, Now: w.clock, Reuse: -1})
	if err != nil {
		b.Fatal(err)
	}
	file := w.full(x)
	var tokens int
	opened, err := bundle.Open(file, w.pin(), bundle.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, is := range opened.Content().Issuers {
		for _, l := range is.StatusLists {
			tokens += len(l.Token)
		}
	}

	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.Open(file, w.pin(), bundle.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(file)), "file-bytes")
		b.ReportMetric(float64(tokens), "token-bytes")
	})
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := x.Full(w.ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delta-one-revocation", func(b *testing.B) {
		base := opened.Seq()
		w.revoke(iss[0], 1)
		d, _, err := x.Delta(w.ctx, base)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := bundle.Apply(opened, d, w.pin(), bundle.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(d)), "delta-bytes")
	})
}
