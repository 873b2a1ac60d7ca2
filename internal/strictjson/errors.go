package strictjson

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Kind says which rule an input broke. Its values and their meanings are stable.
type Kind int

const (
	// Syntax is input that is not JSON.
	Syntax Kind = iota + 1
	// End is input that ends inside a value (or is empty): a kind of syntax error.
	End
	// Trailing is input with something other than white space after the value.
	Trailing
	// Depth is input nested deeper than Options.MaxDepth.
	Depth
	// Duplicate is an object repeating a member name.
	Duplicate
	// UTF8 is input that is not valid UTF-8.
	UTF8
	// NotObject is a value other than an object where Options.Object requires one.
	NotObject
)

// Error is the error of Check and Decode. Its text is safe to show to whoever sent the input;
// a member name in it is quoted and cut to 64 bytes.
type Error struct {
	Kind   Kind
	Offset int    // the byte offset of the problem in the input
	Name   string // Duplicate: the repeated member name, unescaped, as it appeared second
	Limit  int    // Depth: the MaxDepth in force
	detail string // Syntax: what was wrong
}

func (e *Error) Error() string {
	switch e.Kind {
	case End:
		return fmt.Sprintf("unexpected end of JSON at offset %d", e.Offset)
	case Trailing:
		return fmt.Sprintf("unexpected data after the JSON value at offset %d", e.Offset)
	case Depth:
		return fmt.Sprintf("JSON nested deeper than %d at offset %d", e.Limit, e.Offset)
	case Duplicate:
		return fmt.Sprintf("duplicate member name %s at offset %d", quoteName(e.Name), e.Offset)
	case UTF8:
		return fmt.Sprintf("invalid UTF-8 at offset %d", e.Offset)
	case NotObject:
		return fmt.Sprintf("JSON value at offset %d is not an object", e.Offset)
	}
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.detail)
}

// Reason is a short description of the error without the offset: "invalid UTF-8", "not valid
// JSON" (for Syntax, End and Trailing), "not a JSON object", "JSON nested deeper than N" or
// `duplicate member name "x"` (the name quoted in full).
func (e *Error) Reason() string {
	switch e.Kind {
	case Depth:
		return fmt.Sprintf("JSON nested deeper than %d", e.Limit)
	case Duplicate:
		return fmt.Sprintf("duplicate member name %q", e.Name)
	case UTF8:
		return "invalid UTF-8"
	case NotObject:
		return "not a JSON object"
	}
	return "not valid JSON"
}

// Wrap returns nil for a nil err. Otherwise it returns an error wrapping tooDeep if err is an
// *Error of kind Depth and invalid if not, whose text is "<sentinel>: <what>: <reason>", with
// the Reason of an *Error or the text of any other error.
func Wrap(err, invalid, tooDeep error, what string) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &e):
		return fmt.Errorf("%w: %s: %v", invalid, what, err)
	case e.Kind == Depth:
		return fmt.Errorf("%w: %s: %s", tooDeep, what, e.Reason())
	}
	return fmt.Errorf("%w: %s: %s", invalid, what, e.Reason())
}

// IsSyntax reports whether err is an *Error saying the input is not one JSON value: of kind
// Syntax, End or Trailing.
func IsSyntax(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == Syntax || e.Kind == End || e.Kind == Trailing)
}

// quoteName quotes a member name for an error message, shortened to 64 bytes.
func quoteName(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
