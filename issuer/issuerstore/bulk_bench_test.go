package issuerstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/issuerstore"
)

// BenchmarkSaveCredentials is the storage half of bulk issuance alone: 500 credentials of
// realistic size (1.4 KB sealed), their status entries reserved, per transaction with their status entries and anchor-queue
// rows, so the SQLite cost per credential can be compared with the signing cost.
func BenchmarkSaveCredentials(b *testing.B) {
	ctx := context.Background()
	s, err := issuerstore.Open(ctx, filepath.Join(b.TempDir(), "issuer.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a := issuer.Agency{ID: "ag_a", Name: "a", DID: "did:ez:a", KID: "did:ez:a#key-1", Types: []string{"HealthCode"}, CreatedAt: now}
	if err := s.CreateAgency(ctx, a, issuer.AgencySecrets{Signing: []byte{1}, Update: []byte{2}, Recovery: []byte{3}}); err != nil {
		b.Fatal(err)
	}
	const chunk = 500
	sealed := make([]byte, 1400)
	rand.Read(sealed)
	reqHash := sha256.Sum256([]byte("x"))
	n := 0
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for b.Loop() {
		entries, err := s.ReserveStatusEntries(ctx, a.ID, chunk)
		if err != nil {
			b.Fatal(err)
		}
		cs := make([]issuer.SealedCredential, chunk)
		for k := range cs {
			n++
			sum := sha256.Sum256(fmt.Appendf(nil, "%d", n))
			c := issuer.Credential{ID: secret.SortableID("cred", time.Now()), AgencyID: a.ID, Type: "HealthCode", Format: "dc+sd-jwt",
				Holder: "did:jwk:abc", IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), Digest: hex.EncodeToString(sum[:])}
			cs[k] = issuer.SealedCredential{Credential: c, Sealed: sealed, Status: entries[k], IdempotencyKey: fmt.Sprintf("k/%d", n), RequestHash: reqHash[:]}
		}
		if err := s.SaveCredentials(ctx, a.ID, cs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*chunk)/b.Elapsed().Seconds(), "credentials/s")
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N*chunk), "cpu-µs/credential")
}
