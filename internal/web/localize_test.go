package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
)

// TestLocalizer: the Localize hook rewrites a problem's text per request; it cannot change
// the type, status or request id the client switches on, and the log keeps the mapper's text.
func TestLocalizer(t *testing.T) {
	errGone := fmt.Errorf("%w: no such thing", problem.ErrNotFound)
	localize := func(c echo.Context, p *problem.Problem) {
		if c.Request().Header.Get("Accept-Language") != "zh-CN" {
			return
		}
		p.Title = "未找到"
		p.Type, p.Status, p.RequestID = "/problems/hijacked", 200, "x" // ignored
		c.Response().Header().Set("Content-Language", "zh-CN")
	}
	e, logs := newTestServer(t, web.Config{Localize: localize})
	e.GET("/thing", func(echo.Context) error { return errGone })
	tests := []struct {
		name, lang, title, contentLanguage string
	}{
		{"without the header", "", "Not found", ""},
		{"localized", "zh-CN", "未找到", "zh-CN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.lang != "" {
				hdr = []string{"Accept-Language", tt.lang}
			}
			rec := do(e, http.MethodGet, "/thing", nil, hdr...)
			p := decodeProblem(t, rec)
			if rec.Code != http.StatusNotFound || p.Status != 404 || p.Type != "/problems/not-found" || p.Title != tt.title ||
				p.RequestID == "x" || p.RequestID != rec.Header().Get(echo.HeaderXRequestID) {
				t.Errorf("HTTP %d %+v", rec.Code, p)
			}
			if got := rec.Header().Get("Content-Language"); got != tt.contentLanguage {
				t.Errorf("Content-Language %q", got)
			}
		})
	}
	for _, r := range logs.records(t, "http error") {
		if r["type"] != "/problems/not-found" {
			t.Errorf("logged %v", r)
		}
	}
}
