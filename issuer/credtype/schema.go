package credtype

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// draft2020 is the only $schema a type file may name.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// schemeFS is the URL scheme under which the loaded fs.FS is visible to $ref.
const schemeFS = "ezheng-types"

type fieldErr struct {
	field string
	err   error
}

// checkSchemaShape requires an object schema with properties and additionalProperties
// false, and no $schema other than draft 2020-12.
func checkSchemaShape(doc any) *fieldErr {
	m, ok := doc.(map[string]any)
	if !ok {
		return &fieldErr{"", errors.New("not a JSON Schema object")}
	}
	if s, ok := m["$schema"]; ok && s != draft2020 {
		return &fieldErr{".$schema", fmt.Errorf("must be %s", draft2020)}
	}
	if m["type"] != "object" {
		return &fieldErr{".type", errors.New(`must be "object"`)}
	}
	if p, ok := m["properties"].(map[string]any); !ok || len(p) == 0 {
		return &fieldErr{".properties", errors.New("required: the claims")}
	}
	if m["additionalProperties"] != false {
		return &fieldErr{".additionalProperties", errors.New("must be false")}
	}
	return nil
}

// compileSchema compiles doc as draft 2020-12 with format and content assertions. $ref
// resolves only to files of fsys.
func compileSchema(fsys fs.FS, file string, doc any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	c.UseLoader(fsLoader{fsys})
	loc := schemeFS + ":///" + file
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// fsLoader loads $ref targets from an fs.FS and refuses every other URL.
type fsLoader struct{ fsys fs.FS }

// Load implements jsonschema.URLLoader.
func (l fsLoader) Load(rawURL string) (any, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != schemeFS || u.Host != "" {
		return nil, fmt.Errorf("refusing to load %s: only files of the type directory may be referenced", rawURL)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !fs.ValidPath(name) || !isTypeFile(path.Base(name)) {
		return nil, fmt.Errorf("refusing to load %s: not a .json, .yaml or .yml file of the type directory", rawURL)
	}
	return readDoc(l.fsys, name)
}

// schemaHasPath reports whether schema declares the property path, following
// "properties" (and "items" for arrays) only.
func schemaHasPath(schema map[string]any, p []string) bool {
	cur := schema
	for _, seg := range p {
		if items, ok := cur["items"].(map[string]any); ok {
			cur = items
		}
		props, ok := cur["properties"].(map[string]any)
		if !ok {
			return false
		}
		next, ok := props[seg].(map[string]any)
		if !ok {
			return false
		}
		cur = next
	}
	return true
}

// compileErrors turns a schema compilation error into FileErrors; a schema that breaks the
// draft 2020-12 metaschema gets one error per offending keyword, named by its path.
func compileErrors(file string, err error) []error {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if !errors.As(err, &sve) || !errors.As(sve.Err, &ve) {
		return []error{&FileError{File: file, Field: "schema", Err: fmt.Errorf("does not compile: %v", err)}}
	}
	var leaves []*jsonschema.ValidationError
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	var errs []error
	for _, l := range leaves {
		field := strings.Join(append([]string{"schema"}, l.InstanceLocation...), ".")
		errs = append(errs, &FileError{File: file, Field: field, Err: fmt.Errorf("does not compile: %s", l.ErrorKind.LocalizedString(printer))})
	}
	return errs
}
