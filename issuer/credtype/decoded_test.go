package credtype

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// TestValidateDecodedAgrees: for claims decoded from JSON, ValidateDecoded gives exactly
// Validate's answer, valid or not; claims holding other Go values take Validate's path.
func TestValidateDecodedAgrees(t *testing.T) {
	for _, typ := range Builtin().All() {
		ex, _ := json.Marshal(typ.Example())
		for name, doc := range map[string][]byte{
			"example":       ex,
			"extra claim":   bytes.Replace(ex, []byte("{"), []byte(`{"not_in_schema":1,`), 1),
			"wrong type":    bytes.Replace(ex, []byte(`":"`), []byte(`":1.5e3,"x":"`), 1),
			"huge exponent": bytes.Replace(ex, []byte("{"), []byte(`{"n":1e999,`), 1),
			"empty":         []byte(`{}`),
		} {
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			var claims map[string]any
			if err := dec.Decode(&claims); err != nil {
				t.Fatalf("%s %s: %v", typ.Name, name, err)
			}
			want, got := typ.Validate(claims), typ.ValidateDecoded(claims)
			var wc, gc *ClaimsError
			errors.As(want, &wc)
			errors.As(got, &gc)
			if (want == nil) != (got == nil) || !reflect.DeepEqual(wc, gc) {
				t.Errorf("%s %s: ValidateDecoded %v, Validate %v", typ.Name, name, got, want)
			}
		}
	}
	// Go values a decoder never makes take the encoding path (and so the size limit).
	if decodedJSON(map[string]any{"n": 1}, 0) || decodedJSON(map[string]any{"f": 1.5}, 0) || !decodedJSON(map[string]any{"n": json.Number("1")}, 0) {
		t.Fatal("decodedJSON misjudged a value")
	}
}
