package ledger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ezheng/ezheng/internal/strictjson"
)

// maxDepth is the deepest nesting of JSON objects and arrays accepted in an operation's header
// or payload; the outermost object is depth 1. The deepest legitimate payload (an update adding
// a key: op → patches → patch → keys → key → publicKeyJwk) has depth 6.
const maxDepth = 8

// maxInt is the largest integer an operation may carry: 2^53-1, so that the canonical JSON
// here and RFC 8785 (which formats numbers as IEEE doubles) agree.
const maxInt = 1<<53 - 1

var b64 = base64.RawURLEncoding

// b64Strict refuses non-zero unused trailing bits; made once (Strict allocates a new Encoding).
var b64Strict = b64.Strict()

// decodeB64 decodes canonical base64url without padding: only alphabet characters and zero
// unused trailing bits, so every byte string has exactly one spelling.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %#x at offset %d is not base64url", c, i)
		}
	}
	b, err := b64Strict.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not canonical base64url")
	}
	return b, nil
}

// decodeStrict decodes one JSON value with strictjson.Decode: valid UTF-8, valid JSON, nothing
// after the value, no repeated member names, nesting at most maxDepth; a syntax error anywhere
// is reported first. Numbers stay json.Number. Errors carry CodeMalformed, or CodeTooLarge for
// nesting.
func decodeStrict(data []byte, what string) (any, error) {
	v, err := strictjson.Decode(data, strictjson.Options{MaxDepth: maxDepth, SyntaxFirst: true})
	var e *strictjson.Error
	switch {
	case err == nil:
		return v, nil
	case !errors.As(err, &e):
		return nil, opErr(CodeMalformed, "%s: %v", what, err)
	case e.Kind == strictjson.Depth:
		return nil, opErr(CodeTooLarge, "%s: JSON nested deeper than %d", what, maxDepth)
	case e.Kind == strictjson.Duplicate:
		return nil, opErr(CodeMalformed, "%s: duplicate member %q", what, e.Name)
	}
	return nil, opErr(CodeMalformed, "%s: %s", what, e.Reason()) // invalid UTF-8, not valid JSON
}

// canonicalJSON encodes v (built from maps, slices, strings, integers and bools) the way the
// ledger hashes and signs it: members sorted by name, no white space, no HTML escaping. For the
// values operations may hold (no control characters, no U+2028/U+2029, integers up to 2^53-1)
// this is the RFC 8785 (JCS) serialisation.
func canonicalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unsupported Go types fail, and we build every value ourselves.
		panic(fmt.Sprintf("ledger: canonical JSON: %v", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// object reads the members of a decoded JSON object, recording the first error and which
// members were used, so that unknown members can be rejected.
type object struct {
	m    map[string]any
	what string
	used []string
	err  error
}

func newObject(v any, what string) *object {
	m, ok := v.(map[string]any)
	o := &object{m: m, what: what}
	if !ok {
		o.err = opErr(CodeMalformed, "%s: not a JSON object", what)
	}
	return o
}

func (o *object) fail(format string, args ...any) {
	if o.err == nil {
		o.err = opErr(CodeMalformed, o.what+": "+format, args...)
	}
}

func (o *object) get(name string, required bool) (any, bool) {
	if o.err != nil {
		return nil, false
	}
	v, ok := o.m[name]
	if !ok {
		if required {
			o.fail("member %q missing", name)
		}
		return nil, false
	}
	o.used = append(o.used, name)
	return v, true
}

// str reads a string member of 1 to max bytes.
func (o *object) str(name string, required bool, max int) string {
	v, ok := o.get(name, required)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		o.fail("%q is not a string", name)
		return ""
	}
	if err := checkString(s, max); err != nil {
		o.fail("%q: %v", name, err)
	}
	return s
}

// uint reads a non-negative integer member of at most maxInt.
func (o *object) uint(name string) uint64 {
	v, ok := o.get(name, true)
	if !ok {
		return 0
	}
	n, ok := v.(json.Number)
	if !ok {
		o.fail("%q is not a number", name)
		return 0
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil || u > maxInt {
		o.fail("%q is not an integer between 0 and 2^53-1", name)
	}
	return u
}

// array reads an array member of at most max elements.
func (o *object) array(name string, required bool, max int, code Code) []any {
	v, ok := o.get(name, required)
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		o.fail("%q is not an array", name)
		return nil
	}
	if len(a) == 0 {
		o.fail("%q is empty (omit it instead)", name)
	}
	if len(a) > max && o.err == nil {
		o.err = opErr(code, "%s: %q has %d elements, at most %d", o.what, name, len(a), max)
	}
	return a
}

// strings reads an array of strings of 1 to maxLen bytes each.
func (o *object) strings(name string, required bool, max, maxLen int) []string {
	a := o.array(name, required, max, CodeMalformed)
	out := make([]string, 0, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok {
			o.fail("%q[%d] is not a string", name, i)
			return nil
		}
		if err := checkString(s, maxLen); err != nil {
			o.fail("%q[%d]: %v", name, i, err)
		}
		out = append(out, s)
	}
	return out
}

// done reports the first error, or an unknown member.
func (o *object) done() error {
	if o.err == nil && len(o.used) != len(o.m) {
		for _, k := range sortedNames(o.m) {
			if !slices.Contains(o.used, k) {
				return opErr(CodeMalformed, "%s: unknown member %q", o.what, k)
			}
		}
	}
	return o.err
}

func sortedNames(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// checkString accepts 1 to max bytes of UTF-8 without control characters, U+2028 or U+2029
// (which encoding/json and RFC 8785 would escape differently).
func checkString(s string, max int) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return fmt.Errorf("holds a control character")
		}
	}
	return nil
}
