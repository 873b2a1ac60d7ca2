package issuerstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/issuerstore"
)

// TestClients: access tokens authenticate their client's agency until they expire or the
// client is revoked; an agency revokes only its own clients; revoked clients are not found.
func TestClients(t *testing.T) {
	ctx := context.Background()
	s, err := issuerstore.Open(ctx, filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"ag_a", "ag_b"} {
		a := issuer.Agency{ID: id, Name: id, DID: "did:ez:" + id, KID: "did:ez:" + id + "#key-1", Types: []string{"HealthCode"}, CreatedAt: now}
		if err := s.CreateAgency(ctx, a, issuer.AgencySecrets{Signing: []byte{1}, Update: []byte{2}, Recovery: []byte{3}}); err != nil {
			t.Fatal(err)
		}
	}
	if all, err := s.ListAgencies(ctx); err != nil || len(all) != 2 || all[0].ID != "ag_a" {
		t.Fatalf("ListAgencies = %+v, %v", all, err)
	}
	c := issuer.Client{ID: "client_1", AgencyID: "ag_a", SecretHash: []byte("hash"), CreatedAt: now}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Client(ctx, c.ID); err != nil || got.AgencyID != "ag_a" || string(got.SecretHash) != "hash" {
		t.Fatalf("Client = %+v, %v", got, err)
	}
	if err := s.AddAccessToken(ctx, c.ID, []byte("tok"), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if a, err := s.AgencyByAccessToken(ctx, []byte("tok"), now.Add(time.Hour-time.Second)); err != nil || a.ID != "ag_a" {
		t.Fatalf("live token: %+v, %v", a, err)
	}
	if _, err := s.AgencyByAccessToken(ctx, []byte("tok"), now.Add(time.Hour)); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("expired token: %v, want ErrNotFound", err)
	}
	if err := s.AddAccessToken(ctx, c.ID, []byte("tok2"), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeClient(ctx, "ag_b", c.ID, now); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("another agency revoked the client: %v", err)
	}
	if err := s.RevokeClient(ctx, "ag_a", c.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AgencyByAccessToken(ctx, []byte("tok2"), now); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("a revoked client's token: %v, want ErrNotFound", err)
	}
	if _, err := s.Client(ctx, c.ID); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("revoked client: %v, want ErrNotFound", err)
	}
	if err := s.RevokeClient(ctx, "ag_a", c.ID, now); !errors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("revoke twice: %v, want ErrNotFound", err)
	}
}
