package credtype

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxFileSize bounds one type file or referenced schema file, in bytes.
const MaxFileSize = 1 << 20

// MaxValidity bounds a type's validity: 100 years of 365 days (a degree certificate's, the
// longest shipped).
const MaxValidity = 100 * 365 * 24 * time.Hour

// FileError is a problem with one type file: which file, which field (a dotted path such as
// "display.0.background_color", empty for the file as a whole) and what is wrong. It matches
// ErrInvalidTypeFile with errors.Is and unwraps to its cause.
type FileError struct {
	// File is the file's path inside the loaded fs.FS ("." for the directory itself).
	File string
	// Field is the dotted path of the offending field, e.g. "display.0.text_color" or
	// "schema.properties.photo.maxLength"; empty when the file as a whole is broken.
	Field string
	// Err says what is wrong.
	Err error
}

// Error implements error.
func (e *FileError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("credtype: %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("credtype: %s: field %s: %v", e.File, e.Field, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidTypeFile.
func (e *FileError) Is(target error) bool { return target == ErrInvalidTypeFile }

// typeFile is the on-disk shape of a type file.
type typeFile struct {
	Name        string          `json:"name"`
	VCT         string          `json:"vct"`
	Version     string          `json:"version"`
	Validity    string          `json:"validity"`
	Refresh     string          `json:"refresh"`
	Approval    string          `json:"approval"`
	Formats     []string        `json:"formats"`
	Disclosable json.RawMessage `json:"disclosable"`
	Schema      json.RawMessage `json:"schema"`
	Display     []Display       `json:"display"`
	Claims      []ClaimDisplay  `json:"claims"`
	Example     json.RawMessage `json:"example"`
}

// Load reads every *.yaml, *.yml and *.json file in the top directory of fsys as a type
// file, compiles its schema and checks that the type is coherent: names and vcts unique,
// disclosable and labelled claims exist in the schema, the example validates, display has
// zh-CN and en, colours are #rrggbb, validity is positive. Subdirectories are not read as
// type files but may hold schema files that a $ref names.
//
// On failure Load returns every problem it found, joined; each is a *FileError naming the
// file and field, and errors.Is(err, ErrInvalidTypeFile) holds. A directory with no type
// files is an error too.
func Load(fsys fs.FS) (*Registry, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, &FileError{File: ".", Err: err}
	}
	var (
		errs   []error
		types  []*Type
		byName = map[string]string{} // name → file
		byVCT  = map[string]string{} // vct → file
	)
	for _, e := range entries {
		if e.IsDir() || !isTypeFile(e.Name()) {
			continue
		}
		t, err := loadFile(fsys, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := byName[t.Name]; ok {
			errs = append(errs, &FileError{File: t.File, Field: "name", Err: fmt.Errorf("%q already defined in %s", t.Name, other)})
			continue
		}
		if other, ok := byVCT[t.VCT]; ok {
			errs = append(errs, &FileError{File: t.File, Field: "vct", Err: fmt.Errorf("%q already used by %s", t.VCT, other)})
			continue
		}
		byName[t.Name], byVCT[t.VCT] = t.File, t.File
		types = append(types, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(types) == 0 {
		return nil, &FileError{File: ".", Err: errors.New("no *.yaml, *.yml or *.json type files")}
	}
	return newRegistry(types), nil
}

func isTypeFile(name string) bool {
	switch path.Ext(name) {
	case ".yaml", ".yml", ".json":
		return !strings.HasPrefix(name, ".")
	}
	return false
}

// loadFile parses, compiles and checks one type file.
func loadFile(fsys fs.FS, name string) (*Type, error) {
	doc, err := readDoc(fsys, name)
	if err != nil {
		return nil, &FileError{File: name, Err: err}
	}
	return loadDoc(fsys, name, doc)
}

// Parse reads one type file given as bytes, as an agency uploads it: JSON when name ends in
// ".json", YAML otherwise (JSON is also valid YAML, but the JSON reader refuses duplicate
// keys). The file is checked as Load checks each file, except that a $ref may point at no
// other file (there is none): it must stay inside the file ("#/$defs/..."). Errors are those
// of Load for one file, joined, each a *FileError naming name and the field; errors.Is(err,
// ErrInvalidTypeFile) holds. Uniqueness against other types is the caller's to check.
func Parse(name string, b []byte) (*Type, error) {
	if len(b) > MaxFileSize {
		return nil, &FileError{File: name, Err: fmt.Errorf("larger than %d bytes", MaxFileSize)}
	}
	var doc any
	var err error
	if path.Ext(name) == ".json" {
		doc, err = parseJSON(b)
	} else {
		doc, err = parseYAML(b)
	}
	if err != nil {
		return nil, &FileError{File: name, Err: err}
	}
	return loadDoc(noFiles{}, name, doc)
}

// noFiles is an fs.FS without files: a $ref of an uploaded type file resolves to nothing.
type noFiles struct{}

// Open implements fs.FS.
func (noFiles) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// loadDoc compiles and checks the decoded type file name; a $ref may name files of fsys.
func loadDoc(fsys fs.FS, name string, doc any) (*Type, error) {
	fail := func(field string, format string, args ...any) error {
		return &FileError{File: name, Field: field, Err: fmt.Errorf(format, args...)}
	}
	var err error
	if _, ok := doc.(map[string]any); !ok {
		return nil, fail("", "top level is not a mapping")
	}
	if err := checkFields(name, doc); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, &FileError{File: name, Err: err}
	}
	var tf typeFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tf); err != nil {
		return nil, decodeError(name, err)
	}

	t := &Type{Name: tf.Name, VCT: tf.VCT, Version: tf.Version, File: name, Display: tf.Display, Claims: tf.Claims}
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	if !nameRE.MatchString(t.Name) {
		add(fail("name", "%q is not a type name (^[A-Z][A-Za-z0-9]{0,63}$)", t.Name))
	}
	if t.VCT == "" {
		t.VCT = VCTPrefix + t.Name
	} else if err := checkVCT(t.VCT); err != nil {
		add(fail("vct", "%v", err))
	}
	if len(t.Version) > 32 {
		add(fail("version", "longer than 32 bytes"))
	}
	if tf.Validity == "" {
		add(fail("validity", "required"))
	} else if t.Validity, err = parseDuration(tf.Validity); err != nil {
		add(fail("validity", "%v", err))
	} else if t.Validity <= 0 {
		add(fail("validity", "%q is not positive", tf.Validity))
	} else if t.Validity > MaxValidity {
		add(fail("validity", "%q is longer than 100 years", tf.Validity))
	}
	if tf.Refresh != "" {
		if t.Refresh, err = parseRefresh(tf.Refresh); err != nil {
			add(fail("refresh", "%v", err))
		} else if t.Refresh <= 0 {
			add(fail("refresh", "%q is not positive", tf.Refresh))
		} else if t.Validity > 0 && t.Refresh > t.Validity {
			add(fail("refresh", "%q is longer than validity %q", tf.Refresh, tf.Validity))
		}
	}
	switch Approval(tf.Approval) {
	case "":
		t.Approval = ApprovalNone
	case ApprovalNone, ApprovalOfficer:
		t.Approval = Approval(tf.Approval)
	default:
		add(fail("approval", "%q is not none or officer", tf.Approval))
	}
	if len(tf.Formats) == 0 {
		add(fail("formats", "required: one or more of %s", strings.Join(knownFormats, ", ")))
	}
	for i, f := range tf.Formats {
		switch {
		case !slices.Contains(knownFormats, f):
			add(fail(fmt.Sprintf("formats.%d", i), "%q is not one of %s", f, strings.Join(knownFormats, ", ")))
		case slices.Contains(tf.Formats[:i], f):
			add(fail(fmt.Sprintf("formats.%d", i), "%q listed twice", f))
		}
	}
	t.Formats = tf.Formats

	// The schema.
	if len(tf.Schema) == 0 || string(tf.Schema) == "null" {
		add(fail("schema", "required"))
		return nil, errors.Join(errs...)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tf.Schema))
	if err != nil {
		add(fail("schema", "%v", err))
		return nil, errors.Join(errs...)
	}
	if err := checkSchemaShape(schemaDoc); err != nil {
		add(&FileError{File: name, Field: "schema" + err.field, Err: err.err})
		return nil, errors.Join(errs...)
	}
	t.Schema = schemaDoc.(map[string]any)
	if t.schema, err = compileSchema(fsys, name, schemaDoc); err != nil {
		errs = append(errs, compileErrors(name, err)...)
		return nil, errors.Join(errs...)
	}
	props := t.Schema["properties"].(map[string]any)
	for p := range props {
		t.Properties = append(t.Properties, p)
	}
	sort.Strings(t.Properties)
	if req, ok := t.Schema["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok && !slices.Contains(t.Required, s) {
				t.Required = append(t.Required, s)
			}
		}
		sort.Strings(t.Required)
	}
	for _, r := range t.Required {
		if _, ok := props[r]; !ok {
			add(fail("schema.required", "%q is not in schema properties", r))
		}
	}

	// Disclosable claims.
	if t.DisclosableClaims, err = parseDisclosable(tf.Disclosable, t.Properties); err != nil {
		add(fail("disclosable", "%v", err))
	}

	// Display.
	errs = append(errs, checkDisplay(name, t.Display)...)
	errs = append(errs, checkClaims(name, t.Claims, t.Schema)...)

	// The example.
	if len(tf.Example) == 0 || string(tf.Example) == "null" {
		add(fail("example", "required"))
	} else if ex, err := jsonschema.UnmarshalJSON(bytes.NewReader(tf.Example)); err != nil {
		add(fail("example", "%v", err))
	} else if m, ok := ex.(map[string]any); !ok {
		add(fail("example", "not a mapping of claims"))
	} else {
		t.example = m
		if err := t.Validate(copyClaims(m)); err != nil {
			add(fail("example", "does not match schema: %v", err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

var (
	nameRE   = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,63}$`)
	colourRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	langRE   = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`)

	knownFormats = []string{FormatSDJWTVC, FormatVCJWT, FormatJWTVCJSON, FormatLDPVC}
)

// decodeError turns an encoding/json error about the type file into a FileError naming
// the field.
func decodeError(file string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &FileError{File: file, Field: te.Field, Err: fmt.Errorf("cannot be a JSON %s", te.Value)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FileError{File: file, Field: strings.Trim(f, `"`), Err: errors.New("unknown field")}
	}
	return &FileError{File: file, Err: err}
}

func checkVCT(vct string) error {
	if len(vct) > 255 {
		return errors.New("longer than 255 bytes")
	}
	u, err := url.Parse(vct)
	if err != nil || u.Scheme == "" || strings.ContainsAny(vct, " \t\r\n") {
		return fmt.Errorf("%q is not a URI", vct)
	}
	return nil
}

// parseDuration parses a Go duration ("24h", "90m") or a whole number of days ("30d") or
// 365-day years ("6y").
func parseDuration(s string) (time.Duration, error) {
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "y"):
		unit = 365 * 24 * time.Hour
	}
	if unit == 0 {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (24h, 30d, 6y)", s)
		}
		return d, nil
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a duration (24h, 30d, 6y)", s)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

func parseRefresh(s string) (time.Duration, error) {
	switch s {
	case "hourly":
		return time.Hour, nil
	case "daily":
		return 24 * time.Hour, nil
	case "weekly":
		return 7 * 24 * time.Hour, nil
	}
	return parseDuration(s)
}

func parseDisclosable(raw json.RawMessage, props []string) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return []string{}, nil
	}
	var all string
	if err := json.Unmarshal(raw, &all); err == nil {
		if all != "all" {
			return nil, fmt.Errorf(`%q: want "all" or a list of claim names`, all)
		}
		return append([]string{}, props...), nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, errors.New(`want "all" or a list of claim names`)
	}
	var errs []error
	for _, n := range names {
		if !slices.Contains(props, n) {
			errs = append(errs, fmt.Errorf("%q is not in schema properties", n))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

func checkDisplay(file string, ds []Display) []error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &FileError{File: file, Field: field, Err: fmt.Errorf(format, args...)})
	}
	seen := map[string]bool{}
	for i, d := range ds {
		f := fmt.Sprintf("display.%d", i)
		switch {
		case !langRE.MatchString(d.Lang):
			fail(f+".lang", "%q is not a language tag", d.Lang)
		case seen[d.Lang]:
			fail(f+".lang", "%q listed twice", d.Lang)
		}
		seen[d.Lang] = true
		if d.Name == "" || len(d.Name) > 200 {
			fail(f+".name", "required, at most 200 bytes")
		}
		if len(d.Description) > 2000 {
			fail(f+".description", "longer than 2000 bytes")
		}
		if d.BackgroundColor != "" && !colourRE.MatchString(d.BackgroundColor) {
			fail(f+".background_color", "%q is not #rrggbb", d.BackgroundColor)
		}
		if d.TextColor != "" && !colourRE.MatchString(d.TextColor) {
			fail(f+".text_color", "%q is not #rrggbb", d.TextColor)
		}
		if d.Logo != nil {
			if err := checkLogoURI(d.Logo.URI); err != nil {
				fail(f+".logo.uri", "%v", err)
			}
			if len(d.Logo.AltText) > 200 {
				fail(f+".logo.alt_text", "longer than 200 bytes")
			}
		}
	}
	for _, lang := range []string{"zh-CN", "en"} {
		if !seen[lang] {
			fail("display", "missing the %s entry", lang)
		}
	}
	return errs
}

