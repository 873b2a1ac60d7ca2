package issuer

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// Errors of runtime credential types.
var (
	// ErrInvalidTypeFile matches every problem with an uploaded type file; the error also
	// holds one *credtype.FileError per problem (errors.As, or walk the joined errors).
	ErrInvalidTypeFile = credtype.ErrInvalidTypeFile
	// ErrTypeExists means a type of that name or vct exists already: built in, or added by
	// any agency (names and vcts are unique on the whole issuer, as the OpenID4VCI metadata
	// that lists them all is).
	ErrTypeExists = fmt.Errorf("%w: a credential type of that name or vct exists", problem.ErrConflict)
)

// LookupType returns the built-in credential type called name (issuer/credtype/types), or an
// error wrapping ErrUnknownType. Agencies' own types (AddType) are not found here; see
// Service.AgencyType.
func LookupType(name string) (*credtype.Type, error) {
	t, err := credtype.Builtin().Lookup(name)
	if errors.Is(err, credtype.ErrUnknownType) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, name)
	}
	return t, err
}

// RuntimeType is a credential type an agency added at run time, as stored: the type file
// itself, parsed again when the service starts.
type RuntimeType struct {
	AgencyID  string
	Name      string
	VCT       string
	FileName  string // "type.json" or "type.yaml": says how File is parsed
	File      []byte
	CreatedAt time.Time
}

// TypeStore is the optional ability of a Store to keep agencies' runtime credential types.
// Service finds it on Config.Store by type assertion; without it AddType is refused.
// issuerstore.Store implements it.
type TypeStore interface {
	// SaveType stores t, adds t.Name to the agency's types and appends the audit entry e, in
	// one transaction. It returns ErrTypeExists (storing nothing) if the name or vct is taken.
	SaveType(ctx context.Context, t RuntimeType, e AuditEntry) error
	// RuntimeTypes returns every agency's runtime types, oldest first.
	RuntimeTypes(ctx context.Context) ([]RuntimeType, error)
}

// runtimeTypes is the in-memory directory of agencies' own types, by name. Lookups on the
// issuance path (bulk rows included) read it without touching the store.
type runtimeTypes struct {
	mu     sync.RWMutex
	loaded bool
	byName map[string]ownedType
	vcts   map[string]bool
}

type ownedType struct {
	agencyID string
	t        *credtype.Type
}

// loadTypes fills the directory from the store once; a type file that no longer parses (the
// checks grew stricter) is logged and left out.
func (s *Service) loadTypes(ctx context.Context) error {
	s.types.mu.Lock()
	defer s.types.mu.Unlock()
	if s.types.loaded {
		return nil
	}
	s.types.byName, s.types.vcts = map[string]ownedType{}, map[string]bool{}
	if ts, ok := s.store.(TypeStore); ok {
		all, err := ts.RuntimeTypes(ctx)
		if err != nil {
			return fmt.Errorf("load credential types: %w", err)
		}
		for _, rt := range all {
			t, err := credtype.Parse(rt.FileName, rt.File)
			if err != nil {
				s.log.ErrorContext(ctx, "stored credential type no longer loads", "agency", rt.AgencyID, "type", rt.Name, "err", err)
				continue
			}
			s.types.byName[t.Name] = ownedType{rt.AgencyID, t}
			s.types.vcts[t.VCT] = true
		}
	}
	s.types.loaded = true
	return nil
}

// AgencyType returns the credential type called name as agency a sees it: a built-in type,
// or one a added (AddType). Another agency's type is unknown to a. Errors: ErrUnknownType.
func (s *Service) AgencyType(ctx context.Context, a Agency, name string) (*credtype.Type, error) {
	if t, err := credtype.Builtin().Lookup(name); err == nil {
		return t, nil
	}
	if err := s.loadTypes(ctx); err != nil {
		return nil, err
	}
	s.types.mu.RLock()
	o, ok := s.types.byName[name]
	s.types.mu.RUnlock()
	if !ok || o.agencyID != a.ID {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, name)
	}
	return o.t, nil
}

// anyType returns the credential type called name, built in or any agency's, for flows
// whose agency check was made earlier (a stored offer). Errors: ErrUnknownType.
func (s *Service) anyType(ctx context.Context, name string) (*credtype.Type, error) {
	if t, err := credtype.Builtin().Lookup(name); err == nil {
		return t, nil
	}
	if err := s.loadTypes(ctx); err != nil {
		return nil, err
	}
	s.types.mu.RLock()
	defer s.types.mu.RUnlock()
	if o, ok := s.types.byName[name]; ok {
		return o.t, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownType, name)
}

