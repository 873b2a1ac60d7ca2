package did

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestWebURL(t *testing.T) {
	for in, want := range map[string]string{
		"did:web:example.com":                "https://example.com/.well-known/did.json",
		"did:web:example.com%3A8443":         "https://example.com:8443/.well-known/did.json",
		"did:web:example.com:org:psb":        "https://example.com/org/psb/did.json",
		"did:web:gov.example:agencies:psb-1": "https://gov.example/agencies/psb-1/did.json",
	} {
		d, _ := Parse(in)
		got, err := WebURL(d)
		if err != nil || got != want {
			t.Errorf("WebURL(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"did:web:a%2Fb", "did:web:example.com:..", "did:web:%40evil.example"} {
		d, _ := Parse(bad)
		if _, err := WebURL(d); !errors.Is(err, ErrInvalidDID) {
			t.Errorf("WebURL(%s) err = %v, want ErrInvalidDID", bad, err)
		}
	}
}

// TestWebResolve serves DID documents from a real TLS server on 127.0.0.1.
func TestWebResolve(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var host string
	docs := map[string]func() any{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch v := f().(type) {
		case string:
			w.Write([]byte(v))
		case time.Duration:
			time.Sleep(v)
		case int:
			http.Redirect(w, r, "https://elsewhere.example/did.json", v)
		default:
			json.NewEncoder(w).Encode(v)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host = strings.ReplaceAll(u.Host, ":", "%3A")
	good := "did:web:" + host + ":psb"
	doc := func(id string) any {
		kid := id + "#key-1"
		return Document{ID: id, VerificationMethod: []VerificationMethod{{ID: kid, Type: "JsonWebKey2020", Controller: id, PublicKeyJwk: &jose.JSONWebKey{Key: priv.Public()}}},
			AssertionMethod: []string{kid}}
	}
	docs["/psb/did.json"] = func() any { return doc(good) }
	docs["/wrongid/did.json"] = func() any { return doc("did:web:someone.else") }
	docs["/big/did.json"] = func() any { return strings.Repeat(" ", 70<<10) + "{}" }
	docs["/slow/did.json"] = func() any { return 2 * time.Second }
	docs["/moved/did.json"] = func() any { return http.StatusFound }
	docs["/garbage/did.json"] = func() any { return "not json" }

	w := Web{Client: srv.Client(), Timeout: 500 * time.Millisecond}
	ctx := context.Background()
	got, err := w.Resolve(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.Key(good+"#key-1", AssertionMethod); err != nil {
		t.Fatalf("key: %v", err)
	}
	for path, want := range map[string]error{
		"wrongid": ErrWebFetch, "big": ErrWebFetch, "slow": ErrWebFetch, "moved": ErrWebFetch, "garbage": ErrWebFetch, "absent": ErrNotFound,
	} {
		if _, err := w.Resolve(ctx, "did:web:"+host+":"+path); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", path, err, want)
		}
	}
	// The default client refuses to reach loopback addresses.
	if _, err := (Web{}).Resolve(ctx, good); !errors.Is(err, ErrWebFetch) || !strings.Contains(err.Error(), "internal address") {
		t.Errorf("default client on loopback: err = %v", err)
	}
}
