package issuer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/issuer"
)

// accredit has the root authority accredit a on the ledger for its types, from an hour ago
// for two hours.
func accredit(t *testing.T, svc *issuer.Service, a issuer.Agency) {
	t.Helper()
	ctx := context.Background()
	root, err := svc.RootAuthority(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var vcts []string
	for _, name := range a.Types {
		typ, err := issuer.LookupType(name)
		if err != nil {
			t.Fatal(err)
		}
		vcts = append(vcts, typ.VCT)
	}
	if err := svc.Accredit(ctx, root, a.DID, vcts, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestIssueNeedsLedgerAccreditation: the agency's local types list is not enough; Issue
// refuses a type the ledger does not accredit it for now (never accredited, withdrawn), and
// AddAgency and Withdraw are the root authority's alone.
func TestIssueNeedsLedgerAccreditation(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Transport", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	holder, _ := keys.Generate(keys.ES256, nil)
	holderDID, _, _ := did.NewJWK(holder.Public())
	issue := func() error {
		_, _, err := svc.Issue(ctx, a, issuer.IssueRequest{Type: "DrivingLicence", Holder: holderDID, Claims: demo.DrivingLicenceClaims})
		return err
	}
	if err := issue(); !errors.Is(err, issuer.ErrTypeNotAllowed) {
		t.Fatalf("unaccredited issue: %v, want ErrTypeNotAllowed", err)
	}
	accredit(t, svc, a)
	if err := issue(); err != nil {
		t.Fatalf("accredited issue: %v", err)
	}
	if err := svc.Withdraw(ctx, a, a.DID, []string{"x"}, time.Now()); !errors.Is(err, issuer.ErrNotRootAuthority) {
		t.Fatalf("withdraw by a non-root agency: %v, want ErrNotRootAuthority", err)
	}
	if _, _, err := svc.AddAgency(ctx, a, issuer.NewAgencyRequest{Name: "X", Types: []string{"HealthCode"}}); !errors.Is(err, issuer.ErrNotRootAuthority) {
		t.Fatalf("AddAgency by a non-root agency: %v, want ErrNotRootAuthority", err)
	}
	root, _ := svc.RootAuthority(ctx)
	dl, _ := issuer.LookupType("DrivingLicence")
	if err := svc.Withdraw(ctx, root, a.DID, []string{dl.VCT}, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := issue(); !errors.Is(err, issuer.ErrTypeNotAllowed) {
		t.Fatalf("issue after withdrawal: %v, want ErrTypeNotAllowed", err)
	}
}
