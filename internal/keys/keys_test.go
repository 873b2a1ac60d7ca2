package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealKeyRoundTrip(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(master, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []Alg{EdDSA, ES256} {
		t.Run(string(alg), func(t *testing.T) {
			k, err := Generate(alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := s.SealKey(k, []byte("row-1"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.OpenKey(sealed, []byte("row-1"))
			if err != nil {
				t.Fatal(err)
			}
			if jwk := got.PublicJWK(); got.Alg() != alg || !jwk.Valid() || string(got.Thumbprint()) != string(k.Thumbprint()) {
				t.Fatal("opened key differs")
			}
			if _, err := s.OpenKey(sealed, []byte("row-2")); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("other aad: err = %v, want ErrDecrypt", err)
			}
			sealed[len(sealed)-1] ^= 1
			if _, err := s.OpenKey(sealed, []byte("row-1")); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("tampered: err = %v, want ErrDecrypt", err)
			}
		})
	}
	other, _ := NewSealer(master, "other-purpose")
	k, _ := Generate(EdDSA, nil)
	sealed, _ := s.SealKey(k, nil)
	if _, err := other.OpenKey(sealed, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("other purpose opened the key: %v", err)
	}
	if _, err := s.Open([]byte("short"), nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("short input: %v", err)
	}
}

func TestKeyNeverPrintsPrivatePart(t *testing.T) {
	k, _ := Generate(EdDSA, nil)
	priv := k.Signer().(ed25519.PrivateKey)
	secret := base64.StdEncoding.EncodeToString(priv.Seed())
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("k", "key", k)
	outs := []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x", k, k, k, k, k), logs.String()}
	for _, o := range outs {
		if !strings.Contains(o, "REDACTED") || strings.Contains(o, secret) || strings.Contains(o, fmt.Sprintf("%x", priv.Seed()[:8])) {
			t.Fatalf("key output leaks or is not redacted: %s", o)
		}
	}
	if _, err := k.MarshalJSON(); err == nil {
		t.Fatal("MarshalJSON of a private key succeeded")
	}
}

func TestLoadMaster(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sub", "master.key")
	k1, err := LoadMaster("", file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode(), err)
	}
	k2, err := LoadMaster("", file)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load differs: %v", err)
	}
	env := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k3, err := LoadMaster(env, file)
	if err != nil || !bytes.Equal(k3, bytes.Repeat([]byte{1}, 32)) {
		t.Fatalf("value not used: %v", err)
	}
	for _, bad := range []string{"short", base64.StdEncoding.EncodeToString(make([]byte, 16)), "!!!!"} {
		if _, err := LoadMaster(bad, file); !errors.Is(err, ErrMasterKey) {
			t.Errorf("LoadMaster(%q) err = %v, want ErrMasterKey", bad, err)
		}
	}
}
