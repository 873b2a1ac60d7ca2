// Package strictjson checks and decodes JSON strictly, in one pass over the bytes: the input
// must be valid UTF-8 and exactly one JSON value with nothing but white space after it, nested
// no deeper than a limit, and no object may repeat a member name (compared after unescaping,
// and optionally ignoring case as encoding/json does when it matches struct fields). Options
// relax or add rules for the callers that need it: invalid UTF-8 read as encoding/json reads
// it, a top-level object required, syntax errors reported before any other.
//
// Check only judges the input; Decode also builds the value, with numbers as json.Number.
// Their errors are *Error values carrying a stable Kind and the byte offset of the problem;
// Wrap turns one into a package's own sentinel error. Request bodies (internal/web), JWS
// headers and payloads, credentials and ledger operations are checked here, so that those
// packages agree on what strict means. All functions are safe for concurrent use.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting limit used when Options.MaxDepth is zero or negative.
const DefaultMaxDepth = 128

// Options says how strict Check and Decode are.
type Options struct {
	// MaxDepth is the deepest nesting of objects and arrays accepted; the outermost object
	// or array counts as depth 1. Zero or less means DefaultMaxDepth.
	MaxDepth int
	// FoldNames makes two member names of one object a duplicate when they are equal under
	// strings.EqualFold (Unicode simple case folding), the rule encoding/json uses to match
	// member names to struct fields: {"pin":"1","PIN":"2"} is then refused.
	FoldNames bool
	// AllowInvalidUTF8 accepts bytes that are not valid UTF-8 inside strings, reading each
	// such byte as U+FFFD as encoding/json does (also when comparing member names). Decode
	// ignores it: a decoded value is always valid UTF-8.
	AllowInvalidUTF8 bool
	// Object requires the value to be an object.
	Object bool
	// SyntaxFirst makes a syntax error anywhere in the input (of kind Syntax, End or
	// Trailing) win over a NotObject, Depth or Duplicate error earlier in it, as if the whole
	// input had been checked with json.Valid first. It costs a second pass over refused input
	// only.
	SyntaxFirst bool
}

// Check returns nil if data follows the rules of opts, and otherwise an *Error for the first
// rule broken: invalid UTF-8 (unless allowed) before anything else, then (unless
// opts.SyntaxFirst) whatever comes first in data. It builds no values.
func Check(data []byte, opts Options) error {
	d := newDecoder(data, opts, false)
	var arena [512]byte // enough for the names of most inputs
	var names [32][2]int
	d.arena, d.names = arena[:0], names[:0]
	if !opts.AllowInvalidUTF8 {
		if err := d.checkUTF8(); err != nil {
			return err
		}
	}
	_, err := d.top()
	return syntaxFirst(data, opts, err)
}

// syntaxFirst returns err, or the syntax error in data if err is a NotObject, Depth or
// Duplicate error, opts asks for SyntaxFirst and data has one.
func syntaxFirst(data []byte, opts Options, err error) error {
	e, ok := err.(*Error)
	if !opts.SyntaxFirst || !ok || e.Kind != NotObject && e.Kind != Depth && e.Kind != Duplicate {
		return err
	}
	// encoding/json's scanner needs no recursion, so any nesting is fine here.
	var se *json.SyntaxError
	if !errors.As(json.Unmarshal(data, new(json.RawMessage)), &se) {
		return err
	}
	switch {
	case strings.Contains(se.Error(), "unexpected end of JSON input"):
		return &Error{Kind: End, Offset: len(data)}
	case strings.HasSuffix(se.Error(), "after top-level value"):
		return &Error{Kind: Trailing, Offset: int(se.Offset) - 1}
	}
	return &Error{Kind: Syntax, Offset: int(se.Offset) - 1, detail: strings.TrimPrefix(se.Error(), "json: ")}
}

// Decode checks data as Check does (in the same pass) and returns its value: map[string]any for objects, []any
// for arrays, string, json.Number, bool or nil. Strings decode as encoding/json decodes them
// (a lone surrogate escape becomes U+FFFD); Options.AllowInvalidUTF8 is ignored. Errors are
// *Error values.
func Decode(data []byte, opts Options) (any, error) {
	opts.AllowInvalidUTF8 = false
	d := newDecoder(data, opts, true)
	if err := d.checkUTF8(); err != nil {
		return nil, err
	}
	v, err := d.top()
	if err != nil {
		return nil, syntaxFirst(data, opts, err)
	}
	return v, nil
}

func newDecoder(data []byte, opts Options, build bool) decoder {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	return decoder{data: data, opts: opts, build: build}
}

