package oid4vp

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// FormatSDJWTVC is the credential format identifier of IETF SD-JWT VC (appendix B.3).
const FormatSDJWTVC = "dc+sd-jwt"

// Limits on a DCQL query, beyond MaxQuerySize.
const (
	maxCredentialQueries = 32
	maxClaimQueries      = 64
	maxPathLength        = 16
	maxValues            = 64
	maxCredentialSets    = 32
	maxOptions           = 32
	maxIDLength          = 64
)

// Query is a DCQL query (section 6.1): the credentials a verifier asks for and, when
// CredentialSets is set, which combinations of them are acceptable.
type Query struct {
	// Credentials are the Credential Queries; non-empty, with unique ids.
	Credentials []CredentialQuery `json:"credentials"`
	// CredentialSets, when not empty, says which combinations of Credentials answer the
	// query; otherwise every Credential Query must be answered.
	CredentialSets []CredentialSet `json:"credential_sets,omitempty"`
}

// CredentialQuery asks for one credential (section 6.1).
type CredentialQuery struct {
	// ID names the query in the vp_token: letters, digits, '_' and '-'.
	ID string `json:"id"`
	// Format is the credential format identifier, e.g. FormatSDJWTVC.
	Format string `json:"format"`
	// Multiple allows more than one presentation for this query.
	Multiple bool `json:"multiple,omitempty"`
	// Meta holds format-specific constraints; required by the specification.
	Meta Meta `json:"meta"`
	// Claims are the claims asked for; empty asks for none beyond those always shown.
	Claims []ClaimQuery `json:"claims,omitempty"`
	// ClaimSets lists acceptable combinations of claim ids, most preferred first.
	ClaimSets [][]string `json:"claim_sets,omitempty"`
	// RequireCryptographicHolderBinding is true unless set to false (section 6.1).
	RequireCryptographicHolderBinding *bool `json:"require_cryptographic_holder_binding,omitempty"`
}

// Meta holds the meta constraints this package understands: for dc+sd-jwt, vct_values
// (appendix B.3.5), which must be present and non-empty.
type Meta struct {
	VCTValues []string `json:"vct_values,omitempty"`
}

// ClaimQuery asks for one claim (section 6.3).
type ClaimQuery struct {
	// ID names the claim in ClaimSets; required when ClaimSets is set.
	ID string `json:"id,omitempty"`
	// Path is a claims path pointer (section 7): strings select object members, non-negative
	// integers array elements, and null all elements of an array.
	Path []any `json:"path"`
	// Values, when set, are the only acceptable values (strings, integers or booleans).
	Values []any `json:"values,omitempty"`
}

// CredentialSet is one entry of credential_sets (section 6.2).
type CredentialSet struct {
	// Options are acceptable lists of Credential Query ids, most preferred first.
	Options [][]string `json:"options"`
	// Required is true unless set to false.
	Required *bool `json:"required,omitempty"`
}

// IsRequired reports whether the set must be satisfied.
func (s CredentialSet) IsRequired() bool { return s.Required == nil || *s.Required }

// ParseQuery parses and validates a DCQL query of at most MaxQuerySize bytes of strict JSON.
// Errors wrap ErrMalformed or ErrTooLarge.
func ParseQuery(data []byte) (*Query, error) {
	var q Query
	if err := decodeStrict(data, MaxQuerySize, "dcql_query", &q); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}

// Encode returns the query as compact JSON. It does not validate it.
func (q *Query) Encode() ([]byte, error) { return encodeJSON(q) }

