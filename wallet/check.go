package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotTrusted is matched (errors.Is) by a *NotTrustedError: a credential that did not pass
// the checks the wallet makes before it keeps one.
var ErrNotTrusted = errors.New("credential not trusted")

// CredentialChecker verifies an issued credential the way a verifier does, for the wallet to
// decide whether to keep it. Implementation: the verifier service, wired in by the server
// (internal/server), or its HTTP API when the wallet runs on its own.
type CredentialChecker interface {
	// CheckCredential runs the named checks on raw, an issued credential (an SD-JWT VC
	// without key binding), and reports every check it ran, in order: at least "syntax",
	// "signature" (the issuer's key as its DID document listed it at issuance), "validity",
	// "status" (not revoked or suspended) and "accreditation" (the issuer accredited on the
	// ledger for the type at issuance). A credential that fails a check is a result, not an
	// error. Errors are faults (a ledger or status list that cannot be reached) or wrap
	// ErrInvalidCredential for input that is in no credential format; callers MUST NOT keep
	// raw when an error is returned.
	CheckCredential(ctx context.Context, raw string) ([]CheckOutcome, error)
}

// CheckOutcome is the outcome of one named check of a CredentialChecker.
type CheckOutcome struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// ReceiveChecks are the checks a credential must pass before the wallet keeps it. The
// others a checker reports are not the holder's business when receiving: holder binding is
// checked by the wallet itself against the citizen's keys (a credential shown alone carries
// no proof of possession), the anchor receipt comes later (anchoring is batched; see
// anchor.go), and schema and policy are what a verifier demands of a presentation (a
// foreign issuer's type has no schema here).
var ReceiveChecks = []string{"syntax", "signature", "validity", "status", "accreditation"}

// NotTrustedError reports the checks a received credential failed. It matches ErrNotTrusted
// and, for callers that only ask whether a credential was rejected, ErrInvalidCredential.
type NotTrustedError struct {
	// Failed lists the failed checks of ReceiveChecks, in order, each with its reason; when
	// none failed but some were not run (skipped), those.
	Failed []CheckOutcome
}

// Error names every failed check with its reason; it is safe to show to the citizen.
func (e *NotTrustedError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, c := range e.Failed {
		p := c.Name
		if c.Reason != "" {
			p += " (" + c.Reason + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%v: failed checks: %s", ErrNotTrusted, strings.Join(parts, "; "))
}

// Is reports whether target is ErrNotTrusted or ErrInvalidCredential.
func (e *NotTrustedError) Is(target error) bool {
	return target == ErrNotTrusted || target == ErrInvalidCredential
}

// FailedChecks returns the names of the failed checks.
func (e *NotTrustedError) FailedChecks() []string {
	names := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		names[i] = c.Name
	}
	return names
}

// checkTrust asks the checker about raw and returns a *NotTrustedError unless every one of
// ReceiveChecks passed. It is the one place the receive path (Receive, and through it
// RedeemOffer and CollectPending) consults the checker.
func (s *Service) checkTrust(ctx context.Context, raw string) error {
	got, err := s.checker.CheckCredential(ctx, raw)
	if err != nil {
		return fmt.Errorf("check credential: %w", err)
	}
	byName := make(map[string]CheckOutcome, len(got))
	for _, c := range got {
		byName[c.Name] = c
	}
	// Failed checks are reported; checks that were not run only when nothing failed (a check
	// skipped because an earlier one failed adds nothing to that one's reason).
	var failed, notRun []CheckOutcome
	for _, name := range ReceiveChecks {
		c, ok := byName[name]
		switch {
		case !ok:
			notRun = append(notRun, CheckOutcome{Name: name, Skipped: true, Reason: "not reported by the checker"})
		case c.Skipped:
			notRun = append(notRun, c)
		case !c.OK:
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		failed = notRun
	}
	if len(failed) > 0 {
		return &NotTrustedError{Failed: failed}
	}
	return nil
}
