package issuer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did/ledger"
)

// AuditIssuerAccredit is the audit action of the root authority accrediting an issuer that is
// not one of its agencies (AccreditIssuer).
const AuditIssuerAccredit = "issuer.accredit"

// AccreditIssuer has the root authority accredit an issuer by its DID for credential types
// given by vct, from now for days days (DefaultAccreditationDays when zero): an organisation
// that runs its own OpenID4VCI issuer, identified by a did:key, did:jwk or did:web
// (ledger.ExternalIssuer) or a did:ez it registered on the ledger itself. Wallets and
// verifiers then accept its credentials of those types. Agencies of this issuer are
// accredited with AccreditTypes. Errors: ErrNotRootAuthority, ErrInvalidRequest (a DID of
// another method, no or repeated types, days out of range), ErrLedgerRejected (a did:ez not
// on the ledger, say).
func (s *Service) AccreditIssuer(ctx context.Context, root Agency, issuerDID string, vcts []string, days int) error {
	if !root.Root {
		return ErrNotRootAuthority
	}
	if _, err := ledger.ParseDID(issuerDID); err != nil && !ledger.ExternalIssuer(issuerDID) {
		return fmt.Errorf("%w: issuer must be a did:ez, did:key, did:jwk or did:web", ErrInvalidRequest)
	}
	switch {
	case len(vcts) == 0:
		return fmt.Errorf("%w: types is empty", ErrInvalidRequest)
	case len(vcts) > 32:
		return fmt.Errorf("%w: at most 32 types", ErrInvalidRequest)
	case days < 0 || days > MaxAccreditationDays:
		return fmt.Errorf("%w: valid_days must be between 1 and %d", ErrInvalidRequest, MaxAccreditationDays)
	case days == 0:
		days = DefaultAccreditationDays
	}
	for i, v := range vcts {
		if strings.TrimSpace(v) == "" || len(v) > 256 {
			return fmt.Errorf("%w: a type (vct) is empty or longer than 256 bytes", ErrInvalidRequest)
		}
		if slices.Contains(vcts[:i], v) {
			return fmt.Errorf("%w: type %s listed twice", ErrInvalidRequest, v)
		}
	}
	from := s.now().UTC().Truncate(time.Second).Add(-accreditationSkew)
	if err := s.Accredit(ctx, root, issuerDID, vcts, from, from.Add(accreditationSkew).AddDate(0, 0, days)); err != nil {
		return fmt.Errorf("accredit %s: %w", issuerDID, err)
	}
	s.audit(ctx, s.auditEntry(root, AuditIssuerAccredit, issuerDID, "", map[string]string{"types": strings.Join(vcts, ","), "days": fmt.Sprint(days)}))
	s.log.InfoContext(ctx, "issuer accredited", "issuer", issuerDID, "types", vcts, "days", days)
	return nil
}
