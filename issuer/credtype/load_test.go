package credtype

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// minimalType is a small valid type file that the table below breaks one way at a time.
const minimalType = `name: LibraryCard
version: "1"
validity: 30d
formats: [dc+sd-jwt]
disclosable: [card_number]
schema:
  type: object
  additionalProperties: false
  required: [holder, card_number]
  properties:
    holder: {type: string, maxLength: 64}
    card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}
display:
  - {lang: zh-CN, name: 借书证, background_color: "#112233", text_color: "#ffffff"}
  - {lang: en, name: Library card}
claims:
  - path: [holder]
    display: [{lang: zh-CN, label: 持证人}, {lang: en, label: Holder}]
example:
  holder: 张三
  card_number: "12345678"
`

const minimalJSON = `{
	"name": "LibraryCard",
	"validity": "720h",
	"formats": ["jwt_vc_json"],
	"disclosable": "all",
	"schema": {"type": "object", "additionalProperties": false,
		"properties": {"holder": {"type": "string", "maxLength": 64}}},
	"display": [{"lang": "zh-CN", "name": "借书证"}, {"lang": "en", "name": "Library card"}],
	"example": {"holder": "张三"}
}`

func replace(old, new string) string {
	if !strings.Contains(minimalType, old) {
		panic("minimalType has no " + old)
	}
	return strings.Replace(minimalType, old, new, 1)
}