func validID(s string) bool {
	if s == "" || len(s) > maxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the query against section 6: at least one Credential Query, unique valid
// ids, a format and (for dc+sd-jwt) non-empty vct_values, valid claims path pointers and
// values, claim ids unique and present when claim_sets is used, claim_sets and
// credential_sets that only name ids that exist, and the limits of this package. Errors wrap
// ErrMalformed or ErrTooLarge.
func (q *Query) Validate() error {
	if len(q.Credentials) == 0 {
		return fmt.Errorf("%w: dcql_query: credentials missing or empty", ErrMalformed)
	}
	if len(q.Credentials) > maxCredentialQueries || len(q.CredentialSets) > maxCredentialSets {
		return fmt.Errorf("%w: dcql_query: more than %d credential queries or sets", ErrTooLarge, maxCredentialQueries)
	}
	ids := map[string]bool{}
	for i := range q.Credentials {
		cq := &q.Credentials[i]
		if !validID(cq.ID) {
			return fmt.Errorf("%w: dcql_query: credential query id %q is not 1-%d letters, digits, '_' or '-'", ErrMalformed, cq.ID, maxIDLength)
		}
		if ids[cq.ID] {
			return fmt.Errorf("%w: dcql_query: credential query id %q repeated", ErrMalformed, cq.ID)
		}
		ids[cq.ID] = true
		if err := cq.validate(); err != nil {
			return err
		}
	}
	for i, set := range q.CredentialSets {
		if len(set.Options) == 0 {
			return fmt.Errorf("%w: dcql_query: credential_sets[%d]: options missing or empty", ErrMalformed, i)
		}
		if len(set.Options) > maxOptions {
			return fmt.Errorf("%w: dcql_query: credential_sets[%d]: more than %d options", ErrTooLarge, i, maxOptions)
		}
		for _, opt := range set.Options {
			if len(opt) == 0 || len(opt) > maxCredentialQueries {
				return fmt.Errorf("%w: dcql_query: credential_sets[%d]: an option is empty or too long", ErrMalformed, i)
			}
			for _, id := range opt {
				if !ids[id] {
					return fmt.Errorf("%w: dcql_query: credential_sets[%d] names unknown credential query %q", ErrMalformed, i, id)
				}
			}
		}
	}
	return nil
}

func (cq *CredentialQuery) validate() error {
	what := "dcql_query: credential query " + strconv.Quote(cq.ID)
	if cq.Format == "" {
		return fmt.Errorf("%w: %s: format missing", ErrMalformed, what)
	}
	if cq.Format == FormatSDJWTVC {
		if len(cq.Meta.VCTValues) == 0 {
			return fmt.Errorf("%w: %s: meta.vct_values missing or empty", ErrMalformed, what)
		}
		for _, v := range cq.Meta.VCTValues {
			if v == "" {
				return fmt.Errorf("%w: %s: empty vct value", ErrMalformed, what)
			}
		}
	}
	if len(cq.Claims) > maxClaimQueries {
		return fmt.Errorf("%w: %s: more than %d claims", ErrTooLarge, what, maxClaimQueries)
	}
	if cq.Claims != nil && len(cq.Claims) == 0 {
		return fmt.Errorf("%w: %s: claims is empty", ErrMalformed, what)
	}
	claimIDs := map[string]bool{}
	for i, c := range cq.Claims {
		if err := validatePath(c.Path); err != nil {
			return fmt.Errorf("%w: %s: claims[%d]: %v", ErrMalformed, what, i, err)
		}
		if len(c.Values) > maxValues {
			return fmt.Errorf("%w: %s: claims[%d]: more than %d values", ErrTooLarge, what, i, maxValues)
		}
		if c.Values != nil && len(c.Values) == 0 {
			return fmt.Errorf("%w: %s: claims[%d]: values is empty", ErrMalformed, what, i)
		}
		for _, v := range c.Values {
			if !validValue(v) {
				return fmt.Errorf("%w: %s: claims[%d]: a value is not a string, integer or boolean", ErrMalformed, what, i)
			}
		}
		if c.ID != "" {
			if !validID(c.ID) {
				return fmt.Errorf("%w: %s: claim id %q is not letters, digits, '_' or '-'", ErrMalformed, what, c.ID)
			}
			if claimIDs[c.ID] {
				return fmt.Errorf("%w: %s: claim id %q repeated", ErrMalformed, what, c.ID)
			}
			claimIDs[c.ID] = true
		} else if cq.ClaimSets != nil {
			return fmt.Errorf("%w: %s: claims[%d] has no id although claim_sets is used", ErrMalformed, what, i)
		}
	}
	if cq.ClaimSets != nil {
		if len(cq.Claims) == 0 {
			return fmt.Errorf("%w: %s: claim_sets without claims", ErrMalformed, what)
		}
		if len(cq.ClaimSets) == 0 || len(cq.ClaimSets) > maxOptions {
			return fmt.Errorf("%w: %s: claim_sets is empty or has more than %d entries", ErrMalformed, what, maxOptions)
		}
		for _, set := range cq.ClaimSets {
			if len(set) == 0 {
				return fmt.Errorf("%w: %s: an empty claim set", ErrMalformed, what)
			}
			for _, id := range set {
				if !claimIDs[id] {
					return fmt.Errorf("%w: %s: claim_sets names unknown claim %q", ErrMalformed, what, id)
				}
			}
		}
	}
	return nil
}

func validatePath(p []any) error {
	if len(p) == 0 {
		return fmt.Errorf("path missing or empty")
	}
	if len(p) > maxPathLength {
		return fmt.Errorf("path longer than %d", maxPathLength)
	}
	for i, e := range p {
		switch v := e.(type) {
		case string:
		case nil:
		case float64:
			if v < 0 || v != math.Trunc(v) || v > 1<<20 {
				return fmt.Errorf("path[%d] is not a non-negative integer", i)
			}
		default:
			return fmt.Errorf("path[%d] is not a string, a non-negative integer or null", i)
		}
	}
	if _, ok := p[0].(string); !ok {
		return fmt.Errorf("path must start with a claim name")
	}
	return nil
}

func validValue(v any) bool {
	switch x := v.(type) {
	case string, bool:
		return true
	case float64:
		return x == math.Trunc(x) && math.Abs(x) < 1<<53
	}
	return false
}

// Candidate is a credential the evaluator may match: one the wallet holds, or one a
// verifier received and verified.
type Candidate struct {
	// ID identifies the credential to the caller (a wallet credential id).
	ID string
	// Format is its credential format identifier.
	Format string
	// VCT is its SD-JWT VC type.
	VCT string
	// Claims are every claim it can show, disclosable or not, by name, with their values
	// (as encoding/json or sdjwt decode them).
	Claims map[string]any
	// Disclosable names the claims that are selectively disclosable: presenting a claim
	// whose path starts with one of these means disclosing it.
	Disclosable []string
}

// Match is a candidate that answers a Credential Query.
type Match struct {
	// QueryID is the Credential Query's id.
	QueryID string `json:"query_id"`
	// CredentialID is Candidate.ID.
	CredentialID string `json:"credential_id"`
	// Claims are the paths of the claims asked for (of the chosen claim set), as
	// "/"-joined strings for display ("address/street", "nationalities/*").
	Claims []string `json:"claims"`
	// Disclose are the selectively disclosable top-level claims a presentation must
	// disclose, sorted.
	Disclose []string `json:"disclose"`
}

// Evaluation is the result of evaluating a query against candidates.
type Evaluation struct {
	// Satisfied reports whether the candidates answer the query.
	Satisfied bool `json:"satisfied"`
	// Matches are, per Credential Query id, every candidate that answers it, in the order
	// the candidates were given.
	Matches map[string][]Match `json:"matches"`
	// Selected are the Credential Query ids to answer, in query order: every query when
	// there are no credential_sets, else the first satisfiable option of each set (required
	// or not). When Satisfied is false, Selected holds what could be answered.
	Selected []string `json:"selected"`
	// Unsatisfied names what cannot be answered: Credential Query ids without a match or
	// "credential_sets[i]" for a required set with no satisfiable option.
	Unsatisfied []string `json:"unsatisfied,omitempty"`
}

// Evaluate matches every candidate against every Credential Query (section 6.4) and decides
// which queries to answer. A candidate answers a query when its format and vct fit and it
// holds the claims of the first claim set (in order of preference) it can satisfy, or every
// claim when there are no claim sets. The query must be valid (see Validate).
func (q *Query) Evaluate(cands []Candidate) Evaluation {
	ev := Evaluation{Matches: map[string][]Match{}}
	for i := range q.Credentials {
		cq := &q.Credentials[i]
		for _, c := range cands {
			if m, ok := cq.match(c); ok {
				ev.Matches[cq.ID] = append(ev.Matches[cq.ID], m)
			}
		}
	}
	have := func(id string) bool { return len(ev.Matches[id]) > 0 }
	ev.Selected, ev.Unsatisfied = q.selection(have)
	ev.Satisfied = len(ev.Unsatisfied) == 0
	return ev
}

// selection picks the query ids to answer given which can be answered.
func (q *Query) selection(have func(string) bool) (selected, unsatisfied []string) {
	pick := map[string]bool{}
	if len(q.CredentialSets) == 0 {
		for _, cq := range q.Credentials {
			if have(cq.ID) {
				pick[cq.ID] = true
			} else {
				unsatisfied = append(unsatisfied, cq.ID)
			}
		}
	} else {
		for i, set := range q.CredentialSets {
			found := false
			for _, opt := range set.Options {
				if !slices.ContainsFunc(opt, func(id string) bool { return !have(id) }) {
					for _, id := range opt {
						pick[id] = true
					}
					found = true
					break
				}
			}
			if !found && set.IsRequired() {
				unsatisfied = append(unsatisfied, fmt.Sprintf("credential_sets[%d]", i))
			}
		}
	}
	for _, cq := range q.Credentials {
		if pick[cq.ID] {
			selected = append(selected, cq.ID)
		}
	}
	return selected, unsatisfied
}

// match reports whether c answers cq, and how.
func (cq *CredentialQuery) match(c Candidate) (Match, bool) {
	if c.Format != cq.Format || cq.Format != FormatSDJWTVC || !slices.Contains(cq.Meta.VCTValues, c.VCT) {
		return Match{}, false
	}
	m := Match{QueryID: cq.ID, CredentialID: c.ID, Claims: []string{}, Disclose: []string{}}
	var chosen []ClaimQuery
	switch {
	case len(cq.Claims) == 0:
	case len(cq.ClaimSets) == 0:
		for _, cl := range cq.Claims {
			if !cl.matches(c.Claims) {
				return Match{}, false
			}
		}
		chosen = cq.Claims
	default:
		byID := map[string]ClaimQuery{}
		for _, cl := range cq.Claims {
			byID[cl.ID] = cl
		}
		ok := false
		for _, set := range cq.ClaimSets {
			all := true
			for _, id := range set {
				if !byID[id].matches(c.Claims) {
					all = false
					break
				}
			}
			if all {
				for _, id := range set {
					chosen = append(chosen, byID[id])
				}
				ok = true
				break
			}
		}
		if !ok {
			return Match{}, false
		}
	}
	disclosable := map[string]bool{}
	for _, n := range c.Disclosable {
		disclosable[n] = true
	}
	seen := map[string]bool{}
	for _, cl := range chosen {
		m.Claims = append(m.Claims, PathString(cl.Path))
		top := cl.Path[0].(string)
		if disclosable[top] && !seen[top] {
			seen[top] = true
			m.Disclose = append(m.Disclose, top)
		}
	}
	slices.Sort(m.Disclose)
	return m, true
}

// matches reports whether claims hold the claim cl points at, with one of its values when
// it lists any.
func (cl ClaimQuery) matches(claims map[string]any) bool {
	if len(cl.Path) == 0 {
		return false
	}
	found := selectPath(claims, cl.Path)
	if len(found) == 0 {
		return false
	}
	if len(cl.Values) == 0 {
		return true
	}
	for _, f := range found {
		for _, want := range cl.Values {
			if sameValue(f, want) {
				return true
			}
		}
	}
	return false
}

// selectPath returns the values the claims path pointer p selects in v (section 7.2).
func selectPath(v any, p []any) []any {
	cur := []any{v}
	for _, e := range p {
		var next []any
		for _, x := range cur {
			switch k := e.(type) {
			case string:
				if obj, ok := x.(map[string]any); ok {
					if y, ok := obj[k]; ok {
						next = append(next, y)
					}
				}
			case float64:
				if arr, ok := x.([]any); ok && int(k) < len(arr) {
					next = append(next, arr[int(k)])
				}
			case nil:
				if arr, ok := x.([]any); ok {
					next = append(next, arr...)
				}
			}
		}
		if len(next) == 0 {
			return nil
		}
		cur = next
	}
	return cur
}

// sameValue compares a claim value with a requested value: strings and booleans exactly,
// numbers by value.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case string, bool:
		return got == w
	case float64:
		switch g := got.(type) {
		case float64:
			return g == w
		case json.Number:
			f, err := g.Float64()
			return err == nil && f == w
		case int:
			return float64(g) == w
		case int64:
			return float64(g) == w
		}
	}
	return false
}

