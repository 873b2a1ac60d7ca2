package oid4vci

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewTxCode(t *testing.T) {
	t.Parallel()
	// 250..255 are rejected, so the first six accepted bytes give 0 1 2 3 4 9.
	rnd := bytes.NewReader([]byte{250, 0, 11, 255, 22, 33, 44, 249, 0, 0, 0, 0})
	code, spec, err := NewTxCode(6, rnd)
	if err != nil {
		t.Fatal(err)
	}
	if code != "012349" || spec != (TxCode{InputMode: TxCodeNumeric, Length: 6}) {
		t.Errorf("NewTxCode = %q, %+v", code, spec)
	}
	code, spec, err = NewTxCode(0, nil)
	if err != nil || len(code) != DefaultTxCodeLength || spec.Length != DefaultTxCodeLength || strings.Trim(code, "0123456789") != "" {
		t.Errorf("default NewTxCode = %q, %+v, %v", code, spec, err)
	}
	for _, n := range []int{-1, 3, 13} {
		if _, _, err := NewTxCode(n, nil); err == nil {
			t.Errorf("length %d accepted", n)
		}
	}
	if _, _, err := NewTxCode(6, iotest.ErrReader(io.ErrUnexpectedEOF)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reader error: %v", err)
	}
}

func TestCheckTxCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		want, got string
		ok        bool
	}{
		{"493536", "493536", true},
		{"493536", "493537", false},
		{"493536", "49353", false},
		{"493536", "", false},
		{"", "", false},
	} {
		if got := CheckTxCode(tt.want, tt.got); got != tt.ok {
			t.Errorf("CheckTxCode(%q, %q) = %v", tt.want, tt.got, got)
		}
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	s, err := NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 16 {
		t.Errorf("NewSecret = %q (%d bytes), %v", s, len(b), err)
	}
	s2, _ := NewSecret(nil)
	if s == s2 {
		t.Error("two secrets are equal")
	}
	if _, err := NewSecret(iotest.ErrReader(io.ErrUnexpectedEOF)); err == nil {
		t.Error("reader error ignored")
	}
}

func TestTokenRequestCheckTxCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		want, got string
		err       error
	}{
		{"", "", nil},
		{"", "1234", ErrMalformed},
		{"1234", "", ErrMalformed},
		{"1234", "1235", ErrInvalidGrant},
		{"1234", "1234", nil},
	} {
		r := &TokenRequest{GrantType: GrantTypePreAuthorizedCode, PreAuthorizedCode: "c", TxCode: tt.got}
		if err := r.CheckTxCode(tt.want); !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("CheckTxCode(%q) with %q = %v, want %v", tt.want, tt.got, err, tt.err)
		}
	}
}
