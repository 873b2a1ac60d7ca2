package credtype

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// seedFiles returns the shipped type files and the test's minimal ones.
func seedFiles(f *testing.F) [][]byte {
	seeds := [][]byte{[]byte(minimalType), []byte(minimalJSON)}
	err := fs.WalkDir(builtinFS, "types", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := builtinFS.ReadFile(path)
		seeds = append(seeds, b)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	return seeds
}

// FuzzLoad feeds arbitrary bytes to Load as a YAML and as a JSON type file. Load must not
// panic; what it accepts must be coherent: the example validates and the metadata encodes.
func FuzzLoad(f *testing.F) {
	for _, s := range seedFiles(f) {
		f.Add(s)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte(`{"name": "A", "schema": {"$ref": "#"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"t.yaml", "t.json"} {
			r, err := Load(fstest.MapFS{name: {Data: data}})
			if err != nil {
				if !errors.Is(err, ErrInvalidTypeFile) {
					t.Fatalf("%s: error %v is not ErrInvalidTypeFile", name, err)
				}
				continue
			}
			for _, ty := range r.All() {
				if err := ty.Validate(ty.Example()); err != nil {
					t.Fatalf("%s: loaded type's example does not validate: %v", name, err)
				}
				if _, err := json.Marshal(ty.TypeMetadata()); err != nil {
					t.Fatalf("%s: TypeMetadata: %v", name, err)
				}
				for _, f := range ty.Formats {
					if _, err := json.Marshal(ty.OpenID4VCIConfiguration(f)); err != nil {
						t.Fatalf("%s: OpenID4VCIConfiguration(%s): %v", name, f, err)
					}
				}
			}
		}
	})
}

// FuzzValidate feeds arbitrary claims JSON to every builtin type. Validate must not panic or
// modify the claims, must give the same answer twice, and must report violations as JSON
// pointers.
func FuzzValidate(f *testing.F) {
	for _, ty := range Builtin().All() {
		b, err := json.Marshal(ty.Example())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"family_name": 1, "given_name": null, "health_status": "purple", "x": {"y": [1, 2]}}`))
	f.Add([]byte(`{"dose_number": 1e400, "photo": "===="}`))
	types := Builtin().All()
	f.Fuzz(func(t *testing.T, data []byte) {
		var claims map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&claims); err != nil || claims == nil {
			return
		}
		before, err := json.Marshal(claims)
		if err != nil {
			return
		}
		for _, ty := range types {
			err1 := ty.Validate(claims)
			err2 := ty.Validate(claims)
			if !reflect.DeepEqual(err1, err2) {
				t.Fatalf("%s: Validate not deterministic: %v then %v", ty.Name, err1, err2)
			}
			if err1 == nil {
				continue
			}
			var ce *ClaimsError
			if !errors.As(err1, &ce) || len(ce.Violations) == 0 || !errors.Is(err1, ErrInvalidClaims) {
				t.Fatalf("%s: error %v is not a non-empty *ClaimsError", ty.Name, err1)
			}
			for _, v := range ce.Violations {
				if v.Path != "" && !strings.HasPrefix(v.Path, "/") || v.Reason == "" {
					t.Fatalf("%s: bad violation %+v", ty.Name, v)
				}
			}
		}
		after, _ := json.Marshal(claims)
		if !bytes.Equal(before, after) {
			t.Fatalf("Validate modified the claims")
		}
	})
}
