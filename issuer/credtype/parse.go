package credtype

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	// maxDepth bounds the nesting of a decoded document.
	maxDepth = 64
	// maxNodes bounds the values a YAML document expands to (aliases included).
	maxNodes = 100_000
)

// readDoc reads a JSON or YAML file of at most MaxFileSize bytes into JSON values: maps
// with string keys, []any, string, json.Number, bool and nil. Duplicate keys, deep nesting
// and excessive YAML aliasing are errors.
func readDoc(fsys fs.FS, name string) (any, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	if path.Ext(name) == ".json" {
		return parseJSON(b)
	}
	return parseYAML(b)
}

// parseJSON decodes one JSON value, refusing duplicate keys and nesting deeper than
// maxDepth.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level JSON value")
	}
	return v, nil
}

func jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			if m[k], err = jsonValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return m, nil
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return a, nil
	}
	if num, ok := tok.(json.Number); ok {
		if err := checkNumber(string(num)); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// parseYAML decodes one YAML document into JSON values.
func parseYAML(b []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if err == io.EOF {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		return nil, errors.New("want exactly one YAML document")
	}
	budget := maxNodes
	return yamlValue(&n, 0, &budget)
}

func yamlValue(n *yaml.Node, depth int, budget *int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested deeper than %d", n.Line, maxDepth)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("line %d: document expands to more than %d values", n.Line, maxNodes)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, errors.New("want exactly one YAML document")
		}
		return yamlValue(n.Content[0], depth, budget)
	case yaml.AliasNode:
		return yamlValue(n.Alias, depth+1, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: mapping keys must be plain strings", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			val, err := yamlValue(v, depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		a := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case yaml.ScalarNode:
		v, err := yamlScalar(n)
		if num, ok := v.(json.Number); ok && err == nil {
			if err := checkNumber(string(num)); err != nil {
				return nil, fmt.Errorf("line %d: %v", n.Line, err)
			}
		}
		return v, err
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// yamlScalar maps a YAML scalar to a JSON value. Timestamps stay strings, so an unquoted
// 1990-05-17 is the string a "date" format expects.
func yamlScalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return b, nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %q is not a JSON number", n.Line, n.Value)
		}
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil && json.Valid([]byte(n.Value)) {
			return json.Number(n.Value), nil
		}
		if n.ShortTag() == "!!int" {
			var i int64
			if err := n.Decode(&i); err == nil {
				return json.Number(strconv.FormatInt(i, 10)), nil
			}
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case "!!str", "!!timestamp":
		return n.Value, nil
	case "!!binary":
		return nil, fmt.Errorf("line %d: !!binary is not supported; use a base64 string", n.Line)
	}
	return nil, fmt.Errorf("line %d: unsupported tag %s", n.Line, n.Tag)
}

// maxNumberLen and maxExponent bound JSON numbers: the schema library works on exact
// rationals, so a number like 1e999999999 would cost unbounded time and memory. Anything
// beyond them is out of float64 range anyway.
const (
	maxNumberLen = 64
	maxExponent  = 400
)

// checkNumber reports whether the JSON number text s is within maxNumberLen and
// maxExponent.
func checkNumber(s string) error {
	if len(s) > maxNumberLen {
		return fmt.Errorf("number longer than %d characters", maxNumberLen)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > maxExponent || e < -maxExponent {
			return fmt.Errorf("number exponent beyond ±%d", maxExponent)
		}
	}
	return nil
}
