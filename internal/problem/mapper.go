package problem

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// Rule maps a domain error to a problem type. An error matches the rule when errors.Is(err, Err).
type Rule struct {
	// Err is the sentinel (or comparable error value) to match with errors.Is.
	Err error
	// Status is the HTTP status of the problem, 400-599 (or 499 for a client that went away).
	Status int
	// Name is the problem type's short name; its type URI is TypeURI(Name). Names are
	// lowercase words joined by hyphens, and one name always means one status and title.
	Name string
	// Title is the short summary shown for every problem of this type.
	Title string
}

// problem returns a fresh Problem of r's type, without detail.
func (r Rule) problem() *Problem {
	return &Problem{Type: TypeURI(r.Name), Title: r.Title, Status: r.Status}
}

// Mapper maps errors to problems with an ordered list of rules; the first matching rule wins.
// Build one with NewMapper. A Mapper is immutable and safe for concurrent use.
type Mapper struct {
	rules []Rule          // matching order: callers' rules, then builtin()
	types map[string]Rule // by name, for Lookup and Types
}

// NewMapper returns a Mapper that tries the given rule groups in order, then the generic
// built-in rules (the Err* sentinels of this package and context.Canceled). Components put
// their own, more specific rules first, so that, for example, their ErrOfferExpired (410)
// is found before a generic ErrNotFound it might also wrap.
//
// NewMapper panics if a rule has no Err, a Name that is not lowercase words joined by
// hyphens, a status outside 400-599, or reuses a name with a different status or title: rules
// are fixed at start-up and such a rule is a programming error.
func NewMapper(rules ...[]Rule) *Mapper {
	m := &Mapper{types: make(map[string]Rule)}
	for _, group := range rules {
		for _, r := range group {
			if r.Err == nil {
				panic(fmt.Sprintf("problem: rule %q has no Err", r.Name))
			}
			m.rules = append(m.rules, r)
		}
	}
	m.rules = append(m.rules, builtin()...)
	for _, r := range m.rules {
		m.addType(r)
	}
	return m
}

func (m *Mapper) addType(r Rule) {
	if !validName(r.Name) {
		panic(fmt.Sprintf("problem: invalid rule name %q", r.Name))
	}
	if r.Status < 400 || r.Status > 599 {
		panic(fmt.Sprintf("problem: rule %q has status %d, want 400-599", r.Name, r.Status))
	}
	if r.Title == "" {
		panic(fmt.Sprintf("problem: rule %q has no title", r.Name))
	}
	if old, ok := m.types[r.Name]; ok {
		if old.Status != r.Status || old.Title != r.Title {
			panic(fmt.Sprintf("problem: name %q used for %d %q and %d %q", r.Name, old.Status, old.Title, r.Status, r.Title))
		}
		return
	}
	m.types[r.Name] = r
}

// validName reports whether name is lowercase ASCII words (letters, digits) joined by single hyphens.
func validName(name string) bool {
	if name == "" || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && name[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// Map turns err into a Problem and reports whether it is a server fault (status 500 or more),
// which the caller must log with the real error. Map(nil) returns nil, false.
//
//   - If err is or wraps a *Problem (errors.As), a copy of it is returned unchanged, except that
//     a zero Status becomes 500, an empty Title the status text and an empty Type "about:blank".
//   - Otherwise the first rule whose Err matches (errors.Is) gives the status, type and title.
//     For a client error (4xx) the detail is err.Error(), which therefore must be safe to show;
//     for a server error there is no detail.
//   - Anything else is a 500 "internal" problem with detail "internal error" only.
//
// Map does not know *echo.HTTPError; the web package maps those itself.
func (m *Mapper) Map(err error) (p *Problem, fault bool) {
	if err == nil {
		return nil, false
	}
	var pp *Problem
	if errors.As(err, &pp) && pp != nil {
		cp := *pp
		cp.Errors = slices.Clone(pp.Errors)
		if cp.Status == 0 {
			cp.Status = http.StatusInternalServerError
		}
		if cp.Title == "" {
			cp.Title = http.StatusText(cp.Status)
		}
		if cp.Type == "" {
			cp.Type = "about:blank"
		}
		return &cp, cp.Status >= 500
	}
	for _, r := range m.rules {
		if r.Err == nil || !errors.Is(err, r.Err) {
			continue
		}
		p := r.problem()
		if r.Status < 500 {
			p.Detail = err.Error()
		}
		return p, r.Status >= 500
	}
	return Internal(), true
}

// Internal returns a new 500 "internal" problem whose detail is only "internal error".
func Internal() *Problem {
	return &Problem{
		Type:   TypeURI(NameInternal),
		Title:  "Internal error",
		Status: http.StatusInternalServerError,
		Detail: "internal error",
	}
}

// Lookup returns the rule that defines the problem type called name, and whether there is one.
// The returned rule's Err is the first error mapped to that name, or nil for a type that only
// the HTTP layer produces (method-not-allowed, internal).
func (m *Mapper) Lookup(name string) (Rule, bool) {
	r, ok := m.types[name]
	return r, ok
}

// Types lists every problem type the mapper can produce, built-in ones included, once per
// name, ordered by status and then name. It is meant for documentation and the /problems page.
func (m *Mapper) Types() []Rule {
	out := make([]Rule, 0, len(m.types))
	for _, r := range m.types {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Name, b.Name))
	})
	return out
}