// PathString renders a claims path pointer for display: elements joined by "/", null as
// "*".
func PathString(p []any) string {
	s := ""
	for i, e := range p {
		if i > 0 {
			s += "/"
		}
		switch v := e.(type) {
		case string:
			s += v
		case float64:
			s += strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
			s += "*"
		}
	}
	return s
}

// CheckPresented checks that presentations a verifier received, already verified and turned
// into candidates (Candidate.ID may be anything), answer q: every key of presented must be a
// Credential Query id, a query without Multiple has at most one presentation, every
// presentation must answer its query (format, vct, claims), and the answered queries must
// satisfy q (every query, or each required credential set). Errors wrap ErrNotSatisfied and
// name the query.
func (q *Query) CheckPresented(presented map[string][]Candidate) error {
	byID := map[string]*CredentialQuery{}
	for i := range q.Credentials {
		byID[q.Credentials[i].ID] = &q.Credentials[i]
	}
	for id, list := range presented {
		cq, ok := byID[id]
		if !ok {
			return fmt.Errorf("%w: vp_token answers %q, which was not asked", ErrNotSatisfied, id)
		}
		if len(list) == 0 {
			return fmt.Errorf("%w: vp_token has no presentation for %q", ErrNotSatisfied, id)
		}
		if len(list) > 1 && !cq.Multiple {
			return fmt.Errorf("%w: %d presentations for %q, which allows one", ErrNotSatisfied, len(list), id)
		}
		for _, c := range list {
			if _, ok := cq.match(c); !ok {
				return fmt.Errorf("%w: the presentation for %q is not of a requested type or lacks a requested claim", ErrNotSatisfied, id)
			}
		}
	}
	_, unsatisfied := q.selection(func(id string) bool { return len(presented[id]) > 0 })
	if len(unsatisfied) > 0 {
		return fmt.Errorf("%w: no answer for %v", ErrNotSatisfied, unsatisfied)
	}
	return nil
}
