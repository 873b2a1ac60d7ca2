package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name   string
		in     string
		opts   Options
		kind   Kind // 0: accepted
		offset int
		text   string
		reason string
	}{
		{name: "object", in: ` {"a":[1,-0.5e+3,"x",true,false,null]} `},
		{name: "scalar", in: `"\u00e9\ud83d\ude97"`},
		{name: "bad character", in: `{"a":}`, kind: Syntax, offset: 5,
			text: "invalid JSON at offset 5: invalid character '}' looking for beginning of value", reason: "not valid JSON"},
		{name: "bad literal", in: `[tru]`, kind: Syntax, offset: 4, text: "invalid JSON at offset 4: invalid character ']' in literal true (expecting 'e')"},
		{name: "leading zero", in: `[01]`, kind: Syntax, offset: 2, text: "invalid JSON at offset 2: invalid character '1' after array element"},
		{name: "missing colon", in: `{"a" 1}`, kind: Syntax, offset: 5},
		{name: "control character", in: "\"a\tb\"", kind: Syntax, offset: 2},
		{name: "bad escape", in: `"\x"`, kind: Syntax, offset: 2},
		{name: "bad unicode escape", in: `"\u12g4"`, kind: Syntax, offset: 5},
		{name: "empty", in: ``, kind: End, offset: 0, text: "unexpected end of JSON at offset 0", reason: "not valid JSON"},
		{name: "truncated", in: `{"a":"x"`, kind: End, offset: 8},
		{name: "truncated string", in: `{"a":"x`, kind: End, offset: 7},
		{name: "trailing", in: `{} x`, kind: Trailing, offset: 3, text: "unexpected data after the JSON value at offset 3", reason: "not valid JSON"},
		{name: "second value", in: `{}{}`, kind: Trailing, offset: 2},
		{name: "at the depth limit", in: deep(4), opts: Options{MaxDepth: 4}},
		{name: "too deep", in: deep(5), opts: Options{MaxDepth: 4}, kind: Depth, offset: 4,
			text: "JSON nested deeper than 4 at offset 4", reason: "JSON nested deeper than 4"},
		{name: "default depth", in: deep(DefaultMaxDepth + 1), kind: Depth, offset: DefaultMaxDepth},
		{name: "duplicate", in: `{"a":1,"a":2}`, kind: Duplicate, offset: 7,
			text: `duplicate member name "a" at offset 7`, reason: `duplicate member name "a"`},
		{name: "duplicate by escape", in: `{"a":1,"\u0061":2}`, kind: Duplicate, offset: 7},
		{name: "names differing in case", in: `{"a":1,"A":2}`},
		{name: "names differing in case, folded", in: `{"a":1,"A":2}`, opts: Options{FoldNames: true}, kind: Duplicate, offset: 7},
		{name: "Kelvin sign, folded", in: `{"k":1,"\u212a":2}`, opts: Options{FoldNames: true}, kind: Duplicate, offset: 7},
		{name: "dotless i is not i", in: `{"i":1,"ı":2}`, opts: Options{FoldNames: true}},
		{name: "same name in sibling objects", in: `[{"a":1},{"a":1}]`, opts: Options{FoldNames: true}},
		{name: "long duplicate name", in: `{"` + strings.Repeat("x", 70) + `":1,"` + strings.Repeat("x", 70) + `":2}`, kind: Duplicate, offset: 76,
			text: `duplicate member name "` + strings.Repeat("x", 64) + `"... at offset 76`},
		{name: "duplicate before a syntax error", in: `{"a":1,"a":2,}`, kind: Duplicate, offset: 7},
		{name: "syntax first, duplicate", in: `{"a":1,"a":2,}`, opts: Options{SyntaxFirst: true}, kind: Syntax, offset: 13,
			text: "invalid JSON at offset 13: invalid character '}' looking for beginning of object key string"},
		{name: "syntax first, depth", in: deep(5) + "x", opts: Options{MaxDepth: 4, SyntaxFirst: true}, kind: Trailing, offset: 10},
		{name: "syntax first, end", in: `[{"a":1,"a":2}`, opts: Options{SyntaxFirst: true}, kind: End, offset: 14},
		{name: "syntax first, no syntax error", in: `{"a":1,"a":2}`, opts: Options{SyntaxFirst: true}, kind: Duplicate, offset: 7},
		{name: "object", in: ` {}`, opts: Options{Object: true}},
		{name: "not an object", in: ` [{"a":1,"a":2}]`, opts: Options{Object: true}, kind: NotObject, offset: 1,
			text: "JSON value at offset 1 is not an object", reason: "not a JSON object"},
		{name: "not an object, syntax first", in: `[1,]`, opts: Options{Object: true, SyntaxFirst: true}, kind: Syntax, offset: 3},
		{name: "empty, not an object", in: ` `, opts: Options{Object: true}, kind: End, offset: 1},
		{name: "invalid UTF-8", in: "{\"a\":\"\xff\"}", kind: UTF8, offset: 6, text: "invalid UTF-8 at offset 6", reason: "invalid UTF-8"},
		{name: "invalid UTF-8 allowed", in: "{\"a\":\"\xff\"}", opts: Options{AllowInvalidUTF8: true}},
		{name: "invalid UTF-8 names are U+FFFD", in: "{\"\xff\":1,\"\xfe\":2}", opts: Options{AllowInvalidUTF8: true}, kind: Duplicate, offset: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, build := range []bool{false, true} {
				var err error
				if build {
					if tt.opts.AllowInvalidUTF8 {
						continue // Decode always requires UTF-8
					}
					_, err = Decode([]byte(tt.in), tt.opts)
				} else {
					err = Check([]byte(tt.in), tt.opts)
				}
				if tt.kind == 0 {
					if err != nil {
						t.Fatalf("build %v: got %v, want nil", build, err)
					}
					continue
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("build %v: got %v, want an *Error", build, err)
				}
				if e.Kind != tt.kind || e.Offset != tt.offset {
					t.Errorf("build %v: got kind %d offset %d (%v), want kind %d offset %d", build, e.Kind, e.Offset, e, tt.kind, tt.offset)
				}
				if tt.text != "" && e.Error() != tt.text {
					t.Errorf("build %v: got text %q, want %q", build, e.Error(), tt.text)
				}
				if tt.reason != "" && e.Reason() != tt.reason {
					t.Errorf("build %v: got reason %q, want %q", build, e.Reason(), tt.reason)
				}
				if got, want := IsSyntax(err), tt.kind == Syntax || tt.kind == End || tt.kind == Trailing; got != want {
					t.Errorf("build %v: IsSyntax = %v, want %v", build, got, want)
				}
			}
		})
	}
}

