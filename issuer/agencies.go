package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// Errors of agency administration.
var (
	// ErrNotRootAuthority means an agency other than the root authority tried to administer
	// agencies or accreditations.
	ErrNotRootAuthority = fmt.Errorf("%w: only the root authority administers agencies", problem.ErrForbidden)
	// ErrAgencyExists means an agency of that name exists already.
	ErrAgencyExists = fmt.Errorf("%w: an agency of that name exists", problem.ErrConflict)
)

// Bounds of AddAgency's input.
const (
	// DefaultAccreditationDays is how long AddAgency accredits a new agency when the request
	// names no period.
	DefaultAccreditationDays = 365
	// MaxAccreditationDays bounds NewAgencyRequest.ValidDays (about ten years).
	MaxAccreditationDays = 3653
	// MaxAgencyNameLen bounds an agency's name, in bytes.
	MaxAgencyNameLen = 200
	// accreditationSkew backdates a new accreditation: the ledger's clock may trail ours.
	accreditationSkew = time.Minute
)

// NewAgencyRequest asks the root authority to add an agency.
type NewAgencyRequest struct {
	Name      string   // unique, at most MaxAgencyNameLen bytes
	Types     []string // credential type names (see LookupType); at least one
	ValidDays int      // accreditation period in days; DefaultAccreditationDays when zero
}

// AgencyInfo is an agency as the root authority's listing shows it: its record and the types
// the ledger accredits it for now.
type AgencyInfo struct {
	Agency
	// Accredited lists the type names of Types that the ledger accredits the agency for at
	// the time of the listing (none for the root authority, which accredits).
	Accredited []string `json:"accredited"`
}

// AgencyDirectory is the optional ability of a Store to list every agency. Implementations:
// issuerstore.
type AgencyDirectory interface {
	// ListAgencies returns every agency, the root authority included, oldest first.
	ListAgencies(ctx context.Context) ([]Agency, error)
}

// AddAgency has the root authority add an agency: it creates the agency's did:ez on the ledger
// (CreateAgency), accredits it on the ledger for the vct of each of req.Types from now for
// req.ValidDays days (Accredit, signed by root), and mints the agency's first API token, which
// the caller must hand over once and never log. Errors: ErrNotRootAuthority unless root is
// the root authority, ErrInvalidRequest (empty, overlong or duplicate input), ErrUnknownType,
// ErrAgencyExists, ErrLedgerRejected. If the accreditation fails the agency is removed again
// (its DID stays on the ledger, unaccredited and unused).
func (s *Service) AddAgency(ctx context.Context, root Agency, req NewAgencyRequest) (Agency, string, error) {
	if !root.Root {
		return Agency{}, "", ErrNotRootAuthority
	}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		return Agency{}, "", fmt.Errorf("%w: name is empty", ErrInvalidRequest)
	case len(name) > MaxAgencyNameLen:
		return Agency{}, "", fmt.Errorf("%w: name longer than %d bytes", ErrInvalidRequest, MaxAgencyNameLen)
	case len(req.Types) == 0:
		return Agency{}, "", fmt.Errorf("%w: types is empty", ErrInvalidRequest)
	case req.ValidDays < 0 || req.ValidDays > MaxAccreditationDays:
		return Agency{}, "", fmt.Errorf("%w: valid_days must be between 1 and %d", ErrInvalidRequest, MaxAccreditationDays)
	}
	days := req.ValidDays
	if days == 0 {
		days = DefaultAccreditationDays
	}
	vcts := make([]string, 0, len(req.Types))
	for i, name := range req.Types {
		t, err := LookupType(name)
		if err != nil {
			return Agency{}, "", err
		}
		if slices.Contains(req.Types[:i], name) {
			return Agency{}, "", fmt.Errorf("%w: type %s listed twice", ErrInvalidRequest, name)
		}
		vcts = append(vcts, t.VCT)
	}
	if _, err := s.store.AgencyByName(ctx, name); err == nil {
		return Agency{}, "", fmt.Errorf("%w: %q", ErrAgencyExists, name)
	} else if !errors.Is(err, ErrNotFound) {
		return Agency{}, "", err
	}
	a, err := s.CreateAgency(ctx, name, slices.Clone(req.Types))
	if err != nil {
		if errors.Is(err, ErrInvalidRequest) { // a concurrent request took the name
			if _, e := s.store.AgencyByName(ctx, name); e == nil {
				return Agency{}, "", fmt.Errorf("%w: %q", ErrAgencyExists, name)
			}
		}
		return Agency{}, "", err
	}
	from := s.now().UTC().Truncate(time.Second).Add(-accreditationSkew)
	if err := s.Accredit(ctx, root, a.DID, vcts, from, from.Add(accreditationSkew).AddDate(0, 0, days)); err != nil {
		if derr := s.store.DeleteAgency(ctx, a.ID); derr != nil {
			s.log.ErrorContext(ctx, "unaccredited agency left behind", "agency", a.ID, "err", derr)
		}
		return Agency{}, "", fmt.Errorf("accredit %s: %w", a.DID, err)
	}
	tok, err := s.NewToken(ctx, a.ID)
	if err != nil {
		return Agency{}, "", err
	}
	// Both logs hold the addition: the root authority's (what it did) and the new agency's
	// (how it began).
	s.auditBoth(ctx, root, a.ID, AuditAgencyAdd, map[string]string{"did": a.DID, "name": a.Name, "types": strings.Join(a.Types, ",")})
	s.log.InfoContext(ctx, "agency added", "agency", a.ID, "did", a.DID, "types", a.Types, "by", root.ID)
	return a, tok, nil
}

