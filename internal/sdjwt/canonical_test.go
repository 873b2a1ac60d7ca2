package sdjwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// checkCanonical asserts that canonicalize and appendJSON agree with the encoding/json round
// trip they replace: the same tree, the same bytes, and errors for the same inputs.
func checkCanonical(t *testing.T, v any) {
	t.Helper()
	want, _, werr := roundTrip(v, 1)
	got, _, gerr := canonicalize(v, 1)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("canonicalize(%#v) error %v, round trip error %v", v, gerr, werr)
	}
	if werr != nil {
		if errors.Is(werr, ErrTooLarge) != errors.Is(gerr, ErrTooLarge) {
			t.Fatalf("canonicalize(%#v) error %v, round trip error %v", v, gerr, werr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("canonicalize(%#v) = %#v, round trip %#v", v, got, want)
	}
	enc, err := encodeJSON(want) // what Issue signed before: encoding/json of the decoded tree
	if err != nil {
		t.Fatal(err)
	}
	if b := appendJSON(nil, got); !bytes.Equal(b, enc) {
		t.Fatalf("appendJSON = %s, encoding/json %s", b, enc)
	}
}

func TestCanonical(t *testing.T) {
	deep := any("x")
	for range maxDepth {
		deep = []any{deep}
	}
	type point struct{ X, Y int }
	for _, v := range []any{
		nil, true, "plain", "ctl\x00\x01\b\f\n\r\t\x1f\x7f", `quote " back \ slash`, "<html> & </html>",
		"line\u2028para\u2029", "bad utf-8 \xff\xfe end", "中文 ✓ 🚗", json.Number("12.5e-3"), json.Number(""),
		json.Number("01"), 42, int64(-7), 3.25, 1e21, 1e-7, float32(0.1),
		map[string]any{"b": 1, "a": []any{"x", map[string]any{"z": nil}}, "\xff": "k", "\xfe": "k2"},
		map[string]any(nil), []any(nil), []any{}, map[string]any{}, []string{"typed"},
		map[string]any{"p": point{1, 2}, "t": json.RawMessage(`{"b":1,"a":2}`)},
		deep, []any{deep}, map[string]any{"c": make(chan int)},
	} {
		checkCanonical(t, v)
	}
}

// FuzzCanonical: for any JSON document (decoded both with and without UseNumber) and any
// string used as a key and a value, the fast encoder agrees with encoding/json.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"a":[1,2.5,"x"],"b":{"c":null,"d":true}}`), "k\u2028")
	f.Add([]byte(`[1e400, -0, 0.000001]`), "\xff")
	f.Add([]byte(`"\u0000<>&"`), "")
	f.Fuzz(func(t *testing.T, doc []byte, s string) {
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader(doc))
			if useNumber {
				dec.UseNumber()
			}
			var v any
			if dec.Decode(&v) != nil {
				v = nil
			}
			checkCanonical(t, map[string]any{s: v, "s": s, "list": []any{s, v}})
		}
		if strings.Count(s, "[") < maxDepth { // keep the fuzzer away from huge nestings
			checkCanonical(t, json.Number(s))
		}
	})
}
