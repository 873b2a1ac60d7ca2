package safehttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientRefusesInternalAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if _, err := Client(false).Get(srv.URL); err == nil || !strings.Contains(err.Error(), "internal address") {
		t.Fatalf("public-only client reached %s: %v", srv.URL, err)
	}
	resp, err := Client(true).Get(srv.URL)
	if err != nil {
		t.Fatalf("internal-allowed client: %v", err)
	}
	resp.Body.Close()
}
