package ldvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Input limits applied before any JSON-LD processing.
const (
	// MaxCredentialSize is the largest credential Verify accepts, in bytes.
	MaxCredentialSize = 64 << 10
	// MaxDepth is the deepest nesting of JSON objects and arrays Verify
	// accepts (the credential object itself is depth 1).
	MaxDepth = 16
)

// checkJSON rejects input that is not exactly one JSON object, that nests
// deeper than MaxDepth, or that repeats a member name inside an object
// (encoding/json would keep the last one; another parser might keep the
// first, so duplicates make signed JSON ambiguous).
func checkJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()

	type frame struct {
		object bool
		keys   map[string]struct{}
		expKey bool // inside an object, the next string token is a member name
	}
	var stack []*frame

	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: a credential must be a JSON object", ErrMalformed)
	}
	stack = append(stack, &frame{object: true, keys: map[string]struct{}{}, expKey: true})

	for len(stack) > 0 {
		tok, err = dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		top := stack[len(stack)-1]
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].expKey = true
			}
			continue
		}
		if top.object && top.expKey {
			k, _ := tok.(string)
			if _, dup := top.keys[k]; dup {
				return fmt.Errorf("%w: duplicate member %q", ErrMalformed, k)
			}
			top.keys[k] = struct{}{}
			top.expKey = false
			continue
		}
		// A value.
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= MaxDepth {
				return fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, MaxDepth)
			}
			f := &frame{object: d == '{', expKey: d == '{'}
			if f.object {
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
			continue
		}
		if top.object {
			top.expKey = true
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the credential", ErrMalformed)
	}
	return nil
}
