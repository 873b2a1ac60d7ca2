package sdjwt

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Issuing hashes and signs JSON, so the bytes must be exactly those encodeJSON writes for the
// value decodeJSON would read back. Round-tripping every credential through encoding/json is
// most of the cost of issuing in bulk, so this file does the same in one walk for the values
// issuers actually pass (maps, slices, strings, booleans, integers, json.Number) and falls back
// to the round trip for anything else. FuzzCanonical checks that both ways agree.

// canonicalize returns v as decodeJSON would return encodeJSON(v): a tree of map[string]any,
// []any, string, bool, nil and json.Number, and whether that differs from v (if not, v itself
// is returned: maps and slices are copied only where something in them changes). Callers must
// not modify the result in place. depth is the nesting depth of v (1 for a top-level object).
// Errors: a value that does not encode (wrapping the encoding/json error), or nesting deeper
// than maxDepth (ErrTooLarge).
func canonicalize(v any, depth int) (any, bool, error) {
	switch t := v.(type) {
	case nil, bool:
		return t, false, nil
	case string:
		if utf8.ValidString(t) {
			return t, false, nil
		}
	case json.Number:
		if t == "" {
			return json.Number("0"), true, nil // encoding/json writes an empty Number as 0
		}
		if validNumber(string(t)) {
			return t, false, nil
		}
		return nil, false, fmt.Errorf("json: invalid number literal %q", string(t))
	case int:
		return json.Number(strconv.Itoa(t)), true, nil
	case int64:
		return json.Number(strconv.FormatInt(t, 10)), true, nil
	case map[string]any:
		if t == nil {
			return nil, true, nil // a nil map encodes as null
		}
		if depth > maxDepth {
			return nil, false, fmt.Errorf("%w: JSON nested deeper than %d", ErrTooLarge, maxDepth)
		}
		var out map[string]any // nil until a member changes
		for k, e := range t {
			if !utf8.ValidString(k) {
				return roundTrip(v, depth) // two invalid keys may become one: let encoding/json decide
			}
			c, changed, err := canonicalize(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = maps.Clone(t)
			}
			if changed {
				out[k] = c
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	case []any:
		if t == nil {
			return nil, true, nil // a nil slice encodes as null
		}
		if depth > maxDepth {
			return nil, false, fmt.Errorf("%w: JSON nested deeper than %d", ErrTooLarge, maxDepth)
		}
		var out []any
		for i, e := range t {
			c, changed, err := canonicalize(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = slices.Clone(t)
			}
			if changed {
				out[i] = c
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	}
	return roundTrip(v, depth)
}

// roundTrip is canonicalize the slow way, for values of other types (structs, floats, JSON
// marshalers): encode, then decode strictly, then check the depth of the result.
func roundTrip(v any, depth int) (any, bool, error) {
	raw, err := encodeJSON(v)
	if err != nil {
		return nil, false, err
	}
	d, err := decodeJSON(raw, "claims")
	if err != nil {
		return nil, false, err
	}
	if tooDeep(d, depth) {
		return nil, false, fmt.Errorf("%w: JSON nested deeper than %d", ErrTooLarge, maxDepth)
	}
	return d, true, nil
}

// tooDeep reports whether the decoded value v at depth nests deeper than maxDepth.
func tooDeep(v any, depth int) bool {
	switch t := v.(type) {
	case map[string]any:
		if depth > maxDepth {
			return true
		}
		for _, e := range t {
			if tooDeep(e, depth+1) {
				return true
			}
		}
	case []any:
		if depth > maxDepth {
			return true
		}
		for _, e := range t {
			if tooDeep(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// validNumber reports whether s is a JSON number literal.
func validNumber(s string) bool {
	// The grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// appendJSON appends the encoding of a canonical value (see canonicalize) exactly as
// encodeJSON writes it: compact, map keys sorted, <, > and & not escaped.
func appendJSON(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, t)
	case string:
		return appendString(b, t)
	case json.Number:
		return append(b, t...)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, t[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	panic(fmt.Sprintf("sdjwt: appendJSON of non-canonical %T", v))
}

// appendString appends s, valid UTF-8, as a JSON string the way encoding/json does without
// HTML escaping: ", \ and control characters escaped (\b \f \n \r \t by name, the others as
// \u00XX), and U+2028 and U+2029 as \u2028 and \u2029.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// sdKeyPath is findSDKeys, cheap when there is nothing to find (the common case): the sorted
// walk that names the path runs only once hasSDKeys has found something.
func sdKeyPath(v any, path string) string {
	if !hasSDKeys(v) {
		return ""
	}
	return findSDKeys(v, path)
}

// hasSDKeys is findSDKeys for a canonical value, without building paths unless one is found.
func hasSDKeys(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == sdKey || k == ellipsisKey || hasSDKeys(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasSDKeys(e) {
				return true
			}
		}
	}
	return false
}
