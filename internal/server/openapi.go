package server

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"sort"
)

// openapiFiles are the OpenAPI document's parts: base.json (info, servers, shared schemas and
// responses, and the first components' paths) plus one fragment per feature, each holding
// "paths" and "components" that are merged in. Fragments let features describe their own
// endpoints without editing one shared file.
//
//go:embed openapi/*.json
var openapiFiles embed.FS

// OpenAPI is the OpenAPI 3.1 description of every endpoint the server serves (a test keeps it
// equal to the routes).
var OpenAPI = mustBuildOpenAPI()

func mustBuildOpenAPI() []byte {
	b, err := buildOpenAPI(openapiFiles)
	if err != nil {
		panic("server: openapi: " + err.Error())
	}
	return b
}

// buildOpenAPI merges openapi/base.json with every other openapi/*.json fragment (in name
// order). A path or component defined twice is an error.
func buildOpenAPI(fsys fs.FS) ([]byte, error) {
	read := func(name string) (map[string]any, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return m, nil
	}
	doc, err := read("openapi/base.json")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "openapi/base.json" {
			continue
		}
		frag, err := read(name)
		if err != nil {
			return nil, err
		}
		if err := mergeSection(doc, frag, name, "paths"); err != nil {
			return nil, err
		}
		comps, _ := frag["components"].(map[string]any)
		for section, v := range comps {
			dst := ensureMap(ensureMap(doc, "components"), section)
			src, _ := v.(map[string]any)
			for k := range src {
				if _, dup := dst[k]; dup {
					return nil, fmt.Errorf("%s: components.%s.%s defined twice", name, section, k)
				}
			}
			maps.Copy(dst, src)
		}
		if tags, ok := frag["tags"].([]any); ok {
			doc["tags"] = append(doc["tags"].([]any), tags...)
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}

func mergeSection(doc, frag map[string]any, name, section string) error {
	src, _ := frag[section].(map[string]any)
	dst := ensureMap(doc, section)
	for k := range src {
		if _, dup := dst[k]; dup {
			return fmt.Errorf("%s: %s %q defined twice", name, section, k)
		}
	}
	maps.Copy(dst, src)
	return nil
}

func ensureMap(m map[string]any, key string) map[string]any {
	v, ok := m[key].(map[string]any)
	if !ok {
		v = map[string]any{}
		m[key] = v
	}
	return v
}
