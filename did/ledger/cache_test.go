package ledger

import (
	"testing"
)

// TestReadCacheFollowsTheHead: a resolution answered from the read cache changes as soon as a
// block changes the DID, and what a caller does to its copy never reaches the next caller.
func TestReadCacheFollowsTheHead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.create("holder")
	first, err := f.l.Resolve(f.ctx, a.did, ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	first.Document.VerificationMethod[0].ID = "tampered"
	first.Document.AssertionMethod = nil
	again, err := f.l.Resolve(f.ctx, a.did, ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Document.VerificationMethod[0].ID == "tampered" || len(again.Document.AssertionMethod) == 0 {
		t.Fatalf("a caller's change reached the cache: %+v", again.Document)
	}
	if again.Metadata.Deactivated {
		t.Fatal("deactivated before deactivation")
	}
	f.mustOK(mustSign(t, NewDeactivate(a.did, a.version, a.recovery.Public()), a.recovery, ""))
	after, err := f.l.Resolve(f.ctx, a.did, ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !after.Metadata.Deactivated || len(after.Document.VerificationMethod) != 0 {
		t.Fatalf("the cache kept the document from before the deactivation: %+v", after)
	}
}
