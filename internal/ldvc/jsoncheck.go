package ldvc

import (
	"errors"
	"fmt"

	"github.com/ezheng/ezheng/internal/strictjson"
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
// first, so duplicates make signed JSON ambiguous). Like encoding/json, it
// reads invalid UTF-8 in strings as U+FFFD. Errors wrap ErrMalformed.
func checkJSON(raw []byte) error {
	err := strictjson.Check(raw, strictjson.Options{MaxDepth: MaxDepth, Object: true, AllowInvalidUTF8: true})
	var e *strictjson.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &e):
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	case e.Kind == strictjson.NotObject:
		return fmt.Errorf("%w: a credential must be a JSON object", ErrMalformed)
	case e.Kind == strictjson.Duplicate:
		return fmt.Errorf("%w: duplicate member %q", ErrMalformed, e.Name)
	case e.Kind == strictjson.Depth:
		return fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, MaxDepth)
	case e.Kind == strictjson.Trailing:
		return fmt.Errorf("%w: trailing data after the credential", ErrMalformed)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}