// ListAgencies returns every agency with the types the ledger accredits it for now, for the
// root authority. Errors: ErrNotRootAuthority unless root is the root authority.
func (s *Service) ListAgencies(ctx context.Context, root Agency) ([]AgencyInfo, error) {
	if !root.Root {
		return nil, ErrNotRootAuthority
	}
	dir, ok := s.store.(AgencyDirectory)
	if !ok {
		return nil, errors.New("issuer: the store cannot list agencies")
	}
	all, err := dir.ListAgencies(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]AgencyInfo, 0, len(all))
	for _, a := range all {
		acc, err := s.accreditedTypes(ctx, a, now)
		if err != nil {
			return nil, err
		}
		out = append(out, AgencyInfo{Agency: a, Accredited: acc})
	}
	return out, nil
}

// Withdraw has the root authority withdraw issuer's (a DID's) accreditation for the credential
// types (vct values) from at on, on the ledger; it mirrors Accredit. Errors:
// ErrNotRootAuthority unless root is the root authority, ErrLedgerRejected.
func (s *Service) Withdraw(ctx context.Context, root Agency, issuerDID string, vcts []string, at time.Time) error {
	if !root.Root {
		return ErrNotRootAuthority
	}
	if s.ledger == nil {
		return errors.New("issuer: no ledger configured")
	}
	cur, key, err := s.agencyKey(ctx, root.ID)
	if err != nil {
		return err
	}
	seq, err := s.store.NextSeq(ctx, root.ID)
	if err != nil {
		return err
	}
	op, err := ledger.SignOp(ledger.NewWithdraw(issuerDID, vcts, at, seq), key.Signer(), cur.KID)
	if err != nil {
		return err
	}
	if err := s.submit(ctx, op); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "accreditation withdrawn", "issuer", issuerDID, "types", vcts)
	return nil
}

// checkAccredited returns ErrTypeNotAllowed unless the ledger accredits agency a for type t
// at at. The ledger, not the agency's local types list, decides: a withdrawn, expired or
// never granted accreditation refuses issuance. Without a ledger nothing is accredited.
func (s *Service) checkAccredited(ctx context.Context, a Agency, t *credtype.Type, at time.Time) error {
	if s.ledger == nil {
		return fmt.Errorf("%w: no ledger to check %s's accreditation", ErrTypeNotAllowed, a.Name)
	}
	_, err := s.ledger.Accreditation(ctx, a.DID, t.VCT, at)
	if errors.Is(err, ledger.ErrNotAccredited) {
		return fmt.Errorf("%w: the ledger does not accredit %s for %s now", ErrTypeNotAllowed, a.Name, t.Name)
	}
	if err != nil {
		return fmt.Errorf("accreditation of %s: %w", a.DID, err)
	}
	return nil
}

// accreditedTypes returns the names of a.Types the ledger accredits a for at at.
func (s *Service) accreditedTypes(ctx context.Context, a Agency, at time.Time) ([]string, error) {
	out := []string{}
	for _, name := range a.Types {
		t, err := s.AgencyType(ctx, a, name)
		if errors.Is(err, ErrUnknownType) {
			continue // a type since removed from the registry is issued by no one
		}
		if err != nil {
			return nil, err
		}
		err = s.checkAccredited(ctx, a, t, at)
		if errors.Is(err, ErrTypeNotAllowed) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

// AccreditTypes has the root authority accredit agency agencyID on the ledger for types (names
// the agency sees: built-in ones or its own, see AgencyType) from now for days days
// (DefaultAccreditationDays when zero). It is how an agency's own type becomes issuable.
// Errors: ErrNotRootAuthority, ErrNotFound (no such agency), ErrInvalidRequest (no types,
// days out of range, a type twice), ErrUnknownType, ErrLedgerRejected.
func (s *Service) AccreditTypes(ctx context.Context, root Agency, agencyID string, types []string, days int) error {
	if !root.Root {
		return ErrNotRootAuthority
	}
	switch {
	case len(types) == 0:
		return fmt.Errorf("%w: types is empty", ErrInvalidRequest)
	case days < 0 || days > MaxAccreditationDays:
		return fmt.Errorf("%w: valid_days must be between 1 and %d", ErrInvalidRequest, MaxAccreditationDays)
	case days == 0:
		days = DefaultAccreditationDays
	}
	a, err := s.store.Agency(ctx, agencyID)
	if err != nil {
		return err
	}
	vcts := make([]string, 0, len(types))
	for i, name := range types {
		t, err := s.AgencyType(ctx, a, name)
		if err != nil {
			return err
		}
		if slices.Contains(types[:i], name) {
			return fmt.Errorf("%w: type %s listed twice", ErrInvalidRequest, name)
		}
		vcts = append(vcts, t.VCT)
	}
	from := s.now().UTC().Truncate(time.Second).Add(-accreditationSkew)
	if err := s.Accredit(ctx, root, a.DID, vcts, from, from.Add(accreditationSkew).AddDate(0, 0, days)); err != nil {
		return fmt.Errorf("accredit %s: %w", a.DID, err)
	}
	s.auditBoth(ctx, root, a.ID, AuditAgencyAccredit, map[string]string{"types": strings.Join(types, ","), "days": fmt.Sprint(days)})
	s.log.InfoContext(ctx, "agency accredited", "agency", a.ID, "types", types, "days", days)
	return nil
}
