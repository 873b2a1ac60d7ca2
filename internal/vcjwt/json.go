package vcjwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// b64 is the encoding of every part of a compact JWS: base64url without padding.
var b64 = base64.RawURLEncoding

// decodeSegment decodes one part of a compact JWS strictly: only the 64 alphabet characters (no
// padding, white space or line breaks) and zero unused trailing bits, so that every token has
// exactly one spelling. Errors wrap ErrMalformed.
func decodeSegment(s, what string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("%w: %s: byte %#x at offset %d is not base64url", ErrMalformed, what, c, i)
		}
	}
	b, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not canonical base64url", ErrMalformed, what)
	}
	return b, nil
}

// decodeObject decodes data, which must be one JSON object, strictly: valid UTF-8, valid JSON
// with nothing after the value, no object repeating a member name, nesting at most MaxDepth.
// Numbers are kept as json.Number. what names the data in error messages. Errors wrap
// ErrMalformed.
func decodeObject(data []byte, what string) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: %s: invalid UTF-8", ErrMalformed, what)
	}
	// json.Valid checks the grammar, so the token walk below only has to catch what the
	// grammar allows and we do not: repeated member names and deep nesting.
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: %s: not valid JSON", ErrMalformed, what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %s: data after the JSON value", ErrMalformed, what)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a JSON object", ErrMalformed, what)
	}
	return m, nil
}

// readValue reads the next JSON value from dec, which sits at nesting depth depth.
func readValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth > MaxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", MaxDepth)
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
			if m[k], err = readValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing '}'
			return nil, err
		}
		return m, nil
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return nil, err
		}
		return a, nil
	}
	return nil, fmt.Errorf("unexpected %q", d)
}

// encodeJSON encodes v compactly without HTML escaping (the bytes are signed, never embedded in
// HTML). Map keys come out sorted and struct fields in order, so the result is deterministic.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