func TestLoadMinimal(t *testing.T) {
	t.Parallel()
	for name, files := range map[string]fstest.MapFS{
		"yaml": {"library.yaml": {Data: []byte(minimalType)}},
		"json": {"library.json": {Data: []byte(minimalJSON)}},
		"ref inside the FS": {
			"library.yml": {Data: []byte(replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`,
				`card_number: {$ref: "common/defs.json#/$defs/card"}`))},
			"common/defs.json": {Data: []byte(`{"$defs": {"card": {"type": "string", "pattern": "^[0-9]{8}$", "maxLength": 8}}}`)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Load(files)
			if err != nil {
				t.Fatal(err)
			}
			ty, err := r.Lookup("LibraryCard")
			if err != nil {
				t.Fatal(err)
			}
			if ty.VCT != "urn:ezheng:vct:LibraryCard" || ty.Validity != 30*24*time.Hour || ty.Approval != ApprovalNone {
				t.Errorf("got vct %q validity %v approval %q", ty.VCT, ty.Validity, ty.Approval)
			}
			if name == "ref inside the FS" {
				err := ty.Validate(map[string]any{"holder": "x", "card_number": "1234"})
				if !errors.Is(err, ErrInvalidClaims) || !strings.Contains(err.Error(), "/card_number: does not match pattern") {
					t.Errorf("short card number: error = %v, want a pattern violation through $ref", err)
				}
			}
		})
	}
}

// TestLoadMalformed checks that each broken type file fails with an error naming the file
// and the field.
func TestLoadMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		files     fstest.MapFS
		wantFile  string
		wantField string
		wantText  string
	}{
		{"bad YAML", one("name: [unclosed\n"), "t.yaml", "", "yaml"},
		{"YAML tab indentation", one("name: A\n\tvct: b\n"), "t.yaml", "", "yaml"},
		{"bad JSON", fstest.MapFS{"t.json": {Data: []byte(`{"name": "A",}`)}}, "t.json", "", "invalid character"},
		{"JSON duplicate key", fstest.MapFS{"t.json": {Data: []byte(`{"name": "A", "name": "B"}`)}}, "t.json", "", `duplicate key "name"`},
		{"YAML duplicate key", one(minimalType + "name: Other\n"), "t.yaml", "", `duplicate key "name"`},
		{"not a mapping", one("- a\n- b\n"), "t.yaml", "", "top level is not a mapping"},
		{"unknown field", one(minimalType + "colour: red\n"), "t.yaml", "colour", "unknown field"},
		{"wrong field type", one(replace("formats: [dc+sd-jwt]", "formats: dc+sd-jwt")), "t.yaml", "formats", "cannot be a JSON string"},
		{"bad name", one(replace("name: LibraryCard", "name: library card")), "t.yaml", "name", "not a type name"},
		{"bad vct", one(replace("version:", "vct: not a uri\nversion:")), "t.yaml", "vct", "not a URI"},
		{"validity missing", one(replace("validity: 30d\n", "")), "t.yaml", "validity", "required"},
		{"validity zero", one(replace("validity: 30d", "validity: 0s")), "t.yaml", "validity", "not positive"},
		{"validity garbage", one(replace("validity: 30d", "validity: P6Y")), "t.yaml", "validity", "not a duration"},
		{"validity overflow", one(replace("validity: 30d", "validity: 99999999999y")), "t.yaml", "validity", "too long"},
		{"refresh longer than validity", one(replace("validity: 30d", "validity: 30d\nrefresh: 31d")), "t.yaml", "refresh", "longer than validity"},
		{"bad approval", one(replace("validity: 30d", "validity: 30d\napproval: mayor")), "t.yaml", "approval", "not none or officer"},
		{"unknown format", one(replace("formats: [dc+sd-jwt]", "formats: [dc+sd-jwt, mso_mdoc]")), "t.yaml", "formats.1", "not one of"},
		{"no formats", one(replace("formats: [dc+sd-jwt]", "formats: []")), "t.yaml", "formats", "required"},
		{"schema missing", one(strings.Split(minimalType, "schema:")[0] + "display: []\n"), "t.yaml", "schema", "required"},
		{"schema does not compile", one(replace(`pattern: "^[0-9]{8}$"`, `pattern: "(["`)), "t.yaml", "schema.properties.card_number.pattern", "not valid regex"},
		{"schema wrong keyword type", one(replace("maxLength: 64", "maxLength: long")), "t.yaml", "schema.properties.holder.maxLength", "want integer"},
		{"unknown nested field", one(replace("{lang: en, label: Holder}", "{lang: en, label: Holder, colour: red}")), "t.yaml", "claims.0.display.1.colour", "unknown field"},
		{"unknown logo field", one(replace("{lang: en, name: Library card}", "{lang: en, name: Library card, logo: {url: \"https://example.com/l.png\"}}")), "t.yaml", "display.1.logo.url", "unknown field"},
		{"schema not an object schema", one(replace("  type: object\n", "  type: array\n")), "t.yaml", "schema.type", `must be "object"`},
		{"schema open", one(replace("  additionalProperties: false\n", "")), "t.yaml", "schema.additionalProperties", "must be false"},
		{"schema other draft", one(replace("  type: object\n", "  $schema: http://json-schema.org/draft-07/schema#\n  type: object\n")), "t.yaml", "schema.$schema", "2020-12"},
		{"remote $ref refused", one(replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`, `card_number: {$ref: "https://schemas.example.com/card.json"}`)), "t.yaml", "schema", "refusing to load https://schemas.example.com/card.json"},
		{"remote $id refused", one(replace("  type: object\n", "  $id: https://schemas.example.com/t.json\n  type: object\n") + ""), "", "", ""},
		{"file $ref refused", one(replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`, `card_number: {$ref: "file:///etc/passwd"}`)), "t.yaml", "schema", "refusing to load file:///etc/passwd"},
		{"$ref to a missing file", one(replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`, `card_number: {$ref: "defs.json"}`)), "t.yaml", "schema", "does not compile"},
		{"required claim not in properties", one(replace("required: [holder, card_number]", "required: [holder, card_number, expiry]")), "t.yaml", "schema.required", `"expiry"`},
		{"disclosable claim not in schema", one(replace("disclosable: [card_number]", "disclosable: [card_number, pin]")), "t.yaml", "disclosable", `"pin" is not in schema properties`},
		{"disclosable garbage", one(replace("disclosable: [card_number]", "disclosable: some")), "t.yaml", "disclosable", `want "all"`},
		{"missing zh-CN display", one(replace("  - {lang: zh-CN, name: 借书证, background_color: \"#112233\", text_color: \"#ffffff\"}\n", "")), "t.yaml", "display", "missing the zh-CN entry"},
		{"missing en display", one(replace("  - {lang: en, name: Library card}\n", "")), "t.yaml", "display", "missing the en entry"},
		{"duplicate display language", one(replace("  - {lang: en, name: Library card}\n", "  - {lang: en, name: Library card}\n  - {lang: en, name: Card}\n")), "t.yaml", "display.2.lang", "listed twice"},
		{"display name missing", one(replace("{lang: en, name: Library card}", "{lang: en}")), "t.yaml", "display.1.name", "required"},
		{"bad background colour", one(replace(`background_color: "#112233"`, `background_color: red`)), "t.yaml", "display.0.background_color", "not #rrggbb"},
		{"bad text colour", one(replace(`text_color: "#ffffff"`, `text_color: "#fff"`)), "t.yaml", "display.0.text_color", "not #rrggbb"},
		{"logo over http", one(replace("{lang: en, name: Library card}", "{lang: en, name: Library card, logo: {uri: \"http://example.com/l.png\"}}")), "t.yaml", "display.1.logo.uri", "https"},
		{"claim label path unknown", one(replace("path: [holder]", "path: [owner]")), "t.yaml", "claims.0.path", "not in schema properties"},
		{"claim label missing en", one(replace(", {lang: en, label: Holder}", "")), "t.yaml", "claims.0.display", "missing the en label"},
		{"example missing", one(strings.Split(minimalType, "example:")[0]), "t.yaml", "example", "required"},
		{"example not matching the schema", one(replace(`card_number: "12345678"`, `card_number: "1234"`)), "t.yaml", "example", "/card_number: does not match pattern"},
		{"example with extra claim", one(minimalType + "  pin: \"0000\"\n"), "t.yaml", "example", "/pin: not a claim of LibraryCard"},
		{"duplicate vct", fstest.MapFS{
			"a.yaml": {Data: []byte(minimalType)},
			"b.yaml": {Data: []byte(replace("name: LibraryCard", "name: LibraryCard2\nvct: urn:ezheng:vct:LibraryCard"))},
		}, "b.yaml", "vct", "already used by a.yaml"},
		{"duplicate name", fstest.MapFS{
			"a.yaml": {Data: []byte(minimalType)},
			"b.json": {Data: []byte(minimalJSON)},
		}, "b.json", "name", "already defined in a.yaml"},
		{"too large", one(minimalType + "# " + strings.Repeat("x", MaxFileSize) + "\n"), "t.yaml", "", "larger than"},
		{"alias bomb", one("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"), "t.yaml", "", "more than"},
		{"JSON nested too deep", fstest.MapFS{"t.json": {Data: []byte(strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100))}}, "t.json", "", "nested deeper than 64"},
		{"YAML nested too deep", one(strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"), "t.yaml", "", "nested deeper than 64"},
		{"two YAML documents", one(minimalType + "---\nname: Other\n"), "t.yaml", "", "exactly one YAML document"},
		{"huge number in schema", one(replace("maxLength: 64", "maxLength: 1"+strings.Repeat("0", 64))), "t.yaml", "", "number longer than 64"},
		{"huge number in JSON", fstest.MapFS{"t.json": {Data: []byte(strings.Replace(minimalJSON, `"maxLength": 64`, `"maxLength": 1e999999999`, 1))}}, "t.json", "", "number exponent beyond"},
		{"no type files", fstest.MapFS{"README.md": {Data: []byte("hi")}}, ".", "", "no *.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Load(tt.files)
			if tt.wantFile == "" {
				// A remote $id alone loads nothing remote; the type is fine.
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded with %d types, want an error", len(r.All()))
			}
			if !errors.Is(err, ErrInvalidTypeFile) {
				t.Errorf("error %v is not ErrInvalidTypeFile", err)
			}
			var found bool
			for _, fe := range fileErrors(err) {
				if fe.File == tt.wantFile && fe.Field == tt.wantField && strings.Contains(fe.Error(), tt.wantText) {
					found = true
				}
			}
			if !found {
				t.Errorf("error = %v\nwant a FileError{File: %q, Field: %q} containing %q", err, tt.wantFile, tt.wantField, tt.wantText)
			}
			if !strings.Contains(err.Error(), tt.wantFile) {
				t.Errorf("error %q does not name the file %s", err, tt.wantFile)
			}
		})
	}
}

