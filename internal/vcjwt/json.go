package vcjwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/ezheng/ezheng/internal/strictjson"
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

// decodeObject decodes data, which must be one JSON object, strictly with strictjson.Decode:
// valid UTF-8, valid JSON with nothing after the value, no object repeating a member name,
// nesting at most MaxDepth. A syntax error anywhere is reported first, and a value other than
// an object last. Numbers are kept as json.Number. what names the data in error messages.
// Errors wrap ErrMalformed.
func decodeObject(data []byte, what string) (map[string]any, error) {
	v, err := strictjson.Decode(data, strictjson.Options{MaxDepth: MaxDepth, SyntaxFirst: true})
	if err != nil {
		return nil, strictjson.Wrap(err, ErrMalformed, ErrMalformed, what)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a JSON object", ErrMalformed, what)
	}
	return m, nil
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
