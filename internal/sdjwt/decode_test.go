package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The encoding/json token walk decodeJSON replaced, kept as the oracle FuzzDecodeJSON compares
// the single-pass decoder with.
func oracleDecodeJSON(data []byte, what string) (any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: %s: invalid UTF-8", ErrSyntax, what)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: %s: not valid JSON", ErrSyntax, what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 1, what)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %s: data after the JSON value", ErrSyntax, what)
	}
	return v, nil
}

// readValue reads the next JSON value from dec, which sits at nesting depth depth.
func readValue(dec *json.Decoder, depth int, what string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, what, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: %s: JSON nested deeper than %d", ErrTooLarge, what, maxDepth)
	}
	switch d {
	case '{':
		m := make(map[string]any)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, what, err)
			}
			k, ok := kt.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s: object member name is not a string", ErrSyntax, what)
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("%w: %s: duplicate member name %q", ErrSyntax, what, k)
			}
			v, err := readValue(dec, depth+1, what)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := dec.Token(); err != nil { // the closing '}'
			return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, what, err)
		}
		return m, nil
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readValue(dec, depth+1, what)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, what, err)
		}
		return a, nil
	default:
		return nil, fmt.Errorf("%w: %s: unexpected %q", ErrSyntax, what, d)
	}
}

// checkDecode asserts that decodeJSON and the oracle agree on data: both fail (with the same
// kind of error) or both give the same value.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	got, gerr := decodeJSON(data, "x")
	want, werr := oracleDecodeJSON(data, "x")
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("decodeJSON(%q) = %v, %v; oracle %v, %v", data, got, gerr, want, werr)
	}
	if gerr != nil {
		if !errors.Is(gerr, ErrSyntax) && !errors.Is(gerr, ErrTooLarge) {
			t.Fatalf("decodeJSON(%q) error %v wraps neither ErrSyntax nor ErrTooLarge", data, gerr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON(%q) = %#v; oracle %#v", data, got, want)
	}
}

func TestDecodeJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1,"b":[true,false,null,"x",-0.5e+3]}`, ` { "a" : "b" } `, `"\u00e9\ud83d\ude97\n\/"`,
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\ud800\udc00"`, `"\u12"`, `"\x"`, "\"tab\tin\"",
		`{"a":1,"a":2}`, `{"a":1,}`, `[1,]`, `[01]`, `1.`, `-`, `1e`, `.5`, `tru`, `nulll`, `{"a" 1}`, `{1:2}`,
		`"unterminated`, `[1 2]`, `{} {}`, ``, ` `, "\xff", `"\u0000"`, `1E+2`, `-0`, `[[[]]]`,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
	} {
		checkDecode(t, []byte(s))
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"\u00e9",null]}`, `"\ud83d\ude97"`, `{"a":1,"a":2}`, `[[[[1]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}
