package oid4vci

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestGoldenProof pins the exact bytes BuildProof signs: Ed25519 from the all-zero seed with an
// embedded jwk, no iss, aud https://issuer.example.gov, nonce n-0S6_WzA2Mj, iat
// 2026-01-01T00:00:00Z. Ed25519 is deterministic, so any change in header or claim encoding
// shows up here. Regenerate with go test ./internal/oid4vci/ -run TestGoldenProof -update.
func TestGoldenProof(t *testing.T) {
	s, err := NewProofSigner(testEd25519Key(), "")
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := BuildProof(s, "", "https://issuer.example.gov", "n-0S6_WzA2Mj", iat)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "proof_ed25519.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("BuildProof bytes changed:\n got %s\nwant %s", got, want)
	}
	if _, err := VerifyProof(context.Background(), string(want), ProofOptions{
		Audience: "https://issuer.example.gov", Nonce: "n-0S6_WzA2Mj", Now: iat,
	}); err != nil {
		t.Errorf("golden proof does not verify: %v", err)
	}
}
