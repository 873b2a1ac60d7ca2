package oid4vci

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ezheng/ezheng/internal/strictjson"
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
// let the last one silently win (names are compared as strings.EqualFold compares them).
// Unknown members are ignored. A syntax error anywhere is reported first, then a top-level
// value that is not an object. Errors wrap ErrMalformed or ErrTooLarge; what names the message
// in them.
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

// checkJSON performs the checks of decodeStrict without decoding into a value.
func checkJSON(data []byte, what string) error {
	err := strictjson.Check(data, strictjson.Options{MaxDepth: maxDepth, FoldNames: true, Object: true, SyntaxFirst: true})
	return strictjson.Wrap(err, ErrMalformed, ErrTooLarge, what)
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
