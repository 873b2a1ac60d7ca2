package oid4vp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

const (
	// MaxRequestObjectSize is the largest request object (a compact JWS) accepted: 64 KiB.
	MaxRequestObjectSize = 64 << 10
	// MaxQuerySize is the largest DCQL query, as JSON, accepted: 32 KiB.
	MaxQuerySize = 32 << 10
	// MaxVPTokenSize is the largest vp_token, as JSON, accepted: 512 KiB (a few SD-JWT
	// presentations of up to 64 KiB each).
	MaxVPTokenSize = 512 << 10
	// maxDepth is the deepest nesting of objects and arrays accepted.
	maxDepth = 32
)

// decodeStrict decodes data, a single JSON object of at most limit bytes, into v after
// checking that it is valid UTF-8 and JSON with nothing after it, nested at most maxDepth
// deep, and free of repeated member names (compared case-insensitively, as encoding/json
// matches struct fields that way). Unknown members are ignored. Errors wrap ErrMalformed or
// ErrTooLarge.
func decodeStrict(data []byte, limit int, what string, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(data), limit)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: %s: invalid UTF-8", ErrMalformed, what)
	}
	if !json.Valid(data) {
		return fmt.Errorf("%w: %s: not valid JSON", ErrMalformed, what)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: %s: not a JSON object", ErrMalformed, what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walkJSON(dec, 1, what); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: data after the JSON value", ErrMalformed, what)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return nil
}

// walkJSON reads the next value from dec at depth depth, checking depth and repeated names.
func walkJSON(dec *json.Decoder, depth int, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth > maxDepth {
		return fmt.Errorf("%w: %s: JSON nested deeper than %d", ErrTooLarge, what, maxDepth)
	}
	if d == '{' {
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
			}
			k, _ := kt.(string)
			folded := strings.ToLower(strings.ToUpper(k))
			if seen[folded] {
				return fmt.Errorf("%w: %s: duplicate member name %q", ErrMalformed, what, k)
			}
			seen[folded] = true
			if err := walkJSON(dec, depth+1, what); err != nil {
				return err
			}
		}
	} else {
		for dec.More() {
			if err := walkJSON(dec, depth+1, what); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return nil
}

// encodeJSON encodes v compactly without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
