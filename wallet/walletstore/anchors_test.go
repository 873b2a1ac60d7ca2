package walletstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ezheng/ezheng/wallet"
)

// TestAnchorStore: a held credential is due at once, then when its next attempt comes; an
// anchored state is never replaced by a late attempt; another citizen's id finds nothing;
// erasing the citizen erases the anchor rows.
func TestAnchorStore(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "wallet.db"))
	cit := wallet.Citizen{ID: "cit_a", Name: "A", HolderDID: "did:jwk:a", HolderKID: "did:jwk:a#0", CreatedAt: t0}
	if err := s.CreateCitizen(ctx, cit, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	cr := wallet.Credential{ID: "wc_1", Type: "urn:x", Issuer: "did:jwk:i", Format: "dc+sd-jwt", Digest: "00ff", Claims: []string{},
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), StoredAt: t0}
	if _, _, err := s.SaveCredential(ctx, cit.ID, cr, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Anchor(ctx, cit.ID, cr.ID); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("anchor before any attempt: %v", err)
	}
	due, err := s.DueAnchors(ctx, t0, 10)
	if err != nil || len(due) != 1 || due[0].CredentialID != cr.ID || due[0].Digest != "00ff" || due[0].Attempts != 0 || !due[0].StoredAt.Equal(t0) {
		t.Fatalf("due = %+v, %v", due, err)
	}
	pending := wallet.AnchorRecord{State: wallet.AnchorPending, Attempts: 1, NextAttemptAt: t0.Add(2 * time.Second), Reason: "not yet"}
	if err := s.SaveAnchor(ctx, cit.ID, cr.ID, pending); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueAnchors(ctx, t0.Add(time.Second), 10); len(due) != 0 {
		t.Fatalf("due before its next attempt: %+v", due)
	}
	if due, _ := s.DueAnchors(ctx, t0.Add(2*time.Second), 10); len(due) != 1 || due[0].Attempts != 1 {
		t.Fatalf("due at its next attempt: %+v", due)
	}
	anchored := wallet.AnchorRecord{State: wallet.AnchorAnchored, Attempts: 2, VerifiedAt: t0.Add(3 * time.Second), Log: "ezheng.local/ledger",
		LeafIndex: 7, TreeSize: 9, SealedReceipt: []byte("receipt")}
	if err := s.SaveAnchor(ctx, cit.ID, cr.ID, anchored); err != nil {
		t.Fatal(err)
	}
	// A pass that started earlier and saves late does not undo it.
	if err := s.SaveAnchor(ctx, cit.ID, cr.ID, pending); err != nil {
		t.Fatal(err)
	}
	got, err := s.Anchor(ctx, cit.ID, cr.ID)
	if err != nil || got.State != wallet.AnchorAnchored || got.LeafIndex != 7 || got.TreeSize != 9 || string(got.SealedReceipt) != "receipt" ||
		!got.VerifiedAt.Equal(anchored.VerifiedAt) || !got.NextAttemptAt.IsZero() {
		t.Fatalf("anchor = %+v, %v", got, err)
	}
	if due, _ := s.DueAnchors(ctx, t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("anchored credential still due: %+v", due)
	}
	if _, err := s.Anchor(ctx, "cit_other", cr.ID); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("another citizen's anchor: %v", err)
	}
	// Saving for a credential the citizen does not hold stores nothing.
	if err := s.SaveAnchor(ctx, "cit_other", cr.ID, pending); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Anchor(ctx, "cit_other", cr.ID); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("anchor saved for a credential not held: %v", err)
	}
	if _, err := s.EraseCitizen(ctx, cit.ID, wallet.AuditRecord{Subject: "x", At: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Anchor(ctx, cit.ID, cr.ID); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("anchor after erasure: %v", err)
	}
}
