package ledger

import (
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
)

// The offline copies — trust records, DID histories, newest status publications — answer as
// the ledger does.
func TestHistoryForOfflineCopies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.create("agency")
	f.create("never accredited")
	y := func(n int) time.Time { return t0.AddDate(n, 0, 0) }
	sign := func(op Op) string { return mustSign(t, op, f.root.key, f.root.kid()) }
	f.mustOK(sign(NewAccredit(iss.did, []string{"DrivingLicence", "Degree"}, y(0), y(10), 1)))
	f.mustOK(sign(NewWithdraw(iss.did, []string{"Degree"}, y(2), 2)))
	f.mustOK(sign(NewAccredit(iss.did, []string{"Degree"}, y(4), y(6), 3)))

	ids, err := f.l.AccreditedIssuers(f.ctx)
	if err != nil || !slices.Equal(ids, []string{iss.did}) {
		t.Fatalf("AccreditedIssuers = %v, %v; want only %s", ids, err, iss.did)
	}
	recs, err := f.l.TrustRecords(f.ctx, iss.did)
	if err != nil || len(recs) != 3 {
		t.Fatalf("TrustRecords = %d records, %v", len(recs), err)
	}
	for _, vct := range []string{"DrivingLicence", "Degree", "Other", ""} {
		for n := -1; n <= 11; n++ {
			want, wantErr := f.l.Accreditation(f.ctx, iss.did, vct, y(n))
			got, gotErr := AccreditationIn(recs, iss.did, vct, y(n))
			if errors.Is(gotErr, ErrNotAccredited) != errors.Is(wantErr, ErrNotAccredited) || (gotErr == nil && (got.Seq != want.Seq || !got.Until.Equal(want.Until))) {
				t.Errorf("%q at year %d: offline %+v %v, ledger %+v %v", vct, n, got, gotErr, want, wantErr)
			}
		}
	}

	// Two versions of the DID, with their block times.
	newKey := seedKey("agency key-2")
	f.mustOK(f.update(iss, NewUpdate(iss.did, iss.version,
		Patch{Action: ActionAddKeys, Keys: []Key{{ID: "#key-2", JWK: &jose.JSONWebKey{Key: newKey.Public()}}}})))
	hist, err := f.l.History(f.ctx, iss.did)
	if err != nil || len(hist) != 2 {
		t.Fatalf("History = %d versions, %v", len(hist), err)
	}
	for i, v := range hist {
		res, err := f.l.Resolve(f.ctx, iss.did, ResolveQuery{VersionID: v.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		at := res.Metadata.Updated
		if i == 0 {
			at = res.Metadata.Created
		}
		if v.Seq != uint64(i+1) || len(v.Document.VerificationMethod) != len(res.Document.VerificationMethod) || !stamp(v.Time.UnixMilli()).Equal(at) {
			t.Errorf("version %d: %+v, ledger %+v", i+1, v, res.Metadata)
		}
	}
	if _, err := f.l.History(f.ctx, "did:ez:EiAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, did.ErrNotFound) {
		t.Errorf("History of an unknown DID: %v", err)
	}

	// The newest publication of each list.
	for seq := uint64(1); seq <= 2; seq++ {
		d := sha256.Sum256([]byte{byte(seq)})
		f.mustOK(mustSign(t, NewStatus(iss.did, "https://a.test/l1", d[:], seq), iss.key, iss.kid()))
	}
	lists, err := f.l.IssuerStatusLists(f.ctx, iss.did)
	if err != nil || len(lists) != 1 || lists["https://a.test/l1"].Seq != 2 {
		t.Fatalf("IssuerStatusLists = %+v, %v", lists, err)
	}
	want, _ := f.l.StatusList(f.ctx, "https://a.test/l1")
	if got := lists["https://a.test/l1"]; got.LeafIndex != want.LeafIndex || string(got.Digest) != string(want.Digest) {
		t.Errorf("newest publication %+v, ledger %+v", got, want)
	}
}