// AgencyTypes returns, sorted by name, the types agency a sees: the built-in ones, then its
// own.
func (s *Service) AgencyTypes(ctx context.Context, a Agency) ([]*credtype.Type, error) {
	out := credtype.Builtin().All()
	own, err := s.ownTypes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	return append(out, own...), nil
}

// ownTypes returns, sorted by name, the runtime types of agency agencyID ("" for every
// agency's).
func (s *Service) ownTypes(ctx context.Context, agencyID string) ([]*credtype.Type, error) {
	if err := s.loadTypes(ctx); err != nil {
		return nil, err
	}
	s.types.mu.RLock()
	defer s.types.mu.RUnlock()
	var out []*credtype.Type
	for _, o := range s.types.byName {
		if agencyID == "" || o.agencyID == agencyID {
			out = append(out, o.t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AddType adds the credential type in file (a type file as credtype describes, YAML or JSON
// as fileName's extension says: .json, .yaml or .yml) to agency a. The type is then
// visible and usable by a only: listed, shown, issued singly, in bulk and by OpenID4VCI
// offer, and listed in the OpenID4VCI issuer metadata under its name. Issuing it still needs
// the ledger's accreditation of a for the type's vct, like every type.
//
// Beyond credtype's checks (schema compiles, disclosable and labelled claims exist in it,
// formats known, zh-CN and en display, validity in (0, 100y], example valid) ldp_vc may be
// listed only when the JSON-LD context defines the type and every claim, and the name and vct
// must be new. Errors: ErrInvalidRequest (fileName), ErrInvalidTypeFile
// (joined *credtype.FileErrors), ErrTypeExists. Nothing is stored when it fails; on success
// the addition is audited in the same transaction.
func (s *Service) AddType(ctx context.Context, a Agency, fileName string, file []byte) (*credtype.Type, error) {
	ts, ok := s.store.(TypeStore)
	if !ok {
		return nil, errors.New("issuer: the store keeps no credential types")
	}
	switch path.Ext(fileName) {
	case ".json", ".yaml", ".yml":
	default:
		return nil, fmt.Errorf("%w: a type file is .json, .yaml or .yml", ErrInvalidRequest)
	}
	t, err := credtype.Parse(fileName, file)
	if err != nil {
		return nil, err
	}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &credtype.FileError{File: fileName, Field: field, Err: fmt.Errorf(format, args...)})
	}
	if slices.Contains(t.Formats, FormatLDPVC) {
		if gap := UndefinedLDTerms(t); len(gap) > 0 {
			fail("formats", "ldp_vc needs a JSON-LD term for every claim and the type; none for %s", strings.Join(gap, ", "))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := s.loadTypes(ctx); err != nil {
		return nil, err
	}
	s.types.mu.Lock()
	defer s.types.mu.Unlock()
	if err := s.checkTypeFree(t); err != nil {
		return nil, err
	}
	rt := RuntimeType{AgencyID: a.ID, Name: t.Name, VCT: t.VCT, FileName: fileName, File: file, CreatedAt: s.now().UTC().Truncate(time.Second)}
	e := s.auditEntry(a, AuditTypeAdd, t.Name, "", map[string]string{"vct": t.VCT})
	if err := ts.SaveType(ctx, rt, e); err != nil {
		return nil, fmt.Errorf("save type %s: %w", t.Name, err)
	}
	s.types.byName[t.Name] = ownedType{a.ID, t}
	s.types.vcts[t.VCT] = true
	s.log.InfoContext(ctx, "credential type added", "agency", a.ID, "type", t.Name, "vct", t.VCT)
	return t, nil
}

// checkTypeFree returns ErrTypeExists if t's name or vct is built in or taken by any agency.
// The caller holds s.types.mu.
func (s *Service) checkTypeFree(t *credtype.Type) error {
	_, nameErr := credtype.Builtin().Lookup(t.Name)
	_, vctErr := credtype.Builtin().ByVCT(t.VCT)
	_, nameTaken := s.types.byName[t.Name]
	switch {
	case nameErr == nil || nameTaken:
		return fmt.Errorf("%w: name %q", ErrTypeExists, t.Name)
	case vctErr == nil || s.types.vcts[t.VCT]:
		return fmt.Errorf("%w: vct %q", ErrTypeExists, t.VCT)
	}
	return nil
}
