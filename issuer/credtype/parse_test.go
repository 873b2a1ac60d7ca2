package credtype

import (
	"errors"
	"strings"
	"testing"
)

// TestParse: one uploaded file, YAML or JSON, loads like a file of the type directory; a
// $ref inside the file works, one to any other file or URL is refused.
func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, body string
	}{
		{"yaml", "t.yaml", minimalType},
		{"json", "t.json", minimalJSON},
		{"ref inside the file", "t.yaml", strings.Replace(
			replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`, `card_number: {$ref: "#/$defs/card"}`),
			"  additionalProperties: false\n",
			"  additionalProperties: false\n  $defs:\n    card: {type: string, pattern: \"^[0-9]{8}$\", maxLength: 8}\n", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ty, err := Parse(tc.file, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if ty.Name != "LibraryCard" || ty.File != tc.file {
				t.Errorf("got %q from %q", ty.Name, ty.File)
			}
			if err := ty.Validate(ty.Example()); err != nil {
				t.Errorf("example: %v", err)
			}
		})
	}
}

// TestParseBad: each broken upload fails with ErrInvalidTypeFile and a FileError naming the
// field, as the HTTP layer lists them.
func TestParseBad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, body string
		field, want      string
	}{
		{"empty", "t.yaml", "", "", "empty document"},
		{"not a mapping", "t.yaml", "- a\n- b\n", "", "not a mapping"},
		{"duplicate JSON key", "t.json", `{"name": "A", "name": "B"}`, "", "duplicate"},
		{"trailing JSON", "t.json", minimalJSON + "{}", "", "after the top-level"},
		{"two YAML documents", "t.yaml", minimalType + "---\nname: X\n", "", "exactly one"},
		{"unknown field", "t.yaml", minimalType + "colour: red\n", "colour", "unknown field"},
		{"bad name", "t.yaml", replace("name: LibraryCard", "name: library card"), "name", "not a type name"},
		{"bad vct", "t.yaml", replace("version:", "vct: not a uri\nversion:"), "vct", "not a URI"},
		{"no validity", "t.yaml", replace("validity: 30d\n", ""), "validity", "required"},
		{"negative validity", "t.yaml", replace("validity: 30d", "validity: -5h"), "validity", "not positive"},
		{"validity over 100 years", "t.yaml", replace("validity: 30d", "validity: 101y"), "validity", "longer than 100 years"},
		{"garbage validity", "t.yaml", replace("validity: 30d", "validity: soon"), "validity", "not a duration"},
		{"refresh longer than validity", "t.yaml", replace("validity: 30d", "validity: 30d\nrefresh: 60d"), "refresh", "longer than validity"},
		{"unknown format", "t.yaml", replace("formats: [dc+sd-jwt]", "formats: [mso_mdoc]"), "formats.0", "is not one of"},
		{"no formats", "t.yaml", replace("formats: [dc+sd-jwt]", "formats: []"), "formats", "required"},
		{"disclosable not in schema", "t.yaml", replace("disclosable: [card_number]", "disclosable: [card_number, photo]"), "disclosable", `"photo" is not in schema properties`},
		{"schema does not compile", "t.yaml", replace("holder: {type: string, maxLength: 64}", "holder: {type: string, maxLength: many}"), "schema.properties.holder.maxLength", "does not compile"},
		{"schema allows more", "t.yaml", replace("additionalProperties: false", "additionalProperties: true"), "schema.additionalProperties", "must be false"},
		{"remote ref", "t.yaml", replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`, `card_number: {$ref: "https://example.com/s.json"}`), "schema", "refusing to load"},
		{"file ref", "t.yaml", replace(`card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}`, `card_number: {$ref: "other.json"}`), "schema", "does not compile"},
		{"no en display", "t.yaml", replace("  - {lang: en, name: Library card}\n", ""), "display", "missing the en entry"},
		{"no zh-CN display", "t.yaml", replace("  - {lang: zh-CN, name: 借书证, background_color: \"#112233\", text_color: \"#ffffff\"}\n", ""), "display", "missing the zh-CN entry"},
		{"bad colour", "t.yaml", replace(`background_color: "#112233"`, `background_color: blue`), "display.0.background_color", "not #rrggbb"},
		{"http logo", "t.yaml", replace("name: Library card}", "name: Library card, logo: {uri: \"http://example.com/l.png\"}}"), "display.1.logo.uri", "https: or data:image/"},
		{"label of unknown claim", "t.yaml", replace("path: [holder]", "path: [address]"), "claims.0.path", "not in schema properties"},
		{"label without en", "t.yaml", replace(", {lang: en, label: Holder}", ""), "claims.0.display", "missing the en label"},
		{"example does not validate", "t.yaml", replace(`card_number: "12345678"`, `card_number: "1234"`), "example", "does not match schema"},
		{"no example", "t.yaml", strings.Split(minimalType, "example:")[0], "example", "required"},
		{"too large", "t.yaml", minimalType + "#" + strings.Repeat("x", MaxFileSize), "", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ty, err := Parse(tc.file, []byte(tc.body))
			if err == nil {
				t.Fatalf("accepted %s", ty.Name)
			}
			if !errors.Is(err, ErrInvalidTypeFile) {
				t.Fatalf("error %v does not match ErrInvalidTypeFile", err)
			}
			if !hasFileError(err, tc.field, tc.want) {
				t.Fatalf("no FileError on field %q containing %q in:\n%v", tc.field, tc.want, err)
			}
		})
	}
}

// hasFileError reports whether err's tree holds a FileError on field whose message contains
// want.
func hasFileError(err error, field, want string) bool {
	switch e := err.(type) {
	case *FileError:
		return e.Field == field && strings.Contains(e.Err.Error(), want)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if hasFileError(inner, field, want) {
				return true
			}
		}
	}
	return false
}

// FuzzParse feeds arbitrary bytes to Parse as YAML and JSON: no panic, and what it accepts is
// coherent (the example validates, the metadata builds) and parses again to the same type.
func FuzzParse(f *testing.F) {
	for _, s := range seedFiles(f) {
		f.Add(s)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"t.yaml", "t.json"} {
			ty, err := Parse(name, data)
			if err != nil {
				if !errors.Is(err, ErrInvalidTypeFile) {
					t.Fatalf("%s: error %v is not ErrInvalidTypeFile", name, err)
				}
				continue
			}
			if err := ty.Validate(ty.Example()); err != nil {
				t.Fatalf("%s: accepted type's example fails: %v", name, err)
			}
			_ = ty.TypeMetadata()
			again, err := Parse(name, data)
			if err != nil || again.Name != ty.Name || again.VCT != ty.VCT {
				t.Fatalf("%s: second parse differs: %v", name, err)
			}
		}
	})
}
