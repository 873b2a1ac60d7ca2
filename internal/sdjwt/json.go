package sdjwt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of JSON objects and arrays accepted anywhere in an SD-JWT:
// the outermost object or array counts as depth 1.
const maxDepth = 32

// b64 is the encoding used for every part of an SD-JWT: base64url without padding.
var b64 = base64.RawURLEncoding

// decodeB64 decodes a base64url string strictly: only the 64 alphabet characters (no padding,
// no white space, no line breaks) and zero unused trailing bits. Encoding/base64 on its own
// skips CR and LF and, without Strict, ignores trailing bits, which would let two different
// strings carry the same bytes; every string we hash or sign must have exactly one spelling.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %#x at offset %d is not base64url", c, i)
		}
	}
	b, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not canonical base64url")
	}
	return b, nil
}

// digest returns base64url(SHA-256(s)), the digest of a Disclosure and the sd_hash of an SD-JWT.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b64.EncodeToString(sum[:])
}

// decodeJSON decodes one JSON value strictly: the input must be valid UTF-8 and valid JSON with
// nothing after the value, objects must not repeat a member name, and nesting must not exceed
// maxDepth. Numbers are kept as json.Number so that re-encoding never turns a large integer into
// a float. Strings decode as encoding/json decodes them (a lone surrogate escape becomes
// U+FFFD). what names the decoded thing in error messages. Errors wrap ErrSyntax, or
// ErrTooLarge for nesting that is too deep.
//
// It is a single pass over the bytes rather than encoding/json's token stream, which made up
// most of the time of verifying a presentation; FuzzDecodeJSON checks that both agree.
func decodeJSON(data []byte, what string) (any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: %s: invalid UTF-8", ErrSyntax, what)
	}
	d := jsonDecoder{data: data}
	d.space()
	v, err := d.value(1)
	if err == nil {
		if d.space(); d.i != len(d.data) {
			err = errJSONSyntax
		}
	}
	switch {
	case err == errJSONSyntax:
		return nil, fmt.Errorf("%w: %s: not valid JSON", ErrSyntax, what)
	case err == errJSONDepth:
		return nil, fmt.Errorf("%w: %s: JSON nested deeper than %d", ErrTooLarge, what, maxDepth)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, what, err)
	}
	return v, nil
}

var (
	errJSONSyntax = errors.New("not valid JSON")
	errJSONDepth  = errors.New("too deep")
)

// jsonDecoder is decodeJSON's parser: data, valid UTF-8, and the offset i of the next byte.
type jsonDecoder struct {
	data []byte
	i    int
}

func (d *jsonDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value reads the value at d.i, which sits at nesting depth depth.
func (d *jsonDecoder) value(depth int) (any, error) {
	if d.i >= len(d.data) {
		return nil, errJSONSyntax
	}
	switch c := d.data[d.i]; {
	case c == '{':
		if depth > maxDepth {
			return nil, errJSONDepth
		}
		d.i++
		m := map[string]any{}
		d.space()
		if d.i < len(d.data) && d.data[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.space()
			if d.i >= len(d.data) || d.data[d.i] != '"' {
				return nil, errJSONSyntax
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate member name %q", k)
			}
			d.space()
			if d.i >= len(d.data) || d.data[d.i] != ':' {
				return nil, errJSONSyntax
			}
			d.i++
			d.space()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			d.space()
			if d.i >= len(d.data) {
				return nil, errJSONSyntax
			}
			switch d.data[d.i] {
			case ',':
				d.i++
			case '}':
				d.i++
				return m, nil
			default:
				return nil, errJSONSyntax
			}
		}
	case c == '[':
		if depth > maxDepth {
			return nil, errJSONDepth
		}
		d.i++
		a := []any{}
		d.space()
		if d.i < len(d.data) && d.data[d.i] == ']' {
			d.i++
			return a, nil
		}
		for {
			d.space()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			d.space()
			if d.i >= len(d.data) {
				return nil, errJSONSyntax
			}
			switch d.data[d.i] {
			case ',':
				d.i++
			case ']':
				d.i++
				return a, nil
			default:
				return nil, errJSONSyntax
			}
		}
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		start := d.i
		for d.i < len(d.data) {
			c := d.data[d.i]
			if !('0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				break
			}
			d.i++
		}
		n := string(d.data[start:d.i])
		if !validNumber(n) {
			return nil, errJSONSyntax
		}
		return json.Number(n), nil
	}
	return nil, errJSONSyntax
}

func (d *jsonDecoder) literal(lit string) error {
	if !bytes.HasPrefix(d.data[d.i:], []byte(lit)) {
		return errJSONSyntax
	}
	d.i += len(lit)
	return nil
}

// str reads the string whose opening quote is at d.i.
func (d *jsonDecoder) str() (string, error) {
	d.i++
	start := d.i
	for d.i < len(d.data) { // the common case: no escapes
		c := d.data[d.i]
		if c == '"' {
			s := string(d.data[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", errJSONSyntax
		}
		d.i++
	}
	b := append([]byte(nil), d.data[start:d.i]...)
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", errJSONSyntax
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.data) {
			return "", errJSONSyntax
		}
		e := d.data[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", errJSONSyntax
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; anything else is U+FFFD, as encoding/json has it.
				r2, ok2 := rune(-1), false
				if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					if r2, ok2 = d.hex4(); !ok2 {
						return "", errJSONSyntax
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						continue
					}
					d.i = save // not a pair: the second escape is read on its own
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", errJSONSyntax
		}
	}
	return "", errJSONSyntax
}

// hex4 reads four hex digits at d.i.
func (d *jsonDecoder) hex4() (rune, bool) {
	if d.i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.i : d.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// decodeObject is decodeJSON for input that must be a JSON object.
func decodeObject(data []byte, what string) (map[string]any, error) {
	v, err := decodeJSON(data, what)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a JSON object", ErrSyntax, what)
	}
	return m, nil
}

// encodeJSON encodes v compactly, without escaping <, > and & (the bytes are hashed and signed,
// never embedded in HTML). Map keys come out sorted, so the result is deterministic.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// findSDKeys reports the path of the first "_sd" member or "..." member found in v at any depth
// below the top level of an object, or "" if there is none. Such members mean nested or
// array-element selective disclosure, which this package does not support.
func findSDKeys(v any, path string) string {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) { // sorted: the same input reports the same path
			e := t[k]
			p := path + "." + k
			if k == sdKey || k == ellipsisKey {
				return p
			}
			if q := findSDKeys(e, p); q != "" {
				return q
			}
		}
	case []any:
		for i, e := range t {
			if q := findSDKeys(e, fmt.Sprintf("%s[%d]", path, i)); q != "" {
				return q
			}
		}
	}
	return ""
}