func checkLogoURI(s string) error {
	if len(s) > 64<<10 {
		return errors.New("longer than 64 KiB")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URI: %v", err)
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "data" && strings.HasPrefix(u.Opaque, "image/"):
		return nil
	}
	return errors.New("must be an https: or data:image/ URI")
}

func checkClaims(file string, cs []ClaimDisplay, schema map[string]any) []error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &FileError{File: file, Field: field, Err: fmt.Errorf(format, args...)})
	}
	seen := map[string]bool{}
	for i, c := range cs {
		f := fmt.Sprintf("claims.%d", i)
		key := strings.Join(c.Path, "/")
		switch {
		case len(c.Path) == 0:
			fail(f+".path", "required")
		case !schemaHasPath(schema, c.Path):
			fail(f+".path", "%q is not in schema properties", c.Path)
		case seen[key]:
			fail(f+".path", "%q labelled twice", c.Path)
		}
		seen[key] = true
		langs := map[string]bool{}
		for j, l := range c.Display {
			lf := fmt.Sprintf("%s.display.%d", f, j)
			if !langRE.MatchString(l.Lang) {
				fail(lf+".lang", "%q is not a language tag", l.Lang)
			}
			if l.Label == "" || len(l.Label) > 200 {
				fail(lf+".label", "required, at most 200 bytes")
			}
			if len(l.Description) > 2000 {
				fail(lf+".description", "longer than 2000 bytes")
			}
			langs[l.Lang] = true
		}
		for _, lang := range []string{"zh-CN", "en"} {
			if !langs[lang] {
				fail(f+".display", "missing the %s label", lang)
			}
		}
	}
	return errs
}

