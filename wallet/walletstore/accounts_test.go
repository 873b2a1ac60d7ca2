package walletstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ezheng/ezheng/wallet"
	"github.com/ezheng/ezheng/wallet/walletstore"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func open(t *testing.T, file string) *walletstore.Store {
	t.Helper()
	s, err := walletstore.Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRememberJTI: a jti key is refused while it lives, also after a restart, and forgotten
// once expired.
func TestRememberJTI(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "wallet.db")
	s := open(t, file)
	key := []byte("jkt|jti")
	if fresh, err := s.RememberJTI(ctx, key, t0.Add(time.Minute), t0); err != nil || !fresh {
		t.Fatalf("first: %v %v", fresh, err)
	}
	if fresh, _ := s.RememberJTI(ctx, key, t0.Add(time.Minute), t0.Add(time.Second)); fresh {
		t.Fatal("replay accepted")
	}
	s.Close()
	s = open(t, file)
	if fresh, _ := s.RememberJTI(ctx, key, t0.Add(time.Minute), t0.Add(2*time.Second)); fresh {
		t.Fatal("replay accepted after a restart")
	}
	if fresh, err := s.RememberJTI(ctx, key, t0.Add(3*time.Minute), t0.Add(2*time.Minute)); err != nil || !fresh {
		t.Fatalf("after expiry: %v %v", fresh, err)
	}
}

// TestUseCode: single use, expiry, attempt limit.
func TestUseCode(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "wallet.db"))
	phone, right, wrong := []byte("phone"), []byte("right"), []byte("wrong")
	put := func(at time.Time) error {
		return s.PutCode(ctx, wallet.EnrolmentCode{PhoneHash: phone, CodeHash: right, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}, at.Add(-30*time.Second))
	}
	if err := put(t0); err != nil {
		t.Fatal(err)
	}
	if err := put(t0.Add(10 * time.Second)); !errors.Is(err, wallet.ErrCodeTooSoon) {
		t.Fatalf("second code at once: %v", err)
	}
	steps := []struct {
		name string
		code []byte
		at   time.Time
		want error
	}{
		{"wrong", wrong, t0, wallet.ErrCodeInvalid},
		{"right", right, t0, nil},
		{"right again (used)", right, t0, wallet.ErrCodeInvalid},
	}
	for _, st := range steps {
		if err := s.UseCode(ctx, phone, st.code, st.at, 3); !errors.Is(err, st.want) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	if err := put(t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseCode(ctx, phone, right, t0.Add(7*time.Minute), 3); !errors.Is(err, wallet.ErrCodeExpired) {
		t.Fatalf("expired: %v", err)
	}
	if err := put(t0.Add(8 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{wallet.ErrCodeInvalid, wallet.ErrCodeInvalid, wallet.ErrCodeAttempts, wallet.ErrCodeAttempts} {
		if err := s.UseCode(ctx, phone, wrong, t0.Add(8*time.Minute), 3); !errors.Is(err, want) {
			t.Fatalf("wrong try %d: %v, want %v", i+1, err, want)
		}
	}
	if err := s.UseCode(ctx, phone, right, t0.Add(8*time.Minute), 3); !errors.Is(err, wallet.ErrCodeAttempts) {
		t.Fatalf("right code after the limit: %v", err)
	}
}
