package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file keeps the encoding/json token walks that Decode and Check replaced, as the
// oracles the fuzz tests compare them with.

// oracleDecode is sdjwt's former decodeJSON: encoding/json's token stream, with numbers as
// json.Number and duplicate names refused.
func oracleDecode(data []byte, maxDepth int) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	if !json.Valid(data) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := oracleValue(dec, 1, maxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// oracleValue reads the next JSON value from dec, which sits at nesting depth depth.
func oracleValue(dec *json.Decoder, depth, maxDepth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxDepth)
	}
	switch d {
	case '{':
		m := make(map[string]any)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, ok := kt.(string)
			if !ok {
				return nil, errors.New("object member name is not a string")
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate member name %q", k)
			}
			v, err := oracleValue(dec, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		if _, err := dec.Token(); err != nil { // the closing '}'
			return nil, err
		}
		return m, nil
	case '[':
		a := []any{}
		for dec.More() {
			v, err := oracleValue(dec, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return nil, err
		}
		return a, nil
	default:
		return nil, fmt.Errorf("unexpected %q", d)
	}
}

// oracleCheck is internal/web's former checkJSON: encoding/json's token stream, member names
// compared with oracleFold, nesting limited to maxDepth.
func oracleCheck(data []byte, maxDepth int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		wantKey bool
		names   map[string]struct{}
	}
	var stack []frame
	for {
		offset := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON at offset %d: %v", offset, err)
		}
		valueDone := false
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if len(stack) == maxDepth {
					return fmt.Errorf("JSON nested deeper than %d at offset %d", maxDepth, offset)
				}
				stack = append(stack, frame{object: tok == '{', wantKey: tok == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone = true
			}
		case string:
			if top := len(stack) - 1; top >= 0 && stack[top].wantKey {
				f := &stack[top]
				k := oracleFold(tok)
				if _, dup := f.names[k]; dup {
					return fmt.Errorf("duplicate member name %q at offset %d", tok, offset)
				}
				if f.names == nil {
					f.names = make(map[string]struct{})
				}
				f.names[k] = struct{}{}
				f.wantKey = false
			} else {
				valueDone = true
			}
		default:
			valueDone = true
		}
		if !valueDone {
			continue
		}
		if len(stack) == 0 {
			break
		}
		if top := &stack[len(stack)-1]; top.object {
			top.wantKey = true
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// oracleFold is internal/web's former foldName: every rune becomes the smallest rune of its
// Unicode simple case-folding orbit.
func oracleFold(s string) string {
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// kindOf classifies an oracle error by its text.
func kindOf(err error) string {
	switch s := err.Error(); {
	case strings.Contains(s, "duplicate member name"):
		return "duplicate"
	case strings.Contains(s, "nested deeper"):
		return "depth"
	}
	return "syntax"
}