// Known fields of a type file, by level; checkFields reports the first unknown one with its
// full path, which encoding/json would not.
var (
	topFields          = fieldSet(typeFile{})
	displayFields      = fieldSet(Display{})
	logoFields         = fieldSet(Logo{})
	claimFields        = fieldSet(ClaimDisplay{})
	claimLabelFields   = fieldSet(ClaimLabel{})
	errUnknownField    = errors.New("unknown field")
	errNotAMappingItem = errors.New("want a mapping")
)

func fieldSet(v any) map[string]bool {
	m := map[string]bool{}
	rt := reflect.TypeOf(v)
	for i := 0; i < rt.NumField(); i++ {
		if tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); tag != "" {
			m[tag] = true
		}
	}
	return m
}

func checkFields(file string, doc any) error {
	check := func(at string, v any, known map[string]bool) error {
		m, ok := v.(map[string]any)
		if !ok {
			return &FileError{File: file, Field: at, Err: errNotAMappingItem}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !known[k] {
				return &FileError{File: file, Field: strings.TrimPrefix(at+"."+k, "."), Err: errUnknownField}
			}
		}
		return nil
	}
	top := doc.(map[string]any)
	if err := check("", top, topFields); err != nil {
		return err
	}
	ds, _ := top["display"].([]any)
	for i, d := range ds {
		at := fmt.Sprintf("display.%d", i)
		if err := check(at, d, displayFields); err != nil {
			return err
		}
		if logo, ok := d.(map[string]any)["logo"]; ok && logo != nil {
			if err := check(at+".logo", logo, logoFields); err != nil {
				return err
			}
		}
	}
	cs, _ := top["claims"].([]any)
	for i, c := range cs {
		at := fmt.Sprintf("claims.%d", i)
		if err := check(at, c, claimFields); err != nil {
			return err
		}
		ls, _ := c.(map[string]any)["display"].([]any)
		for j, l := range ls {
			if err := check(fmt.Sprintf("%s.display.%d", at, j), l, claimLabelFields); err != nil {
				return err
			}
		}
	}
	return nil
}
