package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/wallet"
)

// benchFixture is the real server (SQLite, real keys) with one credential in the demo wallet.
func benchFixture(b *testing.B) (*fixture, wallet.Citizen, string) {
	b.Helper()
	f := newFixture(b)
	ctx := context.Background()
	cit, err := f.srv.Wallet.Authenticate(ctx, f.world.Citizen.Token)
	if err != nil {
		b.Fatal(err)
	}
	issued := f.issue("DrivingLicence", f.world.Citizen.DID, licence)
	cr, _, err := f.srv.Wallet.Receive(ctx, cit, issued)
	if err != nil {
		b.Fatal(err)
	}
	return f, cit, cr.ID
}

// BenchmarkVerifyCounterQR is the verifier's work for one scanned counter QR (3 claims,
// holder-bound): parse, resolve the issuer's did:key, two signature checks, disclosures,
// validity, accreditation lookup in SQLite. Compare with BenchmarkEd25519Verify: the floor is
// one Ed25519 verify (issuer) plus one P-256 verify (holder key).
func BenchmarkVerifyCounterQR(b *testing.B) {
	f, cit, id := benchFixture(b)
	ctx := context.Background()
	p, err := f.srv.Wallet.Present(ctx, cit, id, counterClaims, f.world.Counter.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := f.srv.Verifier.Verify(ctx, p.Text, verifier.Options{Counter: f.world.Counter.ID})
		if err != nil || !res.Valid {
			b.Fatalf("verify: %v %v", err, res.Failed())
		}
	}
}

// BenchmarkPresentCounterQR is the wallet's work for one counter QR: open the sealed
// credential and holder key, select disclosures, sign the KB-JWT (P-256).
func BenchmarkPresentCounterQR(b *testing.B) {
	f, cit, id := benchFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.srv.Wallet.Present(ctx, cit, id, counterClaims, f.world.Counter.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueDrivingLicence is one issuance through the service (no HTTP): validate,
// resolve the holder DID, open the agency key, sign the SD-JWT VC (7 disclosures), seal and
// store in SQLite. Compare with BenchmarkEd25519Sign.
func BenchmarkIssueDrivingLicence(b *testing.B) {
	f, _, _ := benchFixture(b)
	ctx := context.Background()
	a, err := f.srv.Issuer.Authenticate(ctx, f.token("DrivingLicence"))
	if err != nil {
		b.Fatal(err)
	}
	req := issueRequest(f.world.Citizen.DID)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.srv.Issuer.Issue(ctx, a, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Sign and BenchmarkEd25519Verify are the bare standard-library limits
// measured in the same run, for the ratios in BENCHMARKS.md.
func BenchmarkEd25519Sign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := sha256.Sum256([]byte("ezheng"))
	for b.Loop() {
		ed25519.Sign(priv, msg[:])
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := sha256.Sum256([]byte("ezheng"))
	sig := ed25519.Sign(priv, msg[:])
	for b.Loop() {
		if !ed25519.Verify(pub, msg[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

func issueRequest(holder string) issuer.IssueRequest {
	return issuer.IssueRequest{Type: "DrivingLicence", Holder: holder, Claims: licence}
}

// BenchmarkIssuerAnchoring is the issuer's side of anchoring, per credential: take queued
// digests in batches of 10,000, sign and submit the anchor operation, build every receipt,
// verify them and store them in SQLite. Issuance itself (the queueing) is not timed. Run with
// -benchtime 20000x (the untimed setup issues that many credentials first).
func BenchmarkIssuerAnchoring(b *testing.B) {
	f := newFixture(b, func(c *server.Config) { c.AnchorInterval = time.Hour })
	ctx := context.Background()
	a, err := f.srv.Issuer.Authenticate(ctx, f.token("DrivingLicence"))
	if err != nil {
		b.Fatal(err)
	}
	req := issueRequest(f.world.Citizen.DID)
	for i := 0; i < b.N; i++ {
		if _, _, err := f.srv.Issuer.Issue(ctx, a, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	n, err := f.srv.Issuer.AnchorPending(ctx, 10_000)
	if err != nil || n != b.N {
		b.Fatalf("anchored %d of %d: %v", n, b.N, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "credentials/s")
}

// BenchmarkVerifyCounterQRHTTP is BenchmarkVerifyCounterQR over HTTP on 127.0.0.1 from
// GOMAXPROCS×4 concurrent clients: what a counter fleet costs the server per scan, with the
// HTTP stack, JSON, the online checks and the verification record (group commit).
func BenchmarkVerifyCounterQRHTTP(b *testing.B) {
	f, cit, id := benchFixture(b)
	ctx := context.Background()
	p, err := f.srv.Wallet.Present(ctx, cit, id, counterClaims, f.world.Counter.ID)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"qr": p.Text, "counter": f.world.Counter.ID})
	url := f.url + "/verifier/v1/verify"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			var res struct {
				Valid  bool
				Checks []struct {
					Name, Reason string
					OK           bool
				}
			}
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || !res.Valid {
				b.Errorf("HTTP %d, valid %v, %v: %+v", resp.StatusCode, res.Valid, err, res.Checks)
				return
			}
		}
	})
}
