package walletstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

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
