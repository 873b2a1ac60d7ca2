package credtype

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// MaxClaimsSize bounds the claims of one credential, encoded as JSON, in bytes.
const MaxClaimsSize = 256 << 10

// Violation is one way claims fail their type's schema.
type Violation struct {
	// Path is a JSON pointer (RFC 6901) to the offending claim, e.g. "/family_name"; "" is
	// the claims object itself.
	Path string `json:"path"`
	// Reason says what is wrong, without echoing the claim's value.
	Reason string `json:"reason"`
}

// ClaimsError lists every violation found in a set of claims, sorted by path. It matches
// ErrInvalidClaims with errors.Is. Its text names claims and rules, never claim values, so
// it is safe to log and to show to the caller.
type ClaimsError struct {
	// Type is the credential type's name.
	Type string
	// Violations holds at least one violation.
	Violations []Violation
}

// Error implements error.
func (e *ClaimsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid claims for %s: ", e.Type)
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		p := v.Path
		if p == "" {
			p = "/"
		}
		fmt.Fprintf(&b, "%s: %s", p, v.Reason)
	}
	return b.String()
}

// Is reports whether target is ErrInvalidClaims.
func (e *ClaimsError) Is(target error) bool { return target == ErrInvalidClaims }

// Validate checks claims against the type's schema. It returns nil or a *ClaimsError listing
// every violation. Claims may hold any values encoding/json can encode; they are checked as
// the JSON they encode to, which must not exceed MaxClaimsSize; a number longer than 64
// characters or with an exponent beyond ±400 is a violation before the schema is consulted.
// Validate does not modify claims and is safe for concurrent use.
func (t *Type) Validate(claims map[string]any) error {
	if t.schema == nil {
		return t.fail("type " + t.Name + " was not made by Load")
	}
	if claims == nil {
		return t.fail("no claims")
	}
	raw, err := json.Marshal(claims)
	if err != nil {
		return t.fail("not encodable as JSON")
	}
	if len(raw) > MaxClaimsSize {
		return t.fail(fmt.Sprintf("larger than %d bytes as JSON", MaxClaimsSize))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return t.fail("not encodable as JSON")
	}
	return t.validate(doc)
}

// ValidateDecoded is Validate for claims that are already decoded JSON — maps, slices,
// strings, booleans, nil and json.Number, as a decoder with UseNumber makes them, from a
// document whose size the decoder bounded (a verified credential) — without encoding them
// again: MaxClaimsSize is not checked. Claims holding any other Go value go through Validate.
func (t *Type) ValidateDecoded(claims map[string]any) error {
	if t.schema == nil || claims == nil || !decodedJSON(claims, 0) {
		return t.Validate(claims)
	}
	return t.validate(claims)
}

// decodedJSON reports whether v is made only of what a JSON decoder with UseNumber makes, no
// deeper than 64 levels.
func decodedJSON(v any, depth int) bool {
	if depth > 64 {
		return false
	}
	switch t := v.(type) {
	case nil, bool, string, json.Number:
		return true
	case map[string]any:
		for _, e := range t {
			if !decodedJSON(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range t {
			if !decodedJSON(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func (t *Type) fail(reason string) error {
	return &ClaimsError{Type: t.Name, Violations: []Violation{{Path: "", Reason: reason}}}
}

// validate checks doc, decoded JSON, against the schema.
func (t *Type) validate(doc any) error {
	var vs []Violation
	bigNumbers(doc, "", &vs)
	if len(vs) > 0 {
		return &ClaimsError{Type: t.Name, Violations: vs}
	}
	err := t.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return t.fail("schema validation failed")
	}
	collect(ve, t.Name, &vs)
	if len(vs) == 0 {
		vs = append(vs, Violation{Path: "", Reason: "does not match the schema"})
	}
	sort.Slice(vs, func(i, j int) bool {
		if vs[i].Path != vs[j].Path {
			return vs[i].Path < vs[j].Path
		}
		return vs[i].Reason < vs[j].Reason
	})
	return &ClaimsError{Type: t.Name, Violations: slices.Compact(vs)}
}

var printer = message.NewPrinter(language.English)

// collect appends one violation per leaf of the validation error tree.
func collect(e *jsonschema.ValidationError, typeName string, vs *[]Violation) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, typeName, vs)
		}
		return
	}
	at := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*vs = append(*vs, Violation{Path: at + "/" + escape(m), Reason: "required"})
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			reason := "not allowed here"
			if at == "" {
				reason = "not a claim of " + typeName
			}
			*vs = append(*vs, Violation{Path: at + "/" + escape(p), Reason: reason})
		}
	default:
		*vs = append(*vs, Violation{Path: at, Reason: reason(e.ErrorKind)})
	}
}

// reason describes a failed keyword without the instance's value, which may be personal
// data.
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("does not match pattern %s", k.Want)
	case *kind.Format:
		return fmt.Sprintf("is not a valid %s", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("longer than %d characters", k.Want)
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("shorter than %d characters", k.Want)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s", k.Want.RatString())
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s", k.Want.RatString())
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be greater than %s", k.Want.RatString())
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be less than %s", k.Want.RatString())
	case *kind.ContentEncoding:
		return fmt.Sprintf("is not %s", k.Want)
	case *kind.ContentMediaType:
		return fmt.Sprintf("is not %s", k.Want)
	case *kind.Enum, *kind.Const, *kind.MinItems, *kind.MaxItems, *kind.UniqueItems,
		*kind.MinProperties, *kind.MaxProperties, *kind.MultipleOf:
		// These messages name the schema's values and counts, not the instance's.
		return k.LocalizedString(printer)
	case *kind.FalseSchema:
		return "not allowed"
	}
	return "fails " + strings.Join(k.KeywordPath(), "/")
}

// bigNumbers appends a violation for every number in v that checkNumber refuses, sorted
// by path.
func bigNumbers(v any, at string, vs *[]Violation) {
	switch v := v.(type) {
	case json.Number:
		if err := checkNumber(string(v)); err != nil {
			*vs = append(*vs, Violation{Path: at, Reason: err.Error()})
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			bigNumbers(v[k], at+"/"+escape(k), vs)
		}
	case []any:
		for i, e := range v {
			bigNumbers(e, fmt.Sprintf("%s/%d", at, i), vs)
		}
	}
}

// pointer encodes tokens as a JSON pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

func escape(token string) string {
	if !strings.ContainsAny(token, "~/") {
		return token
	}
	return pointerEscaper.Replace(token)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// Example returns a fresh deep copy of the type file's example claims, which validate
// against the type's schema.
func (t *Type) Example() map[string]any {
	return copyClaims(t.example)
}

// Disclosable returns, sorted, the names of the claims present in claims that become
// selective disclosures when a credential of this type is issued.
func (t *Type) Disclosable(claims map[string]any) []string {
	out := []string{}
	for _, n := range t.DisclosableClaims {
		if _, ok := claims[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

func copyClaims(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return deepCopy(m).(map[string]any)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}