func one(data string) fstest.MapFS {
	return fstest.MapFS{"t.yaml": {Data: []byte(data)}}
}

// fileErrors flattens the FileErrors of a (joined) error.
func fileErrors(err error) []*FileError {
	var out []*FileError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FileError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	bad := replace(`background_color: "#112233"`, `background_color: red`)
	bad = strings.Replace(bad, "disclosable: [card_number]", "disclosable: [pin]", 1)
	_, err := Load(fstest.MapFS{"t.yaml": {Data: []byte(bad)}, "u.yaml": {Data: []byte("name: [")}})
	var fields []string
	for _, fe := range fileErrors(err) {
		fields = append(fields, fe.File+":"+fe.Field)
	}
	want := "t.yaml:disclosable t.yaml:display.0.background_color u.yaml:"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"24h", 24 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"6y", 6 * 365 * 24 * time.Hour, true},
		{"0d", 0, true},
		{"-1d", 0, false},
		{"1.5d", 0, false},
		{"P6Y", 0, false},
		{"d", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseYAMLScalars(t *testing.T) {
	t.Parallel()
	got, err := parseYAML([]byte("date: 1990-05-17\nint: 42\nhex: 0x10\nfloat: .5\nexp: 1e3\nbool: true\nnull: ~\nstr: '007'\nanchor: &a {k: v}\nalias: *a\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"date": "1990-05-17", "int": json.Number("42"), "hex": json.Number("16"), "float": json.Number("0.5"),
		"exp": json.Number("1e3"), "bool": true, "null": nil, "str": "007",
		"anchor": map[string]any{"k": "v"}, "alias": map[string]any{"k": "v"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseYAML = %#v\nwant %#v", got, want)
	}
	for _, bad := range []string{"x: .inf\n", "x: !!binary aGk=\n", "? [a]\n: b\n", "<<: {a: 1}\n", "a: 1\n---\nb: 2\n"} {
		if v, err := parseYAML([]byte(bad)); err == nil {
			t.Errorf("parseYAML(%q) = %v, want an error", bad, v)
		}
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := Builtin()
	if Builtin() != r {
		t.Error("Builtin() returned a different registry on the second call")
	}
	all := r.All()
	all[0] = nil
	if r.All()[0] == nil {
		t.Error("All() returned the registry's own slice")
	}
}
