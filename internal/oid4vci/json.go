package oid4vci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

const (
	// MaxMessageSize is the largest JSON message (offer, metadata, request or response body
	// other than a Credential Response) that the Parse functions accept: 16 KiB.
	MaxMessageSize = 16 << 10
	// MaxMetadataSize is the largest Credential Issuer metadata document accepted: 256 KiB,
	// since metadata lists every credential configuration with its display data.
	MaxMetadataSize = 256 << 10
	// MaxCredentialResponseSize is the largest Credential Response accepted: 4 MiB, since it
	// carries a batch of credentials.
	MaxCredentialResponseSize = 4 << 20
	// maxDepth is the deepest nesting of objects and arrays accepted; the outermost value counts
	// as depth 1.
	maxDepth = 32
)

// decodeStrict decodes data, which must be a single JSON object of at most limit bytes, into v.
// Before decoding it checks that data is valid UTF-8 and valid JSON with nothing after the
// value, nested at most maxDepth deep, with no object repeating a member name. Because
// encoding/json matches struct fields case-insensitively, two member names that differ only in
// case also count as a repeat: otherwise {"credential_issuer":..,"Credential_Issuer":..} would
// let the last one silently win. Unknown members are ignored. Errors wrap ErrMalformed or
// ErrTooLarge; what names the message in them.
func decodeStrict(data []byte, limit int, what string, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(data), limit)
	}
	if err := checkJSON(data, what); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return nil
}

// checkJSON performs the checks of decodeStrict without decoding into a value. The top-level
// value must be an object.
func checkJSON(data []byte, what string) error {
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
	dec.UseNumber()
	if err := walkJSON(dec, 1, what); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: data after the JSON value", ErrMalformed, what)
	}
	return nil
}

// walkJSON reads the next value from dec, at nesting depth depth, checking depth and repeated
// member names.
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
	switch d {
	case '{':
		seen := make(map[string]bool)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
			}
			k, _ := kt.(string) // json.Valid passed, so member names are strings
			// Upper then lower folds the same pairs as the EqualFold that encoding/json uses,
			// including the Kelvin sign and long s.
			folded := strings.ToLower(strings.ToUpper(k))
			if seen[folded] {
				return fmt.Errorf("%w: %s: duplicate member name %q", ErrMalformed, what, k)
			}
			seen[folded] = true
			if err := walkJSON(dec, depth+1, what); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walkJSON(dec, depth+1, what); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return nil
}

// encodeJSON encodes v compactly without HTML escaping, so that URLs and descriptions read as
// written.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
