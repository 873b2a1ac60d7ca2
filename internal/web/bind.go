package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/strictjson"
)

// maxJSONDepth is the deepest nesting of arrays and objects Bind accepts.
const maxJSONDepth = 128

// Bind decodes the JSON request body of c into v, strictly:
//
//   - the Content-Type must be application/json (a charset parameter, if any, must be utf-8),
//     otherwise the error wraps problem.ErrUnsupportedMediaType;
//   - a body past the server's limit gives an error wrapping problem.ErrTooLarge;
//   - an empty body, invalid JSON, trailing data after the value, nesting deeper than 128,
//     two members of one object whose names are equal or differ only in case, members v
//     has no field for, and values of the wrong type give an error wrapping
//     problem.ErrMalformed, whose text names the field or the byte offset and is safe to show.
//
// Names differing only in case count as duplicates because encoding/json matches struct
// fields case-insensitively: {"pin":"1","PIN":"2"} would otherwise silently keep one of them.
// Bind reads the whole body; it does not validate the decoded value's content.
// Any other error (v not a non-nil pointer) is a programming error and wraps neither.
func Bind(c echo.Context, v any) error {
	r := c.Request()
	if err := checkContentType(r.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		if err != nil {
			return readError(err)
		}
	}
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return fmt.Errorf("%w: request body is empty", problem.ErrMalformed)
	}
	if err := checkJSON(body); err != nil {
		return fmt.Errorf("%w: %w", problem.ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// checkContentType accepts application/json with no parameter but charset=utf-8.
func checkContentType(ct string) error {
	if ct == "" {
		return fmt.Errorf("%w: Content-Type must be application/json", problem.ErrUnsupportedMediaType)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return fmt.Errorf("%w: Content-Type must be application/json", problem.ErrUnsupportedMediaType)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return fmt.Errorf("%w: Content-Type parameters other than charset=utf-8 are not accepted", problem.ErrUnsupportedMediaType)
		}
	}
	return nil
}

func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: request body exceeds %d bytes", problem.ErrTooLarge, mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
		return fmt.Errorf("%w: request body exceeds the limit", problem.ErrTooLarge)
	}
	return fmt.Errorf("%w: reading request body: %w", problem.ErrMalformed, err)
}

// decodeError explains an encoding/json decoding error in terms safe to show the client.
func decodeError(err error) error {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	var iue *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &iue):
		return fmt.Errorf("web: Bind: %w", err)
	case errors.As(err, &ute):
		where := "request body"
		if ute.Field != "" {
			where = fmt.Sprintf("field %q", ute.Field)
		}
		return fmt.Errorf("%w: %s: expected %s, got %s (offset %d)", problem.ErrMalformed, where, jsonKind(ute.Type), ute.Value, ute.Offset)
	case errors.As(err, &se):
		return fmt.Errorf("%w: invalid JSON at offset %d: %s", problem.ErrMalformed, se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for this one.
		return fmt.Errorf("%w: %s", problem.ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
	default:
		// An UnmarshalJSON or UnmarshalText method refused the value. Its chain is not kept:
		// whatever it wraps, the request is malformed.
		return fmt.Errorf("%w: invalid value: %v", problem.ErrMalformed, err)
	}
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a value of another kind"
}

// checkJSON reports the first reason, in the order of the input, that data is not exactly one
// well-formed JSON value without duplicate member names (compared after unescaping, ignoring
// case as encoding/json does when it matches struct fields) and no deeper than maxJSONDepth.
// Like encoding/json it accepts invalid UTF-8 in strings, reading it as U+FFFD. Its errors are
// *strictjson.Error values, whose text gives the byte offset and is safe to show to the client.
func checkJSON(data []byte) error {
	return strictjson.Check(data, strictjson.Options{MaxDepth: maxJSONDepth, FoldNames: true, AllowInvalidUTF8: true})
}

// BearerToken returns the token of an "Authorization: Bearer <token>" request header (RFC
// 6750; the scheme name is case-insensitive). A missing, repeated or malformed header gives an
// error wrapping problem.ErrUnauthorized, which never contains the token.
func BearerToken(c echo.Context) (string, error) {
	values := c.Request().Header.Values(echo.HeaderAuthorization)
	switch len(values) {
	case 0:
		return "", fmt.Errorf("%w: missing bearer token", problem.ErrUnauthorized)
	case 1:
	default:
		return "", fmt.Errorf("%w: more than one Authorization header", problem.ErrUnauthorized)
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: authorization scheme must be Bearer", problem.ErrUnauthorized)
	}
	token = strings.TrimLeft(token, " ")
	if !validToken68(token) {
		return "", fmt.Errorf("%w: malformed bearer token", problem.ErrUnauthorized)
	}
	return token, nil
}

// validToken68 reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func validToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