// TestManyMembers crosses the point where an object's names move to a map.
func TestManyMembers(t *testing.T) {
	t.Parallel()
	for _, n := range []int{smallObject - 1, smallObject, smallObject + 1, 3 * smallObject} {
		var sb strings.Builder
		sb.WriteString("{")
		for i := range n {
			sb.WriteString(`"Name` + strings.Repeat("x", i) + `":1,`)
		}
		ok := sb.String() + `"last":{"NAME":1}}`
		if err := Check([]byte(ok), Options{FoldNames: true}); err != nil {
			t.Errorf("%d members: %v", n, err)
		}
		for _, dup := range []string{"name", "namexx", "NAMEX"} {
			bad := sb.String() + `"` + dup + `":2}`
			if n < 3 && len(dup) > 4+n {
				continue
			}
			var e *Error
			if err := Check([]byte(bad), Options{FoldNames: true}); !errors.As(err, &e) || e.Kind != Duplicate || e.Name != dup {
				t.Errorf("%d members, %q: got %v, want a duplicate", n, dup, err)
			}
			if _, err := Decode([]byte(bad), Options{FoldNames: true}); !errors.As(err, &e) || e.Kind != Duplicate {
				t.Errorf("Decode %d members, %q: got %v, want a duplicate", n, dup, err)
			}
			if _, err := Decode([]byte(bad), Options{}); err != nil {
				t.Errorf("Decode without folding, %d members, %q: %v", n, dup, err)
			}
		}
	}
}

