package wallet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// checkerFunc is a CredentialChecker from a function: the verifier stands behind the
// interface in production (internal/server).
type checkerFunc func(ctx context.Context, raw string) ([]CheckOutcome, error)

func (f checkerFunc) CheckCredential(ctx context.Context, raw string) ([]CheckOutcome, error) {
	return f(ctx, raw)
}

func outcomes(failed map[string]string, skipped ...string) []CheckOutcome {
	var out []CheckOutcome
	for _, n := range []string{"syntax", "signature", "holder_binding", "validity", "status", "accreditation", "anchor", "schema", "policy"} {
		switch r, bad := failed[n]; {
		case bad:
			out = append(out, CheckOutcome{Name: n, Reason: r})
		case slices.Contains(skipped, n):
			out = append(out, CheckOutcome{Name: n, Skipped: true, Reason: "not run"})
		default:
			out = append(out, CheckOutcome{Name: n, OK: true})
		}
	}
	return out
}

// TestCheckTrust: which checker outcomes let a credential in, and what the refusal names.
func TestCheckTrust(t *testing.T) {
	t.Parallel()
	fault := errors.New("ledger down")
	tests := []struct {
		name    string
		got     []CheckOutcome
		err     error
		refused []string // failed checks named; nil: accepted
		fault   bool
	}{
		{name: "all pass", got: outcomes(nil)},
		{name: "what a holder need not prove may fail or be skipped",
			got: outcomes(map[string]string{"schema": "no JSON Schema known", "policy": "x"}, "holder_binding", "anchor")},
		{name: "bad signature; later checks skipped", got: outcomes(map[string]string{"signature": "bad"}, "validity", "status", "accreditation"),
			refused: []string{"signature"}},
		{name: "revoked and unaccredited", got: outcomes(map[string]string{"status": "revoked", "accreditation": "not accredited"}),
			refused: []string{"status", "accreditation"}},
		{name: "a required check skipped, none failed", got: outcomes(nil, "status"), refused: []string{"status"}},
		{name: "a required check missing", got: outcomes(nil)[:4], refused: []string{"status", "accreditation"}},
		{name: "fault", err: fault, fault: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Service{checker: checkerFunc(func(context.Context, string) ([]CheckOutcome, error) { return tt.got, tt.err })}
			err := s.checkTrust(context.Background(), "x~")
			var nt *NotTrustedError
			switch {
			case tt.fault:
				if !errors.Is(err, fault) || errors.Is(err, ErrNotTrusted) {
					t.Fatalf("err = %v, want the fault", err)
				}
			case tt.refused == nil:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case !errors.As(err, &nt):
				t.Fatalf("err = %v, want *NotTrustedError", err)
			default:
				if !slices.Equal(nt.FailedChecks(), tt.refused) {
					t.Errorf("failed checks %q, want %q", nt.FailedChecks(), tt.refused)
				}
				if !errors.Is(err, ErrNotTrusted) || !errors.Is(err, ErrInvalidCredential) {
					t.Errorf("%v matches neither ErrNotTrusted nor ErrInvalidCredential", err)
				}
				for _, n := range tt.refused {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("%q does not name %s", err, n)
					}
				}
			}
		})
	}
}
