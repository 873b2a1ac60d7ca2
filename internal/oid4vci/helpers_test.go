package oid4vci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readTestdata returns testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unwrap removes the white space the specification inserts into long values for display
// ("with line breaks within values for display purposes only").
func unwrap(b []byte) string {
	return strings.Join(strings.Fields(string(b)), "")
}

// generic decodes JSON into maps, slices, float64s and strings for comparison.
func generic(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// deletePath removes the member at a dotted path ("a.b") from a generic JSON value.
func deletePath(v any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		v = m[p]
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, parts[len(parts)-1])
	}
}

// checkRoundTrip parses the example file with parse, encodes the result with encode, and
// checks that the encoding says exactly what the example says except for the members listed
// in dropped (which the type does not model and must drop), and that parsing the encoding
// again gives an equal value.
func checkRoundTrip[T any](t *testing.T, file string, parse func([]byte) (T, error), encode func(T) ([]byte, error), dropped ...string) T {
	t.Helper()
	data := readTestdata(t, file)
	got, err := parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	enc, err := encode(got)
	if err != nil {
		t.Fatalf("encode %s: %v", file, err)
	}
	want := generic(t, data)
	for _, p := range dropped {
		deletePath(want, p)
	}
	if g := generic(t, enc); !reflect.DeepEqual(g, want) {
		gb, _ := json.MarshalIndent(g, "", "  ")
		wb, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s: re-encoded differs\n got: %s\nwant: %s", file, gb, wb)
	}
	again, err := parse(enc)
	if err != nil {
		t.Fatalf("re-parse %s: %v", file, err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Errorf("%s: re-parsed %+v, want %+v", file, again, got)
	}
	return got
}

func jsonEncode[T any](v T) ([]byte, error) { return encodeJSON(v) }
