package ledger

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
)

func (f *fixture) blockTime(height uint64) time.Time {
	f.t.Helper()
	b, err := f.l.Block(f.ctx, height)
	if err != nil {
		f.t.Fatal(err)
	}
	return b.Time
}

func (f *fixture) resolveKey(id string, q ResolveQuery) (ed25519.PublicKey, *Resolution, error) {
	f.t.Helper()
	res, err := f.l.Resolve(f.ctx, id, q)
	if err != nil {
		return nil, nil, err
	}
	jwk, err := res.Document.Key(id+"#key-1", did.AssertionMethod)
	if err != nil {
		f.t.Fatal(err)
	}
	return jwk.Key.(ed25519.PublicKey), res, nil
}

func TestKeyRotationVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := newActor("agency")
	create := a.createOp(t)
	r1 := f.mustOK(create)
	created := f.blockTime(r1.Height)

	// Rotate key-1 and the update key in one update.
	newKey, newUpdate := seedKey("agency key-1 v2"), seedKey("agency update v2")
	rot := NewUpdate(a.did, VersionID(create),
		Patch{Action: ActionRemoveKeys, IDs: []string{"#key-1"}},
		Patch{Action: ActionAddKeys, Keys: []Key{{ID: "#key-1", JWK: &jose.JSONWebKey{Key: newKey.Public()}}}},
		Patch{Action: ActionSetRelationships, Authentication: []string{"#key-1"}, AssertionMethod: []string{"#key-1"}})
	rot.NextUpdateKey = &jose.JSONWebKey{Key: newUpdate.Public()}
	rotJWS := mustSign(t, rot, a.update, "")
	r2 := f.mustOK(rotJWS)
	rotated := f.blockTime(r2.Height)
	if !rotated.After(created) {
		t.Fatalf("rotation block time %s not after creation %s", rotated, created)
	}

	oldPub, newPub := a.key.Public().(ed25519.PublicKey), newKey.Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name string
		q    ResolveQuery
		want ed25519.PublicKey // nil: not found
	}{
		{"current", ResolveQuery{}, newPub},
		{"time before creation", ResolveQuery{VersionTime: created.Add(-time.Millisecond)}, nil},
		{"time at creation", ResolveQuery{VersionTime: created}, oldPub},
		{"time just before rotation", ResolveQuery{VersionTime: rotated.Add(-time.Millisecond)}, oldPub},
		{"time at rotation", ResolveQuery{VersionTime: rotated}, newPub},
		{"time within the rotation's second", ResolveQuery{VersionTime: rotated.Add(999 * time.Millisecond)}, newPub},
		{"time after rotation", ResolveQuery{VersionTime: rotated.Add(time.Hour)}, newPub},
		{"versionId of the create", ResolveQuery{VersionID: VersionID(create)}, oldPub},
		{"versionId of the rotation", ResolveQuery{VersionID: VersionID(rotJWS)}, newPub},
		{"versionId with a time before it", ResolveQuery{VersionID: VersionID(rotJWS), VersionTime: created}, nil},
		{"unknown versionId", ResolveQuery{VersionID: VersionID("nope")}, nil},
	} {
		got, res, err := f.resolveKey(a.did, tc.q)
		if tc.want == nil {
			if !errors.Is(err, did.ErrNotFound) {
				t.Errorf("%s: err = %v, want not found", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: got the %s key", tc.name, map[bool]string{true: "old", false: "new"}[got.Equal(oldPub)])
		}
		if !res.Metadata.Created.Equal(created) {
			t.Errorf("%s: created = %s, want %s", tc.name, res.Metadata.Created, created)
		}
	}

	// Metadata of the old version points at its successor; the new one has Updated.
	_, old, _ := f.resolveKey(a.did, ResolveQuery{VersionID: VersionID(create)})
	if !old.Metadata.Updated.IsZero() || old.Metadata.NextVersionID != VersionID(rotJWS) || !old.Metadata.NextUpdate.Equal(rotated) {
		t.Errorf("old version metadata %+v", old.Metadata)
	}
	_, cur, _ := f.resolveKey(a.did, ResolveQuery{})
	if !cur.Metadata.Updated.Equal(rotated) || cur.Metadata.VersionID != VersionID(rotJWS) || cur.Metadata.NextVersionID != "" {
		t.Errorf("current metadata %+v", cur.Metadata)
	}

	// The old update key no longer signs updates; the new one does.
	add := Patch{Action: ActionAddServices, Services: []Service{{ID: "#svc", Type: "LinkedDomains", Endpoint: "https://agency.example"}}}
	if r := f.submit(mustSign(t, NewUpdate(a.did, VersionID(rotJWS), add), a.update, "")); r.Code != CodeBadSignature {
		t.Fatalf("update with the rotated-out key: %s", r.Code)
	}
	f.mustOK(mustSign(t, NewUpdate(a.did, VersionID(rotJWS), add), newUpdate, ""))

	// Recovery replaces everything and needs the recovery key; the next recovery uses the new commitment.
	cur2, _ := f.l.Resolve(f.ctx, a.did, ResolveQuery{})
	nextRec := seedKey("agency recovery v2")
	rec, err := NewRecover(a.did, cur2.Metadata.VersionID, NewDocument(seedKey("agency key-1 v3").Public()), seedKey("agency update v3").Public(), a.recovery.Public(), nextRec.Public())
	if err != nil {
		t.Fatal(err)
	}
	recJWS := mustSign(t, rec, a.recovery, "")
	f.mustOK(recJWS)
	again, _ := NewRecover(a.did, VersionID(recJWS), NewDocument(a.key.Public()), a.update.Public(), a.recovery.Public(), nextRec.Public())
	if r := f.submit(mustSign(t, again, a.recovery, "")); r.Code != CodeWrongKey {
		t.Fatalf("recovery with the used recovery key: %s", r.Code)
	}
	deact := mustSign(t, NewDeactivate(a.did, VersionID(recJWS), nextRec.Public()), nextRec, "")
	f.mustOK(deact)
}

func TestAccreditationHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.create("agency")
	y := func(n int) time.Time { return t0.AddDate(n, 0, 0) }
	sign := func(op Op) string { return mustSign(t, op, f.root.key, f.root.kid()) }
	f.mustOK(sign(NewAccredit(iss.did, []string{"DrivingLicence", "Degree"}, y(0), y(10), 1)))
	f.mustOK(sign(NewWithdraw(iss.did, []string{"Degree"}, y(2), 2)))
	f.mustOK(sign(NewAccredit(iss.did, []string{"Degree"}, y(4), y(6), 3)))
	for _, tc := range []struct {
		vct   string
		at    time.Time
		ok    bool
		until time.Time
	}{
		{"DrivingLicence", y(1), true, y(10)},
		{"DrivingLicence", y(5), true, y(10)},
		{"DrivingLicence", y(11), false, time.Time{}},
		{"Degree", y(1), true, y(2)}, // cut short by the later withdrawal
		{"Degree", y(3), false, time.Time{}},
		{"Degree", y(5), true, y(6)},
		{"Degree", y(7), false, time.Time{}},
		{"Other", y(1), false, time.Time{}},
		{"", y(3), true, y(10)},
	} {
		a, err := f.l.Accreditation(f.ctx, iss.did, tc.vct, tc.at)
		if !tc.ok {
			if !errors.Is(err, ErrNotAccredited) {
				t.Errorf("%s at %s: err = %v, want not accredited", tc.vct, tc.at, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s at %s: %v", tc.vct, tc.at, err)
			continue
		}
		if !a.Until.Equal(tc.until) {
			t.Errorf("%s at %s: until %s, want %s", tc.vct, tc.at, a.Until, tc.until)
		}
	}
}