// checkDecode asserts that Decode and the oracle agree on data: both fail or both give the
// same value.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	const maxDepth = 32
	got, gerr := Decode(data, Options{MaxDepth: maxDepth, SyntaxFirst: true})
	want, werr := oracleDecode(data, maxDepth)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("Decode(%q) = %v, %v; oracle %v, %v", data, got, gerr, want, werr)
	}
	if gerr != nil {
		var e *Error
		if !errors.As(gerr, &e) {
			t.Fatalf("Decode(%q) error %v is not an *Error", data, gerr)
		}
		got := e.Kind
		if IsSyntax(e) {
			got = Syntax
		}
		if want := oracleKind(werr); got != want {
			t.Fatalf("Decode(%q) = %v (kind %d); oracle %v (kind %d)", data, gerr, e.Kind, werr, want)
		}
		if cerr := Check(data, Options{MaxDepth: maxDepth, SyntaxFirst: true}); !reflect.DeepEqual(cerr, gerr) {
			t.Fatalf("Check(%q) = %v; Decode %v", data, cerr, gerr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v; oracle %#v", data, got, want)
	}
	if err := Check(data, Options{MaxDepth: maxDepth}); err != nil {
		t.Fatalf("Check(%q) = %v; Decode accepted it", data, err)
	}
}

// oracleKind is the Kind for an error of oracleDecode, which checks syntax first.
func oracleKind(err error) Kind {
	switch s := err.Error(); {
	case s == "invalid UTF-8":
		return UTF8
	case strings.HasPrefix(s, "duplicate member name"):
		return Duplicate
	case strings.HasPrefix(s, "JSON nested deeper"):
		return Depth
	}
	return Syntax
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
}

var decodeSeeds = []string{
	`{}`, `[]`, `{"a":1,"b":[true,false,null,"x",-0.5e+3]}`, ` { "a" : "b" } `, `"\u00e9\ud83d\ude97\n\/"`,
	`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\ud800\udc00"`, `"\u12"`, `"\x"`, "\"tab\tin\"",
	`{"a":1,"a":2}`, `{"a":1,}`, `[1,]`, `[01]`, `1.`, `-`, `1e`, `.5`, `tru`, `nulll`, `{"a" 1}`, `{1:2}`,
	`"unterminated`, `[1 2]`, `{} {}`, ``, ` `, "\xff", `"\u0000"`, `1E+2`, `-0`, `[[[]]]`, `{"a":1,"A":2}`,
	strings.Repeat("[", 32) + strings.Repeat("]", 32),
	strings.Repeat("[", 33) + strings.Repeat("]", 33),
	strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33),
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

// FuzzCheckFold compares Check, folding names and accepting invalid UTF-8, with Bind's former
// check (oracleCheck): both accept, or both refuse for the same kind of reason.
func FuzzCheckFold(f *testing.F) {
	for _, s := range append(decodeSeeds, `{"K":1,"\u212a":2}`, `{"\xff":1,"\xfe":2}`, "\xef\xbb\xbf{}", `{"i":1,"ı":2}`,
		`{"a":1,"b":{"c":1,"C":2}}`, `{"a":1,"a"x`, strings.Repeat("[", 129)+"x") {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxDepth = 8 // small, so that the fuzzer reaches it
		opts := Options{MaxDepth: maxDepth, FoldNames: true, AllowInvalidUTF8: true}
		err := Check(data, opts)
		werr := oracleCheck(data, maxDepth)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Check(%q) = %v; oracle %v", data, err, werr)
		}
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("Check accepted %q, which json.Valid refuses", data)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Check(%q) error %v is not an *Error", data, err)
		}
		got := map[Kind]string{Duplicate: "duplicate", Depth: "depth"}[e.Kind]
		if got == "" {
			got = "syntax"
		}
		if want := kindOf(werr); got != want {
			t.Fatalf("Check(%q) = %v (%s); oracle %v (%s)", data, err, got, werr, want)
		}
		if e.Offset < 0 || e.Offset > len(data) {
			t.Fatalf("Check(%q) = %v: offset out of range", data, err)
		}
	})
}
