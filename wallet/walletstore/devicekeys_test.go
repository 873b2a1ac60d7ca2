package walletstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/wallet"
	"github.com/ezheng/ezheng/wallet/walletstore"
)

// account stores a citizen id with one device whose thumbprint is jkt.
func account(t *testing.T, s *walletstore.Store, id, jkt string) wallet.Device {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := wallet.Device{ID: "dev_" + id, Name: "phone", Thumbprint: jkt, Alg: "ES256", Key: jose.JSONWebKey{Key: k.Public(), Algorithm: "ES256"}, CreatedAt: t0}
	a := wallet.NewAccount{Citizen: wallet.Citizen{ID: id, Name: id, HolderDID: "did:jwk:" + id, HolderKID: "did:jwk:" + id + "#0", CreatedAt: t0},
		PhoneHash: []byte(id), SealedKey: []byte("k"), SealedDataKey: []byte("dk"), SealedProfile: []byte("p")}
	if err := s.CreateAccount(context.Background(), a, d, []byte("token-"+id)); err != nil {
		t.Fatal(err)
	}
	return d
}

func holderKey(id, jkt, device string) wallet.HolderKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return wallet.HolderKey{ID: id, DID: "did:jwk:" + id, KID: "did:jwk:" + id + "#0", Thumbprint: jkt, Alg: "ES256",
		Key: jose.JSONWebKey{Key: k.Public(), Algorithm: "ES256"}, DeviceID: device, CreatedAt: t0}
}

// TestHolderKeys: a key is stored once per citizen, refused to another citizen and when it is
// a device key; lookups are per citizen.
func TestHolderKeys(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "wallet.db"))
	da := account(t, s, "cit_a", "jkt-device-a")
	account(t, s, "cit_b", "jkt-device-b")

	k := holderKey("hk_1", "jkt-holder-1", da.ID)
	got, created, err := s.AddHolderKey(ctx, "cit_a", k)
	if err != nil || !created || got.ID != "hk_1" {
		t.Fatalf("add: %+v %v %v", got, created, err)
	}
	again := holderKey("hk_2", "jkt-holder-1", da.ID)
	if got, created, err := s.AddHolderKey(ctx, "cit_a", again); err != nil || created || got.ID != "hk_1" || got.KID != "did:jwk:hk_1#0" || got.DeviceID != da.ID {
		t.Errorf("add again: %+v %v %v", got, created, err)
	}
	if _, _, err := s.AddHolderKey(ctx, "cit_b", again); !errors.Is(err, wallet.ErrHolderKeyInUse) {
		t.Errorf("another citizen: %v", err)
	}
	if _, _, err := s.AddHolderKey(ctx, "cit_a", holderKey("hk_3", "jkt-device-b", "")); !errors.Is(err, wallet.ErrHolderKeyIsDeviceKey) {
		t.Errorf("a device key: %v", err)
	}
	if list, err := s.HolderKeys(ctx, "cit_a"); err != nil || len(list) != 1 || !list[0].Key.IsPublic() {
		t.Errorf("list: %+v %v", list, err)
	}
	if _, err := s.HolderKeyByThumbprint(ctx, "cit_b", "jkt-holder-1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("another citizen's by thumbprint: %v", err)
	}
	if _, err := s.HolderKeyByID(ctx, "cit_b", "hk_1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("another citizen's by id: %v", err)
	}
	// Removing the device keeps the holder key (its credentials stay).
	if err := s.DeleteDevice(ctx, "cit_a", da.ID); err != nil {
		t.Fatal(err)
	}
	if k, err := s.HolderKeyByID(ctx, "cit_a", "hk_1"); err != nil || k.DeviceID != "" {
		t.Errorf("after removing its device: %+v %v", k, err)
	}
}

// TestSigningIsSingleUse: a signing request outlives a restart, is the citizen's only, used
// once, its secrets dropped when used, and forgotten an hour after it expired; removing its
// device removes it.
func TestSigningIsSingleUse(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "wallet.db")
	s := open(t, file)
	da := account(t, s, "cit_a", "jkt-device-a")
	account(t, s, "cit_b", "jkt-device-b")
	if _, _, err := s.AddHolderKey(ctx, "cit_a", holderKey("hk_1", "jkt-holder-1", da.ID)); err != nil {
		t.Fatal(err)
	}
	save := func(id string, at time.Time) {
		t.Helper()
		p := wallet.DeviceSigning{ID: id, CitizenID: "cit_a", DeviceID: da.ID, HolderKeyID: "hk_1", Kind: wallet.SigningPresentation,
			CredentialID: "wc_1", CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
		if err := s.SaveSigning(ctx, p, []byte("sealed")); err != nil {
			t.Fatal(err)
		}
	}
	save("ds_1", t0)
	s.Close()
	s = open(t, file)
	p, sealed, err := s.Signing(ctx, "cit_a", "ds_1")
	if err != nil || p.Used || string(sealed) != "sealed" || p.Kind != wallet.SigningPresentation || !p.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("signing: %+v %q %v", p, sealed, err)
	}
	if _, _, err := s.Signing(ctx, "cit_b", "ds_1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("another citizen reads it: %v", err)
	}
	if err := s.UseSigning(ctx, "cit_b", "ds_1", t0); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("another citizen uses it: %v", err)
	}
	if err := s.UseSigning(ctx, "cit_a", "ds_1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.UseSigning(ctx, "cit_a", "ds_1", t0); !errors.Is(err, wallet.ErrSigningUsed) {
		t.Errorf("used twice: %v", err)
	}
	if p, sealed, _ := s.Signing(ctx, "cit_a", "ds_1"); !p.Used || len(sealed) != 0 {
		t.Errorf("after use: used %v, %d sealed bytes kept", p.Used, len(sealed))
	}
	// A request saved more than an hour after ds_1 expired forgets it.
	save("ds_2", t0.Add(time.Minute+time.Hour+time.Second))
	if _, _, err := s.Signing(ctx, "cit_a", "ds_1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("long expired: %v", err)
	}
	if err := s.DeleteDevice(ctx, "cit_a", da.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Signing(ctx, "cit_a", "ds_2"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("after removing its device: %v", err)
	}
}