// decoder is the parser of Check and Decode: data, and the offset i of the next byte.
type decoder struct {
	data  []byte
	i     int
	opts  Options
	build bool // Decode: build the values

	// names holds the unescaped member names of the objects being read, as spans of arena;
	// an object with more than smallObject members also keeps a map of their keys.
	arena []byte
	names [][2]int
	buf   []byte // scratch for unescaping strings
	fold  []byte // scratch for folding names
}

// smallObject is the number of members an object may have before its names are kept in a map:
// comparing a name with a few others is cheaper than hashing it.
const smallObject = 16

func (d *decoder) checkUTF8() error {
	if utf8.Valid(d.data) {
		return nil
	}
	i := 0
	for i < len(d.data) {
		r, n := utf8.DecodeRune(d.data[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return &Error{Kind: UTF8, Offset: i}
}

func (d *decoder) top() (any, error) {
	d.space()
	if d.opts.Object && d.i < len(d.data) && d.data[d.i] != '{' {
		return nil, &Error{Kind: NotObject, Offset: d.i}
	}
	v, err := d.value(1)
	if err != nil {
		return nil, err
	}
	if d.space(); d.i != len(d.data) {
		return nil, &Error{Kind: Trailing, Offset: d.i}
	}
	return v, nil
}

// syntax returns the error for an unexpected byte at d.i (or the end of the input) while
// reading context, such as "looking for beginning of value".
func (d *decoder) syntax(context string) error {
	if d.i >= len(d.data) {
		return &Error{Kind: End, Offset: len(d.data)}
	}
	return &Error{Kind: Syntax, Offset: d.i, detail: fmt.Sprintf("invalid character %s %s", quoteChar(d.data[d.i]), context)}
}

// quoteChar formats c as encoding/json does in its syntax errors.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

func (d *decoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value reads the value at d.i, which sits at nesting depth depth. Unless d.build, it returns
// nil for every value.
func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.data) {
		return nil, d.syntax("looking for beginning of value")
	}
	switch c := d.data[d.i]; {
	case (c == '{' || c == '[') && depth > d.opts.MaxDepth:
		return nil, &Error{Kind: Depth, Offset: d.i, Limit: d.opts.MaxDepth}
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.str()
		if err != nil || !d.build {
			return nil, err
		}
		return string(s), nil
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		start := d.i
		if err := d.number(); err != nil || !d.build {
			return nil, err
		}
		return json.Number(d.data[start:d.i]), nil
	}
	return nil, d.syntax("looking for beginning of value")
}

// array reads the array whose '[' is at d.i.
func (d *decoder) array(depth int) (any, error) {
	d.i++
	var a []any
	if d.build {
		a = []any{}
	}
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
		if d.build {
			a = append(a, v)
		}
		if done, err := d.next(']', "after array element"); done || err != nil {
			return a, err
		}
	}
}

// next reads the ',' or the closing byte end after an element of an array or object, and
// reports whether it was end. context describes the place in a syntax error.
func (d *decoder) next(end byte, context string) (bool, error) {
	d.space()
	if d.i >= len(d.data) {
		return false, d.syntax("")
	}
	switch d.data[d.i] {
	case ',':
		d.i++
		return false, nil
	case end:
		d.i++
		return true, nil
	}
	return false, d.syntax(context)
}

// object reads the object whose '{' is at d.i.
func (d *decoder) object(depth int) (any, error) {
	d.i++
	var m map[string]any
	if d.build {
		m = map[string]any{}
	}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	// Names are checked here only when the map m cannot do it: when not building, or when
	// folding names.
	own := !d.build || d.opts.FoldNames
	first, arenaStart := len(d.names), len(d.arena)
	var big map[string]struct{}
	defer func() { d.names, d.arena = d.names[:first], d.arena[:arenaStart] }()
	for {
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, d.syntax("looking for beginning of object key string")
		}
		at := d.i
		raw, err := d.str()
		if err != nil {
			return nil, err
		}
		var k string
		if d.build {
			k = string(raw)
			if _, dup := m[k]; dup {
				return nil, &Error{Kind: Duplicate, Offset: at, Name: k}
			}
		}
		if own {
			if d.seen(raw, first, &big) {
				return nil, &Error{Kind: Duplicate, Offset: at, Name: d.name(raw)}
			}
		}
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.syntax("after object key")
		}
		d.i++
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if d.build {
			m[k] = v
		}
		if done, err := d.next('}', "after object key:value pair"); done || err != nil {
			return m, err
		}
	}
}

