package oid4vp

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ezheng/ezheng/internal/strictjson"
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
// matches struct fields that way). Unknown members are ignored. A syntax error anywhere is
// reported first, then a top-level value that is not an object. Errors wrap ErrMalformed or
// ErrTooLarge.
func decodeStrict(data []byte, limit int, what string, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(data), limit)
	}
	err := strictjson.Check(data, strictjson.Options{MaxDepth: maxDepth, FoldNames: true, Object: true, SyntaxFirst: true})
	if err != nil {
		return strictjson.Wrap(err, ErrMalformed, ErrTooLarge, what)
	}
	if err := json.Unmarshal(data, v); err != nil {
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
