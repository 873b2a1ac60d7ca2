package bundle_test

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/bundle"
)

const vct = "urn:ezheng:vct:DrivingLicence"

// The bundle answers what the ledger answers: accreditations, current and past DID
// documents, status lists; and it states itself as an offline source.
func TestExportOpenAnswersLikeTheLedger(t *testing.T) {
	w := newWorld(t)
	iss := w.addIssuers(2, 1000)
	issuedAt := w.clock()
	oldKID := iss[0].KID
	w.advance(time.Hour)
	w.rotate(iss[0])
	w.withdraw(iss[1], w.clock())
	w.advance(time.Minute)
	w.submit(w.publish(iss[0])) // the issuer re-signs its list (a list is valid 5 minutes)

	file := w.full(w.exporter(map[string][]byte{"default.json": []byte(`{"name":"default"}`)}))
	b, err := bundle.Open(file, w.pin(), bundle.Options{LedgerKey: w.ledgerKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := w.ctx
	if got, want := b.Seq(), w.l.Status(ctx).Size; got != want {
		t.Errorf("Seq = %d, want the ledger's tree size %d", got, want)
	}
	if !b.Created().Equal(w.clock()) || b.Age(w.clock().Add(time.Hour)) != time.Hour {
		t.Errorf("Created = %v, want %v", b.Created(), w.clock())
	}

	for _, tc := range []struct {
		name   string
		issuer string
		at     time.Time
	}{
		{"accredited", iss[0].DID, issuedAt},
		{"withdrawn, before the withdrawal", iss[1].DID, issuedAt},
		{"withdrawn, after", iss[1].DID, w.clock()},
		{"before the accreditation", iss[0].DID, t0.Add(-3 * time.Hour)},
		{"unknown issuer", "did:ez:EiAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", issuedAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := b.Accreditation(ctx, tc.issuer, vct, tc.at)
			want, wantErr := w.l.Accreditation(ctx, tc.issuer, vct, tc.at)
			if (gotErr == nil) != (wantErr == nil) || errors.Is(gotErr, ledger.ErrNotAccredited) != errors.Is(wantErr, ledger.ErrNotAccredited) {
				t.Fatalf("bundle: %v, ledger: %v", gotErr, wantErr)
			}
			if gotErr == nil && (got.Seq != want.Seq || !got.From.Equal(want.From) || !got.Until.Equal(want.Until)) {
				t.Errorf("bundle %+v, ledger %+v", got, want)
			}
		})
	}

	// Key history: the key rotated away was the issuer's at issuance, not now.
	if _, err := did.ResolveKey(ctx, b, oldKID, did.AssertionMethod); !errors.Is(err, did.ErrKeyNotFound) {
		t.Errorf("current document still lists the rotated key: %v", err)
	}
	doc, md, err := b.ResolveVersion(ctx, iss[0].DID, did.Query{VersionTime: issuedAt})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Key(oldKID, did.AssertionMethod); err != nil {
		t.Errorf("version at issuance lacks the old key: %v", err)
	}
	want, err := w.l.Resolve(ctx, iss[0].DID, ledger.ResolveQuery{VersionTime: issuedAt})
	if err != nil {
		t.Fatal(err)
	}
	if md.VersionID != want.Metadata.VersionID || md.NextVersionID != want.Metadata.NextVersionID {
		t.Errorf("metadata %+v, ledger %+v", md, want.Metadata)
	}
	if _, _, err := b.ResolveVersion(ctx, iss[0].DID, did.Query{VersionTime: t0.Add(-24 * time.Hour)}); !errors.Is(err, did.ErrNotFound) {
		t.Errorf("a time before the DID existed: %v, want ErrNotFound", err)
	}

	// Status lists as the issuers signed them, verifiable with the bundle's keys.
	tok, err := b.StatusList(ctx, iss[0].uri)
	if err != nil {
		t.Fatal(err)
	}
	key, err := did.ResolveKey(ctx, b, iss[0].KID, did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := statuslist.VerifyToken(string(tok), key, iss[0].uri, b.Created(), 1<<20); err != nil {
		t.Errorf("bundled status list: %v", err)
	}
	if _, err := b.StatusList(ctx, "https://elsewhere.test/list"); err == nil {
		t.Error("a list not in the bundle was answered")
	}
	// did:key resolves locally; did:web is refused offline.
	if _, err := b.Resolve(ctx, "did:web:example.com"); !errors.Is(err, did.ErrMethodNotSupported) {
		t.Errorf("did:web offline: %v", err)
	}

	info := b.Info(ctx)
	if info.Mode != verifier.SourceOffline || info.BundleIssuedAt == nil || !info.BundleIssuedAt.Equal(b.Created()) {
		t.Errorf("Info = %+v", info)
	}
	if string(b.Policies()["default.json"]) != `{"name":"default"}` {
		t.Errorf("policies = %q", b.Policies())
	}
	if err := b.CheckAge(b.Created().Add(25*time.Hour), 24*time.Hour); !errors.Is(err, bundle.ErrStale) {
		t.Errorf("CheckAge of a 25 h old bundle: %v, want ErrStale", err)
	}
	if err := b.CheckAge(b.Created().Add(23*time.Hour), 24*time.Hour); err != nil {
		t.Errorf("CheckAge of a 23 h old bundle: %v", err)
	}
}

// A revocation reaches a counter through a delta, and the delta gives exactly the bundle a
// full export at the new sequence gives.
func TestDeltaEqualsFull(t *testing.T) {
	w := newWorld(t)
	iss := w.addIssuers(3, 100)
	pol := map[string][]byte{"a.json": []byte(`{"name":"a"}`)}
	old := w.full(w.exporter(pol))
	base, err := bundle.Open(old, w.pin(), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}

	w.advance(10 * time.Minute)
	w.revoke(iss[0], 7)
	w.rotate(iss[1])
	w.withdraw(iss[2], w.clock())
	w.addIssuers(1, 100)
	pol["b.json"] = []byte(`{"name":"b"}`)

	fullX, deltaX := w.exporter(pol), w.exporter(pol)
	full := w.full(fullX)
	delta, seq, err := deltaX.Delta(w.ctx, base.Seq())
	if err != nil {
		t.Fatal(err)
	}
	if seq <= base.Seq() {
		t.Fatalf("delta sequence %d, base %d", seq, base.Seq())
	}
	got, err := bundle.Apply(base, delta, w.pin(), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.File(), full) {
		t.Fatalf("applied delta (%d bytes) differs from the full export (%d bytes)", len(got.File()), len(full))
	}
	if len(delta) >= len(full) {
		t.Errorf("delta %d bytes, full %d bytes: the delta carries everything", len(delta), len(full))
	}
	// The result opens as a full bundle and sees the revocation.
	reopened, err := bundle.Open(got.File(), w.pin(), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := reopened.StatusList(w.ctx, iss[0].uri)
	l, _, err := statuslist.VerifyToken(string(tok), iss[0].key.Public(), iss[0].uri, reopened.Created(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Get(7); st != statuslist.Invalid {
		t.Errorf("entry 7 = %d after the delta, want revoked", st)
	}
	if len(reopened.Issuers()) != 4 {
		t.Errorf("issuers after the delta: %d, want 4", len(reopened.Issuers()))
	}

	// A delta from another sequence, or applied twice, does not apply.
	if _, err := bundle.Apply(got, delta, w.pin(), bundle.Options{}); !errors.Is(err, bundle.ErrSequence) {
		t.Errorf("delta applied twice: %v, want ErrSequence", err)
	}
	// An empty delta (nothing changed) moves only the creation time.
	w.advance(time.Minute)
	same, _, err := deltaX.Delta(w.ctx, got.Seq())
	if err != nil {
		t.Fatal(err)
	}
	again, err := bundle.Apply(got, same, w.pin(), bundle.Options{})
	if err != nil || again.Seq() != got.Seq() || !again.Created().After(got.Created()) {
		t.Errorf("empty delta: %v, seq %d→%d", err, got.Seq(), again.Seq())
	}
	if _, _, err := deltaX.Delta(w.ctx, got.Seq()+1000); !errors.Is(err, bundle.ErrSince) {
		t.Errorf("delta from the future: %v, want ErrSince", err)
	}
}

// A list that cannot be fetched (say, of an issuer whose accreditation was withdrawn and who
// can no longer re-sign it) is left out; the rest of the bundle is made.
func TestExportWithoutAnUnreachableList(t *testing.T) {
	w := newWorld(t)
	iss := w.addIssuers(2, 10)
	w.mu.Lock()
	delete(w.served, iss[1].uri)
	w.mu.Unlock()
	b, err := bundle.Open(w.full(w.exporter(nil)), w.pin(), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.StatusList(w.ctx, iss[0].uri); err != nil {
		t.Errorf("the reachable list: %v", err)
	}
	if _, err := b.StatusList(w.ctx, iss[1].uri); err == nil {
		t.Error("the unreachable list is in the bundle")
	}
	if len(b.Issuers()) != 2 {
		t.Errorf("issuers %v, want both", b.Issuers())
	}
}

// Forged, tampered and foreign bundles are refused, each with its own error.
func TestOpenRefuses(t *testing.T) {
	w := newWorld(t)
	w.addIssuers(1, 100)
	x := w.exporter(nil)
	good := w.full(x)
	payload := inflate(t, good[4+2+32+64:])
	delta, _, err := x.Delta(w.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	attacker := seedKey("attacker")

	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	for _, tc := range []struct {
		name string
		file []byte
		pin  bundle.Pin
		want error
	}{
		{"wrong pinned key", good, bundle.PinKey(bundle.PublicKey(attacker.Public().(ed25519.PublicKey))), bundle.ErrWrongKey},
		{"bad signature", flip(4 + 2 + 32 + 10), w.pin(), bundle.ErrSignature},
		{"tampered content", resealed(t, good, w.bundleKey, bytes.Replace(payload, []byte(`"seq":`), []byte(`"seq":1`), 1), false), w.pin(), bundle.ErrSignature},
		{"re-signed by another key", resealed(t, good, attacker, payload, true), w.pin(), bundle.ErrWrongKey},
		{"swapped key in the header", swapKey(good, attacker), w.pin(), bundle.ErrWrongKey},
		{"version 2", flip(4) /* 1 → 0 */, w.pin(), bundle.ErrVersion},
		{"not a bundle", []byte("hello"), w.pin(), bundle.ErrMalformed},
		{"truncated", good[:len(good)-5], w.pin(), bundle.ErrMalformed},
		{"a delta", delta, w.pin(), bundle.ErrMalformed},
		{"non-canonical payload, validly signed", resealed(t, good, w.bundleKey, append(bytes.Clone(payload), ' '), true), w.pin(), bundle.ErrMalformed},
		{"checkpoint of another size, validly signed", resealed(t, good, w.bundleKey, bytes.Replace(payload, []byte(`"seq":`), []byte(`"seq":1`), 1), true), w.pin(), bundle.ErrCheckpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Open(tc.file, tc.pin, bundle.Options{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("pinned ledger key differs", func(t *testing.T) {
		_, err := bundle.Open(good, w.pin(), bundle.Options{LedgerKey: "other+12345678+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
		if !errors.Is(err, bundle.ErrCheckpoint) {
			t.Fatalf("Open = %v, want ErrCheckpoint", err)
		}
	})
	t.Run("over the size limit", func(t *testing.T) {
		_, err := bundle.Open(good, w.pin(), bundle.Options{Limits: bundle.Limits{File: 100, Payload: 1 << 20, Issuers: 1, PerIssuer: 1, TokenBytes: 1 << 20, Policies: 1, PolicyBytes: 1}})
		if !errors.Is(err, bundle.ErrTooLarge) {
			t.Fatalf("Open = %v, want ErrTooLarge", err)
		}
	})
	t.Run("fingerprint pin", func(t *testing.T) {
		pin, err := bundle.ParsePin(bundle.PublicKey(w.bundleKey.Public().(ed25519.PublicKey)).Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Open(good, pin, bundle.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.ParsePin("ed25519:short"); !errors.Is(err, bundle.ErrMalformed) {
			t.Errorf("ParsePin of a bad key: %v", err)
		}
	})
}

func inflate(t testing.TB, b []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// resealed returns good with payload, signed by key when sign is set (else good's signature
// is kept), and key's public key in the header when sign is set.
func resealed(t testing.TB, good []byte, key ed25519.PrivateKey, payload []byte, sign bool) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(good[:6])
	if sign {
		b.Write(key.Public().(ed25519.PublicKey))
		msg := append(append([]byte("ezheng trust bundle v1\x00"), 'F'), payload...)
		b.Write(ed25519.Sign(key, msg))
	} else {
		b.Write(good[6 : 6+32+64])
	}
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write(payload)
	fw.Close()
	return b.Bytes()
}

func swapKey(good []byte, key ed25519.PrivateKey) []byte {
	b := bytes.Clone(good)
	copy(b[6:], key.Public().(ed25519.PublicKey))
	return b
}

var update = flag.Bool("update", false, "rewrite testdata/seed.ezb")

// TestSeedBundle keeps testdata/seed.ezb, the fuzz seed, a bundle that opens (go test
// -run TestSeedBundle -update rewrites it).
func TestSeedBundle(t *testing.T) {
	file := filepath.Join("testdata", "seed.ezb")
	deltaFile := filepath.Join("testdata", "seed-delta.ezb")
	if *update {
		w := newWorld(t)
		is := w.addIssuers(1, 16)
		x := w.exporter(map[string][]byte{"p.json": []byte("{}")})
		full := w.full(x)
		base, err := bundle.Open(full, w.pin(), bundle.Options{})
		if err != nil {
			t.Fatal(err)
		}
		w.advance(time.Minute)
		w.revoke(is[0], 3)
		w.rotate(is[0])
		delta, _, err := x.Delta(w.ctx, base.Seq())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, full, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(deltaFile, delta, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base, delta := readSeeds(t)
	if _, err := bundle.Apply(base, delta, seedPin(), bundle.Options{}); err != nil {
		t.Fatal(err)
	}
}

// readSeeds returns the opened seed bundle and the seed delta.
func readSeeds(t testing.TB) (*bundle.Bundle, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed.ezb"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := bundle.Open(b, seedPin(), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join("testdata", "seed-delta.ezb"))
	if err != nil {
		t.Fatal(err)
	}
	return base, d
}

// FuzzApply: no delta panics Apply, every refusal wraps a bundle error, and whatever applies
// gives the one bundle the signer signed.
func FuzzApply(f *testing.F) {
	base, delta := readSeeds(f)
	want, err := bundle.Apply(base, delta, seedPin(), bundle.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(delta)
	f.Add(delta[:headerLen])
	f.Add(base.File())
	pin := seedPin()
	f.Fuzz(func(t *testing.T, d []byte) {
		got, err := bundle.Apply(base, d, pin, bundle.Options{})
		if err != nil {
			if !isBundleError(err) && !errors.Is(err, bundle.ErrSequence) {
				t.Fatalf("error wraps no bundle error: %v", err)
			}
			return
		}
		if !bytes.Equal(got.File(), want.File()) {
			t.Fatalf("a different bundle came out of a delta: seq %d", got.Seq())
		}
	})
}

func seedPin() bundle.Pin {
	return bundle.PinKey(bundle.PublicKey(seedKey("bundle").Public().(ed25519.PublicKey)))
}

// FuzzOpen: no input panics Open, every refusal wraps a bundle error, and whatever opens
// carries the signed payload of the seed (nobody but the signer can make another).
func FuzzOpen(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "seed.ezb"))
	if err != nil {
		f.Fatal(err)
	}
	want, err := bundle.Open(good, seedPin(), bundle.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:headerLen])
	f.Add(append(bytes.Clone(good[:headerLen]), 0x01, 0x00, 0x00, 0xff, 0xff))
	f.Add([]byte("EZTB\x01F"))
	pin := seedPin()
	f.Fuzz(func(t *testing.T, file []byte) {
		b, err := bundle.Open(file, pin, bundle.Options{Limits: bundle.Limits{File: 1 << 20, Payload: 4 << 20, Issuers: 10, PerIssuer: 10, TokenBytes: 1 << 16, Policies: 4, PolicyBytes: 1 << 10}})
		if err != nil {
			if !isBundleError(err) {
				t.Fatalf("error wraps no bundle error: %v", err)
			}
			return
		}
		if b.Seq() != want.Seq() || b.Created() != want.Created() || strings.Join(b.Issuers(), ",") != strings.Join(want.Issuers(), ",") {
			t.Fatalf("a different bundle opened: seq %d", b.Seq())
		}
	})
}

const headerLen = 4 + 2 + 32 + 64

func isBundleError(err error) bool {
	for _, e := range []error{bundle.ErrMalformed, bundle.ErrVersion, bundle.ErrTooLarge, bundle.ErrWrongKey, bundle.ErrSignature, bundle.ErrCheckpoint} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
