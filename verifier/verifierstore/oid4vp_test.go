package verifierstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ezheng/ezheng/verifier"
)

// TestVPSessions: a session is found by id, request id and state; its request object is
// fetched once; it is completed once, and only after the fetch.
func TestVPSessions(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	v := verifier.VPSession{ID: "vps_1", Service: "svc_1", RequestID: "r1", State: "st1", Nonce: "n1", ClientID: "decentralized_identifier:did:jwk:x",
		Query: json.RawMessage(`{"credentials":[]}`), Policy: "default", ClientName: "Car rental", Purpose: "p",
		Status: verifier.VPCreated, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	if err := s.CreateVPSession(ctx, v); err != nil {
		t.Fatal(err)
	}
	for name, get := range map[string]func() (verifier.VPSession, error){
		"id":      func() (verifier.VPSession, error) { return s.VPSession(ctx, "vps_1") },
		"request": func() (verifier.VPSession, error) { return s.VPSessionByRequest(ctx, "r1") },
		"state":   func() (verifier.VPSession, error) { return s.VPSessionByState(ctx, "st1") },
	} {
		if got, err := get(); err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("by %s: got %+v, %v; want %+v", name, got, err, v)
		}
	}
	if _, err := s.VPSessionByState(ctx, "nope"); !errors.Is(err, verifier.ErrNotFound) {
		t.Errorf("unknown state: %v", err)
	}
	if err := s.CompleteVPSession(ctx, "vps_1", verifier.VPVerified, []byte("x"), now); !errors.Is(err, verifier.ErrSessionDone) {
		t.Errorf("complete before fetch: %v", err)
	}
	if err := s.MarkVPFetched(ctx, "vps_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkVPFetched(ctx, "vps_1"); !errors.Is(err, verifier.ErrRequestUsed) {
		t.Errorf("second fetch: %v", err)
	}
	if err := s.CompleteVPSession(ctx, "vps_1", verifier.VPVerified, []byte("sealed"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteVPSession(ctx, "vps_1", verifier.VPRejected, []byte("other"), now.Add(2*time.Minute)); !errors.Is(err, verifier.ErrSessionDone) {
		t.Errorf("second completion: %v", err)
	}
	got, err := s.VPSession(ctx, "vps_1")
	if err != nil || got.Status != verifier.VPVerified || string(got.SealedResult) != "sealed" || got.CompletedAt == nil || !got.CompletedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("completed: %+v %v", got, err)
	}
	// A duplicate state is refused.
	dup := v
	dup.ID, dup.RequestID = "vps_2", "r2"
	if err := s.CreateVPSession(ctx, dup); err == nil {
		t.Error("duplicate state stored")
	}
}

// TestVerifierKey: the first key stored under a name wins.
func TestVerifierKey(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	a, err := s.VerifierKey(ctx, "oid4vp", []byte("first"))
	if err != nil || !bytes.Equal(a, []byte("first")) {
		t.Fatalf("%q %v", a, err)
	}
	b, err := s.VerifierKey(ctx, "oid4vp", []byte("second"))
	if err != nil || !bytes.Equal(b, []byte("first")) {
		t.Fatalf("%q %v", b, err)
	}
}
