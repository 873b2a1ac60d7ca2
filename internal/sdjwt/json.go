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

	"github.com/ezheng/ezheng/internal/strictjson"
)

// maxDepth is the deepest nesting of JSON objects and arrays accepted anywhere in an SD-JWT:
// the outermost object or array counts as depth 1.
const maxDepth = 32

// b64 is the encoding used for every part of an SD-JWT: base64url without padding.
var b64 = base64.RawURLEncoding

// b64Strict is b64 refusing non-zero unused trailing bits (made once: Strict returns a new
// Encoding on every call).
var b64Strict = b64.Strict()

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
	b, err := b64Strict.DecodeString(s)
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

// decodeJSON decodes one JSON value strictly with strictjson.Decode: the input must be valid
// UTF-8 and valid JSON with nothing after the value, objects must not repeat a member name, and
// nesting must not exceed maxDepth. Numbers are kept as json.Number so that re-encoding never
// turns a large integer into a float. what names the decoded thing in error messages. Errors
// wrap ErrSyntax, or ErrTooLarge for nesting that is too deep.
func decodeJSON(data []byte, what string) (any, error) {
	v, err := strictjson.Decode(data, strictjson.Options{MaxDepth: maxDepth})
	if err != nil {
		return nil, strictjson.Wrap(err, ErrSyntax, ErrTooLarge, what)
	}
	return v, nil
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
