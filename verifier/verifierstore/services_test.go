package verifierstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ezheng/ezheng/verifier"
)

// TestRelyingParties: a service is found by its live tokens only, names are unique, tokens
// are revoked once and only through their own service, and the listing keeps the order of
// creation without hashes.
func TestRelyingParties(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a := verifier.RelyingParty{ID: "svc_a", Name: "Car rental", CreatedAt: now}
	b := verifier.RelyingParty{ID: "svc_b", Name: "Hotel", CreatedAt: now}
	if err := s.CreateRelyingParty(ctx, a, verifier.ServiceToken{ID: "svt_a1", Hash: []byte("ha1"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRelyingParty(ctx, b, verifier.ServiceToken{ID: "svt_b1", Hash: []byte("hb1"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	dup := verifier.RelyingParty{ID: "svc_c", Name: "Car rental", CreatedAt: now}
	if err := s.CreateRelyingParty(ctx, dup, verifier.ServiceToken{ID: "svt_c1", Hash: []byte("hc1"), CreatedAt: now}); !errors.Is(err, verifier.ErrServiceExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.RelyingPartyByToken(ctx, []byte("hc1")); !errors.Is(err, verifier.ErrNotFound) {
		t.Fatalf("the refused service's token was stored: %v", err)
	}
	if err := s.AddServiceToken(ctx, "svc_a", verifier.ServiceToken{ID: "svt_a2", Hash: []byte("ha2"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddServiceToken(ctx, "svc_nope", verifier.ServiceToken{ID: "svt_x", Hash: []byte("hx"), CreatedAt: now}); !errors.Is(err, verifier.ErrNotFound) {
		t.Fatalf("token of unknown service: %v", err)
	}
	if got, err := s.RelyingPartyByToken(ctx, []byte("ha2")); err != nil || got.ID != "svc_a" || got.Name != "Car rental" || !got.CreatedAt.Equal(now) {
		t.Fatalf("by token: %+v %v", got, err)
	}
	if err := s.RevokeServiceToken(ctx, "svc_b", "svt_a1", now); !errors.Is(err, verifier.ErrNotFound) {
		t.Fatalf("revoke through another service: %v", err)
	}
	if err := s.RevokeServiceToken(ctx, "svc_a", "svt_a1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeServiceToken(ctx, "svc_a", "svt_a1", now.Add(time.Minute)); !errors.Is(err, verifier.ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := s.RelyingPartyByToken(ctx, []byte("ha1")); !errors.Is(err, verifier.ErrNotFound) {
		t.Fatalf("revoked token: %v", err)
	}
	all, err := s.RelyingParties(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "svc_a" || all[1].ID != "svc_b" || len(all[0].Tokens) != 2 || len(all[1].Tokens) != 1 {
		t.Fatalf("list: %+v %v", all, err)
	}
	ta := all[0].Tokens
	if ta[0].ID != "svt_a1" || ta[0].RevokedAt == nil || !ta[0].RevokedAt.Equal(now.Add(time.Minute)) || ta[1].ID != "svt_a2" || ta[1].RevokedAt != nil || ta[0].Hash != nil {
		t.Fatalf("tokens: %+v", ta)
	}
}