// name returns a member name for an error, with invalid UTF-8 read as U+FFFD.
func (d *decoder) name(raw []byte) string {
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

// seen records the member name raw (unescaped) of the object whose names start at
// d.names[first], and reports whether the object already had it.
func (d *decoder) seen(raw []byte, first int, big *map[string]struct{}) bool {
	if d.opts.AllowInvalidUTF8 && !utf8.Valid(raw) {
		raw = []byte(validUTF8(raw))
	}
	if *big != nil {
		k := d.key(raw)
		if _, dup := (*big)[string(k)]; dup {
			return true
		}
		(*big)[string(k)] = struct{}{}
		return false
	}
	for _, n := range d.names[first:] {
		other := d.arena[n[0]:n[1]]
		if d.opts.FoldNames && bytes.EqualFold(other, raw) || !d.opts.FoldNames && bytes.Equal(other, raw) {
			return true
		}
	}
	start := len(d.arena)
	d.arena = append(d.arena, raw...)
	d.names = append(d.names, [2]int{start, len(d.arena)})
	if len(d.names)-first > smallObject {
		*big = make(map[string]struct{}, 2*smallObject)
		for _, n := range d.names[first:] {
			(*big)[string(d.key(d.arena[n[0]:n[1]]))] = struct{}{}
		}
	}
	return false
}

// key is the map key of a member name: the name, folded if opts.FoldNames.
func (d *decoder) key(name []byte) []byte {
	if !d.opts.FoldNames {
		return name
	}
	d.fold = appendFold(d.fold[:0], name)
	return d.fold
}

// validUTF8 replaces each byte of b that is not part of valid UTF-8 with U+FFFD, as
// encoding/json does.
func validUTF8(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		sb.WriteRune(r)
		b = b[n:]
	}
	return sb.String()
}

// appendFold appends to dst a key for s shared by exactly the strings strings.EqualFold
// considers equal: every rune becomes the smallest rune of its Unicode simple case-folding
// orbit.
func appendFold(dst, s []byte) []byte {
	for len(s) > 0 {
		if c := s[0]; c < utf8.RuneSelf {
			// The smallest rune of an ASCII letter's orbit is its upper case (even for k and
			// s, whose orbits also hold the Kelvin sign and the long s).
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRune(s)
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		dst = utf8.AppendRune(dst, m)
		s = s[n:]
	}
	return dst
}

func (d *decoder) literal(lit string) error {
	for j := 0; j < len(lit); j++ {
		if d.i >= len(d.data) {
			return d.syntax("")
		}
		if d.data[d.i] != lit[j] {
			return d.syntax(fmt.Sprintf("in literal %s (expecting %s)", lit, quoteChar(lit[j])))
		}
		d.i++
	}
	return nil
}

// number reads the number at d.i, following the grammar of RFC 8259.
func (d *decoder) number() error {
	if d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i >= len(d.data):
		return d.syntax("")
	case d.data[d.i] == '0':
		d.i++
	case '1' <= d.data[d.i] && d.data[d.i] <= '9':
		d.digits()
	default:
		return d.syntax("in numeric literal")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if d.i >= len(d.data) || !isDigit(d.data[d.i]) {
			return d.syntax("after decimal point in numeric literal")
		}
		d.digits()
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.data) || !isDigit(d.data[d.i]) {
			return d.syntax("in exponent of numeric literal")
		}
		d.digits()
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (d *decoder) digits() {
	for d.i < len(d.data) && isDigit(d.data[d.i]) {
		d.i++
	}
}

// str reads the string whose opening quote is at d.i and returns it unescaped. The result
// may be data itself or scratch space that the next call reuses.
func (d *decoder) str() ([]byte, error) {
	d.i++
	start := d.i
	for d.i < len(d.data) { // the common case: no escapes
		c := d.data[d.i]
		if c == '"' {
			s := d.data[start:d.i]
			d.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, d.syntax("in string literal")
		}
		d.i++
	}
	b := append(d.buf[:0], d.data[start:d.i]...)
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			d.buf = b
			return b, nil
		case c < 0x20:
			return nil, d.syntax("in string literal")
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.data) {
			return nil, &Error{Kind: End, Offset: len(d.data)}
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
			r, err := d.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; anything else is U+FFFD, as encoding/json has it.
				if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					r2, err := d.hex4()
					if err != nil {
						return nil, err
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
			d.i--
			return nil, d.syntax("in string escape code")
		}
	}
	return nil, &Error{Kind: End, Offset: len(d.data)}
}

// hex4 reads four hex digits at d.i.
func (d *decoder) hex4() (rune, error) {
	var r rune
	for range 4 {
		if d.i >= len(d.data) {
			return 0, d.syntax("")
		}
		c := d.data[d.i]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, d.syntax(`in \u hexadecimal character escape`)
		}
		d.i++
	}
	return r, nil
}
