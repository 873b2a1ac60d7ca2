package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/verifier"
)

// FuzzDetectFormat: any text either is refused with ErrNotPresentation or gets a known
// format; nothing panics.
func FuzzDetectFormat(f *testing.F) {
	w := newWorld(f)
	issued := w.sdJWT(w.key1, "#key-1", tIssue)
	for _, s := range []string{issued, w.present(issued, []string{"family_name"}, w.holder), w.vcJWT(false, w.key1, "#key-1", tIssue, validIdx),
		w.vcJWT(true, w.key1, "#key-1", tIssue, validIdx), w.ldp(w.key1, "#key-1", tIssue, licence), "a.b.c", "a.b.c~", "{", "", "e30.e30.e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		format, err := verifier.DetectFormat(text)
		if err != nil {
			if !errors.Is(err, verifier.ErrNotPresentation) {
				t.Fatalf("error %v does not wrap ErrNotPresentation", err)
			}
			return
		}
		if !slices.Contains(verifier.Formats, format) {
			t.Fatalf("format %q", format)
		}
	})
}

// FuzzVerify: whatever the text, Verify returns ErrNotPresentation or a Result reporting
// every check in order, and only the untouched seeds are valid; a changed byte in a valid
// credential never verifies.
func FuzzVerify(f *testing.F) {
	w := newWorld(f)
	s := w.service(nil)
	issued := w.sdJWT(w.key1, "#key-1", tIssue)
	valid := map[string]bool{}
	for _, v := range []struct{ text, policy string }{
		{w.present(issued, []string{"family_name", "licence_class"}, w.holder), ""},
		{w.vcJWT(false, w.key1, "#key-1", tIssue, validIdx), "credential"},
		{w.vcJWT(true, w.key1, "#key-1", tIssue, validIdx), "credential"},
		{w.ldp(w.key1, "#key-1", tIssue, licence), "credential"},
		{w.ldp(w.key1, "#key-1", tIssue, licence, messageEntry(validIdx)), "credential"},
	} {
		valid[v.policy+"\x00"+v.text] = true
		f.Add(v.text, v.policy)
	}
	f.Add("a.b.c~", "")
	f.Add(`{"@context":[]}`, "credential")
	f.Fuzz(func(t *testing.T, text, policy string) {
		if policy != "" && policy != "credential" {
			policy = ""
		}
		res, err := s.Verify(context.Background(), text, verifier.Options{Policy: policy})
		if err != nil {
			if !errors.Is(err, verifier.ErrNotPresentation) {
				t.Fatalf("error %v is neither a result nor ErrNotPresentation", err)
			}
			return
		}
		var names []string
		for _, c := range res.Checks {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, verifier.CheckNames) {
			t.Fatalf("checks %q", names)
		}
		if res.Valid && !valid[policy+"\x00"+strings.TrimSpace(text)] {
			t.Fatalf("a changed credential verified: %q", text)
		}
	})
}

// FuzzParsePolicy: a policy file either is refused or parses into a valid policy that
// survives a JSON round trip unchanged.
func FuzzParsePolicy(f *testing.F) {
	files, _ := filepath.Glob("policies/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("p.yaml", b)
	}
	f.Add("p.json", []byte(`{"name":"p","max_qr_age":"90s","may_skip":["anchor"]}`))
	f.Add("p.yaml", []byte("name: p\nname: q\n"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		if name != "p.json" {
			name = "p.yaml"
		}
		p, err := verifier.ParsePolicy(name, b)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed an invalid policy: %v", err)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := verifier.ParsePolicy("p.json", js)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, js)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
		}
	})
}