// TestDeleteHolderKey: only the citizen's own key is deleted, with its signing requests.
func TestDeleteHolderKey(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "wallet.db"))
	da := account(t, s, "cit_a", "jkt-device-a")
	account(t, s, "cit_b", "jkt-device-b")
	if _, _, err := s.AddHolderKey(ctx, "cit_a", holderKey("hk_1", "jkt-holder-1", da.ID)); err != nil {
		t.Fatal(err)
	}
	p := wallet.DeviceSigning{ID: "ds_1", CitizenID: "cit_a", DeviceID: da.ID, HolderKeyID: "hk_1", Kind: wallet.SigningReceipt, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := s.SaveSigning(ctx, p, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteHolderKey(ctx, "cit_b", "hk_1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("another citizen: %v", err)
	}
	if err := s.DeleteHolderKey(ctx, "cit_a", "hk_1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Signing(ctx, "cit_a", "ds_1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("its signing request: %v", err)
	}
	if err := s.DeleteHolderKey(ctx, "cit_a", "hk_1"); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("twice: %v", err)
	}
}

// TestShareSigningsMigration: migration 0040 rebuilds device_signings to take the kind
// 'share'; requests stored before it survive, unknown kinds are still refused, and erasing a
// citizen still deletes theirs (the trigger was made again).
func TestShareSigningsMigration(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "wallet.db")
	// A wallet from before 0040, with one pending counter presentation.
	before := fstest.MapFS{}
	all, err := fs.Glob(os.DirFS("migrations"), "*.sql")
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	for _, name := range all {
		if name >= "0040" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: b}
	}
	db, err := sqlitedb.Open(ctx, file, before)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO citizens(id, name, holder_did, holder_kid, sealed_key, created_at) VALUES ('cit_a', 'a', 'did:a', 'did:a#0', x'00', 0)`,
		`INSERT INTO devices(id, citizen_id, name, jkt, jwk, alg, created_at) VALUES ('dev_a', 'cit_a', 'phone', 'jkt-a', '{}', 'ES256', 0)`,
		`INSERT INTO device_holder_keys(id, citizen_id, device_id, jkt, jwk, alg, did, created_at) VALUES ('hk_1', 'cit_a', 'dev_a', 'jkt-h', '{}', 'ES256', 'did:jwk:x', 0)`,
		`INSERT INTO device_signings(id, citizen_id, device_id, holder_key_id, kind, credential_id, sealed, created_at, expires_at)
			VALUES ('ds_old', 'cit_a', 'dev_a', 'hk_1', 'presentation', 'wc_1', x'01', 0, 60)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO device_signings(id, citizen_id, device_id, holder_key_id, kind, credential_id, sealed, created_at, expires_at)
		VALUES ('ds_x', 'cit_a', 'dev_a', 'hk_1', 'share', '', x'01', 0, 60)`); err == nil {
		t.Fatal("a share signing request was stored before migration 0040")
	}
	db.Close()

	s := open(t, file)
	if p, sealed, err := s.Signing(ctx, "cit_a", "ds_old"); err != nil || p.Kind != wallet.SigningPresentation || p.CredentialID != "wc_1" || len(sealed) != 1 {
		t.Fatalf("request from before the migration: %+v %v", p, err)
	}
	share := wallet.DeviceSigning{ID: "ds_share", CitizenID: "cit_a", DeviceID: "dev_a", HolderKeyID: "hk_1", Kind: wallet.SigningShare, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := s.SaveSigning(ctx, share, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if p, _, err := s.Signing(ctx, "cit_a", "ds_share"); err != nil || p.Kind != wallet.SigningShare {
		t.Fatalf("share request: %+v %v", p, err)
	}
	share.ID, share.Kind = "ds_bad", "anything"
	if err := s.SaveSigning(ctx, share, []byte("sealed")); err == nil {
		t.Error("a signing request of an unknown kind was stored")
	}
	if _, err := s.EraseCitizen(ctx, "cit_a", wallet.AuditRecord{Subject: "x", At: t0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ds_old", "ds_share"} {
		if _, _, err := s.Signing(ctx, "cit_a", id); !errors.Is(err, wallet.ErrNotFound) {
			t.Errorf("%s after erasure: %v", id, err)
		}
	}
}
