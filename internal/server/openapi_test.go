package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIDescribesEveryRoute keeps /openapi.json true: every route the server serves is
// described with its method, and every described operation is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodGet, "/openapi.json", "", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-zA-Z_]+)`)
	var served []string
	for _, rt := range f.srv.Echo.Routes() {
		if rt.Method == "echo_route_not_found" || strings.HasSuffix(rt.Path, "/*") {
			continue
		}
		served = append(served, strings.ToLower(rt.Method)+" "+param.ReplaceAllString(rt.Path, "{$1}"))
	}
	var described []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			described = append(described, m+" "+path)
		}
	}
	slices.Sort(served)
	served = slices.Compact(served)
	slices.Sort(described)
	for _, s := range served {
		if !slices.Contains(described, s) {
			t.Errorf("served but not in openapi.json: %s", s)
		}
	}
	for _, d := range described {
		if !slices.Contains(served, d) {
			t.Errorf("in openapi.json but not served: %s", d)
		}
	}
}
