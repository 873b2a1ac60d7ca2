package sdjwt

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeJSON checks the errors decodeJSON wraps; strictjson's FuzzDecode compares the
// decoder itself with encoding/json.
func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantErr error
		text    string
	}{
		{in: `{"a":1,"b":[true,null,"x",-0.5e+3]}`},
		{in: `{"a":1,"a":2}`, wantErr: ErrSyntax, text: `x: duplicate member name "a"`},
		{in: `{"a":1,"A":2}`},
		{in: `{"a":1,}`, wantErr: ErrSyntax, text: "x: not valid JSON"},
		{in: `{} {}`, wantErr: ErrSyntax, text: "x: not valid JSON"},
		{in: ``, wantErr: ErrSyntax, text: "x: not valid JSON"},
		{in: "\"\xff\"", wantErr: ErrSyntax, text: "x: invalid UTF-8"},
		{in: strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)},
		{in: strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), wantErr: ErrTooLarge, text: "x: JSON nested deeper than 32"},
	}
	for _, tt := range tests {
		_, err := decodeJSON([]byte(tt.in), "x")
		if !errors.Is(err, tt.wantErr) || tt.wantErr != nil && !strings.HasSuffix(err.Error(), tt.text) {
			t.Errorf("decodeJSON(%q) = %v, want %v ending %q", tt.in, err, tt.wantErr, tt.text)
		}
	}
}
