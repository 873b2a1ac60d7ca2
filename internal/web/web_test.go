package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
)

// logBuffer collects JSON log lines from concurrent handlers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the log records whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

var errOfferExpired = errors.New("offer expired")

var testRules = []problem.Rule{
	{Err: errOfferExpired, Status: http.StatusGone, Name: "offer-expired", Title: "Credential offer expired"},
}

// newTestServer returns a server with the test rules and a route per kind of error.
func newTestServer(t *testing.T, cfg web.Config) (*echo.Echo, *logBuffer) {
	t.Helper()
	logger, logs := newLogger()
	cfg.Logger = logger
	if cfg.Mapper == nil {
		cfg.Mapper = problem.NewMapper(testRules)
	}
	e := web.New(cfg)
	e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "fine") })
	e.GET("/fail", func(c echo.Context) error {
		return errorsByName[c.QueryParam("err")]
	})
	e.GET("/panic", func(c echo.Context) error { panic("secret-panic-text in handler") })
	e.GET("/committed", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "partial"); err != nil {
			return err
		}
		return errors.New("failed after writing")
	})
	e.POST("/bind", func(c echo.Context) error {
		var req struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		}
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, req)
	})
	return e, logs
}

var errorsByName = map[string]error{
	"not-found":   fmt.Errorf("loading credential: %w", problem.ErrNotFound),
	"custom":      fmt.Errorf("redeeming: %w", errOfferExpired),
	"problem":     &problem.Problem{Type: problem.TypeURI("invalid-rows"), Title: "Invalid rows", Status: 422, Errors: []problem.FieldError{{Field: "row 2", Detail: "missing name"}}},
	"unknown":     errors.New("sqlite: database disk image is malformed: /var/lib/secret.db"),
	"canceled":    fmt.Errorf("querying: %w", context.Canceled),
	"unavailable": fmt.Errorf("%w: signer queue full", problem.ErrUnavailable),
	"unauth":      fmt.Errorf("%w: token unknown", problem.ErrUnauthorized),
	"echo-400":    echo.NewHTTPError(http.StatusBadRequest, "Syntax error: offset=3"),
	"echo-415":    echo.ErrUnsupportedMediaType,
	"echo-413":    echo.ErrStatusRequestEntityTooLarge,
	"echo-429":    echo.ErrTooManyRequests,
	"echo-500":    echo.NewHTTPError(http.StatusInternalServerError, "pool exhausted").SetInternal(errors.New("db down")),
	"echo-502":    echo.ErrBadGateway,
	"max-bytes":   fmt.Errorf("reading upload: %w", &http.MaxBytesError{Limit: 10}),
}

// do serves one request with e.ServeHTTP.
func do(e *echo.Echo, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// decodeProblem checks the content type and decodes a problem response.
func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
		t.Errorf("Content-Type = %q, want %q (body %s)", got, problem.ContentType, rec.Body)
	}
	var p problem.Problem
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decoding problem: %v", err)
	}
	if p.Status != rec.Code {
		t.Errorf("problem status %d, response status %d", p.Status, rec.Code)
	}
	if p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-Id") {
		t.Errorf("problem request_id %q, X-Request-Id %q", p.RequestID, rec.Header().Get("X-Request-Id"))
	}
	return p
}

func TestBuiltinRoutes(t *testing.T) {
	t.Parallel()
	notReady := errors.New("store not migrated")
	tests := []struct {
		name     string
		cfg      web.Config
		target   string
		wantCode int
		wantType string // content type
		wantBody string // substring
	}{
		{"healthz", web.Config{}, "/healthz", 200, "application/json", `{"status":"ok"}`},
		{"readyz default", web.Config{}, "/readyz", 200, "application/json", `{"status":"ready"}`},
		{"readyz ready", web.Config{Ready: func(context.Context) error { return nil }}, "/readyz", 200, "application/json", `{"status":"ready"}`},
		{"readyz not ready", web.Config{Ready: func(context.Context) error { return notReady }}, "/readyz", 503, problem.ContentType, `"type":"/problems/unavailable"`},
		{"metrics", web.Config{}, "/metrics", 200, "text/plain", "go_goroutines"},
		{"metrics process", web.Config{}, "/metrics", 200, "text/plain", "process_cpu_seconds_total"},
		{"openapi", web.Config{OpenAPI: []byte(`{"openapi":"3.1.0"}`)}, "/openapi.json", 200, "application/json", `{"openapi":"3.1.0"}`},
		{"openapi missing", web.Config{}, "/openapi.json", 404, problem.ContentType, `"type":"/problems/not-found"`},
		{"problems", web.Config{}, "/problems", 200, "application/json", `{"type":"/problems/offer-expired","name":"offer-expired","title":"Credential offer expired","status":410}`},
		{"problem type", web.Config{}, "/problems/too-large", 200, "application/json", `{"type":"/problems/too-large","name":"too-large","title":"Request too large","status":413}`},
		{"problem type unknown", web.Config{}, "/problems/nope", 404, problem.ContentType, `"detail":"not found: no such problem type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, logs := newTestServer(t, tt.cfg)
			rec := do(e, http.MethodGet, tt.target, nil)
			if rec.Code != tt.wantCode {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s\ndoes not contain %s", rec.Body, tt.wantBody)
			}
			if tt.wantCode == 503 {
				if got := rec.Header().Get("Retry-After"); got != "1" {
					t.Errorf("Retry-After = %q, want 1", got)
				}
				if strings.Contains(rec.Body.String(), notReady.Error()) {
					t.Errorf("503 body leaks the readiness error: %s", rec.Body)
				}
				if recs := logs.records(t, "http error"); len(recs) != 1 || recs[0]["level"] != "WARN" || !strings.Contains(recs[0]["err"].(string), notReady.Error()) {
					t.Errorf("readiness failure not logged at WARN with its error: %v", recs)
				}
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		target     string
		want       problem.Problem // RequestID is not compared
		wantHeader map[string]string
		wantLevel  string
	}{
		{
			name: "wrapped sentinel", method: "GET", target: "/fail?err=not-found",
			want:      problem.Problem{Type: "/problems/not-found", Title: "Not found", Status: 404, Detail: "loading credential: not found"},
			wantLevel: "DEBUG",
		},
		{
			name: "component rule", method: "GET", target: "/fail?err=custom",
			want:      problem.Problem{Type: "/problems/offer-expired", Title: "Credential offer expired", Status: 410, Detail: "redeeming: offer expired"},
			wantLevel: "DEBUG",
		},
		{
			name: "problem passthrough", method: "GET", target: "/fail?err=problem",
			want:      problem.Problem{Type: "/problems/invalid-rows", Title: "Invalid rows", Status: 422, Errors: []problem.FieldError{{Field: "row 2", Detail: "missing name"}}},
			wantLevel: "DEBUG",
		},
		{
			name: "unknown error", method: "GET", target: "/fail?err=unknown",
			want:      problem.Problem{Type: "/problems/internal", Title: "Internal error", Status: 500, Detail: "internal error"},
			wantLevel: "ERROR",
		},
		{
			name: "client gone", method: "GET", target: "/fail?err=canceled",
			want:      problem.Problem{Type: "/problems/client-closed-request", Title: "Client closed request", Status: 499},
			wantLevel: "DEBUG",
		},
		{
			name: "unavailable", method: "GET", target: "/fail?err=unavailable",
			want:       problem.Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: 503},
			wantHeader: map[string]string{"Retry-After": "1"},
			wantLevel:  "WARN",
		},
		{
			name: "unauthorized", method: "GET", target: "/fail?err=unauth",
			want:       problem.Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: 401, Detail: "unauthorized: token unknown"},
			wantHeader: map[string]string{"WWW-Authenticate": "Bearer"},
			wantLevel:  "DEBUG",
		},
		{
			name: "echo bind error", method: "GET", target: "/fail?err=echo-400",
			want:      problem.Problem{Type: "/problems/malformed-request", Title: "Malformed request", Status: 400, Detail: "Syntax error: offset=3"},
			wantLevel: "DEBUG",
		},
		{
			name: "echo 415", method: "GET", target: "/fail?err=echo-415",
			want:      problem.Problem{Type: "/problems/unsupported-media-type", Title: "Unsupported media type", Status: 415},
			wantLevel: "DEBUG",
		},
		{
			name: "echo 413", method: "GET", target: "/fail?err=echo-413",
			want:      problem.Problem{Type: "/problems/too-large", Title: "Request too large", Status: 413},
			wantLevel: "DEBUG",
		},
		{
			name: "echo other 4xx", method: "GET", target: "/fail?err=echo-429",
			want:      problem.Problem{Type: "about:blank", Title: "Too Many Requests", Status: 429},
			wantLevel: "DEBUG",
		},
		{
			name: "echo 500 hides message", method: "GET", target: "/fail?err=echo-500",
			want:      problem.Problem{Type: "/problems/internal", Title: "Internal error", Status: 500, Detail: "internal error"},
			wantLevel: "ERROR",
		},
		{
			name: "echo other 5xx", method: "GET", target: "/fail?err=echo-502",
			want:      problem.Problem{Type: "about:blank", Title: "Bad Gateway", Status: 502},
			wantLevel: "ERROR",
		},
		{
			name: "body read past limit", method: "GET", target: "/fail?err=max-bytes",
			want:      problem.Problem{Type: "/problems/too-large", Title: "Request too large", Status: 413, Detail: "request body exceeds 10 bytes"},
			wantLevel: "DEBUG",
		},
		{
			name: "route not found", method: "GET", target: "/no/such/route",
			want:      problem.Problem{Type: "/problems/not-found", Title: "Not found", Status: 404},
			wantLevel: "DEBUG",
		},
		{
			name: "method not allowed", method: "DELETE", target: "/healthz",
			want:       problem.Problem{Type: "/problems/method-not-allowed", Title: "Method not allowed", Status: 405},
			wantHeader: map[string]string{"Allow": "OPTIONS, GET"},
			wantLevel:  "DEBUG",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, logs := newTestServer(t, web.Config{})
			rec := do(e, tt.method, tt.target, nil)
			if rec.Code != tt.want.Status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.want.Status, rec.Body)
			}
			got := decodeProblem(t, rec)
			got.RequestID = ""
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("problem\n got %s\nwant %s", gotJSON, wantJSON)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if strings.Contains(rec.Body.String(), "sqlite") || strings.Contains(rec.Body.String(), "db down") {
				t.Errorf("body leaks the internal error: %s", rec.Body)
			}
			recs := logs.records(t, "http error")
			if len(recs) != 1 {
				t.Fatalf("%d error log records, want 1:\n%s", len(recs), logs)
			}
			if recs[0]["level"] != tt.wantLevel {
				t.Errorf("logged at %v, want %s", recs[0]["level"], tt.wantLevel)
			}
			if recs[0]["request_id"] != rec.Header().Get("X-Request-Id") {
				t.Errorf("error log request_id = %v, want %s", recs[0]["request_id"], rec.Header().Get("X-Request-Id"))
			}
		})
	}
}

func TestUnknownErrorLogsRealError(t *testing.T) {
	t.Parallel()
	e, logs := newTestServer(t, web.Config{})
	do(e, http.MethodGet, "/fail?err=unknown", nil)
	recs := logs.records(t, "http error")
	if len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]["err"]), "database disk image is malformed") {
		t.Errorf("the real error was not logged: %s", logs)
	}
}

func TestHeadHasNoBody(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	rec := do(e, http.MethodHead, "/healthz", nil)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /healthz status = %d, want 405", rec.Code)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("HEAD answered with a body: %q", rec.Body)
	}
	if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
		t.Errorf("Content-Type = %q, want %q", got, problem.ContentType)
	}
}

func TestCommittedResponseOnlyLogs(t *testing.T) {
	t.Parallel()
	e, logs := newTestServer(t, web.Config{})
	rec := do(e, http.MethodGet, "/committed", nil)
	if rec.Code != http.StatusOK || rec.Body.String() != "partial" {
		t.Errorf("got %d %q, want the handler's own 200 \"partial\"", rec.Code, rec.Body)
	}
	if recs := logs.records(t, "http error after the response was committed"); len(recs) != 1 || recs[0]["level"] != "ERROR" {
		t.Errorf("error after commit not logged at ERROR: %s", logs)
	}
}

func TestPanic(t *testing.T) {
	t.Parallel()
	e, logs := newTestServer(t, web.Config{})
	rec := do(e, http.MethodGet, "/panic", nil, "X-Request-Id", "panic-req-1")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	p := decodeProblem(t, rec)
	if p.Type != "/problems/internal" || p.Detail != "internal error" || p.RequestID != "panic-req-1" {
		t.Errorf("problem = %+v", p)
	}
	if strings.Contains(rec.Body.String(), "secret-panic-text") {
		t.Errorf("body leaks the panic: %s", rec.Body)
	}
	recs := logs.records(t, "http error")
	if len(recs) != 1 {
		t.Fatalf("%d error records, want 1:\n%s", len(recs), logs)
	}
	r := recs[0]
	if r["level"] != "ERROR" || r["request_id"] != "panic-req-1" ||
		!strings.Contains(fmt.Sprint(r["err"]), "secret-panic-text") ||
		!strings.Contains(fmt.Sprint(r["stack"]), "web_test.newTestServer") {
		t.Errorf("panic log record = %v", r)
	}
	if access := logs.records(t, "http request"); len(access) != 1 || access[0]["status"] != 500.0 {
		t.Errorf("access log = %v, want one record with status 500", access)
	}
}

func TestAbortHandlerPanicPropagates(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	e.GET("/abort", func(c echo.Context) error { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	do(e, http.MethodGet, "/abort", nil)
	t.Error("http.ErrAbortHandler was swallowed")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		keep   bool
	}{
		{"sane id echoed", "abc-123_X.y:z", true},
		{"64 chars echoed", strings.Repeat("a", 64), true},
		{"too long replaced", strings.Repeat("a", 65), false},
		{"bad characters replaced", "abc def", false},
		{"log injection replaced", "x\",\"level\":\"ERROR", false},
		{"missing generated", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, logs := newTestServer(t, web.Config{})
			var seen, seenCtx string
			e.GET("/id", func(c echo.Context) error {
				seen, seenCtx = web.RequestID(c), web.RequestIDFromContext(c.Request().Context())
				return c.NoContent(http.StatusNoContent)
			})
			rec := do(e, http.MethodGet, "/id", nil, "X-Request-Id", tt.header)
			got := rec.Header().Get("X-Request-Id")
			if tt.keep && got != tt.header {
				t.Errorf("X-Request-Id = %q, want %q", got, tt.header)
			}
			if !tt.keep && (got == tt.header || len(got) < 16) {
				t.Errorf("X-Request-Id = %q, want a generated id", got)
			}
			if seen != got || seenCtx != got {
				t.Errorf("handler saw %q and %q, response says %q", seen, seenCtx, got)
			}
			if access := logs.records(t, "http request"); len(access) != 1 || access[0]["request_id"] != got {
				t.Errorf("access log = %v", access)
			}
		})
	}
	e, _ := newTestServer(t, web.Config{})
	a := do(e, http.MethodGet, "/ok", nil).Header().Get("X-Request-Id")
	b := do(e, http.MethodGet, "/ok", nil).Header().Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	e, logs := newTestServer(t, web.Config{})
	do(e, http.MethodPost, "/bind?code=SECRETQUERY", strings.NewReader(`{"name":"SECRETBODY"}`),
		"Content-Type", "application/json", "Authorization", "Bearer SECRETTOKEN", "X-Request-Id", "log-1")
	recs := logs.records(t, "http request")
	if len(recs) != 1 {
		t.Fatalf("%d access records, want 1:\n%s", len(recs), logs)
	}
	r := recs[0]
	want := map[string]any{"level": "INFO", "method": "POST", "path": "/bind", "route": "/bind", "status": 200.0, "request_id": "log-1"}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("access log %s = %v, want %v", k, r[k], v)
		}
	}
	if _, ok := r["duration"]; !ok {
		t.Error("access log has no duration")
	}
	for _, secret := range []string{"SECRETTOKEN", "SECRETBODY", "SECRETQUERY"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %s:\n%s", secret, logs)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	e.GET("/credentials/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for _, id := range []string{"a", "b", "c"} {
		do(e, http.MethodGet, "/credentials/"+id, nil)
	}
	do(e, http.MethodGet, "/fail?err=not-found", nil)
	do(e, http.MethodGet, "/random/path/1", nil)
	do(e, "BREW", "/ok", nil)
	body := do(e, http.MethodGet, "/metrics", nil).Body.String()
	for _, want := range []string{
		`http_requests_total{method="GET",route="/credentials/:id",status="204"} 3`,
		`http_requests_total{method="GET",route="/fail",status="404"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_requests_total{method="OTHER",route="/ok",status="405"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/credentials/:id"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"/credentials/a", "/random/path"} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics contain the raw path %s", leak)
		}
	}
}

func TestSharedRegistry(t *testing.T) {
	t.Parallel()
	// Two servers on one registry: the second reuses the first's collectors.
	reg := prometheus.NewRegistry()
	x, _ := newTestServer(t, web.Config{Registry: reg})
	y, _ := newTestServer(t, web.Config{Registry: reg})
	do(x, http.MethodGet, "/ok", nil)
	do(y, http.MethodGet, "/ok", nil)
	body := do(x, http.MethodGet, "/metrics", nil).Body.String()
	if !strings.Contains(body, `http_requests_total{method="GET",route="/ok",status="200"} 2`) {
		t.Errorf("shared registry did not count both servers:\n%s", body)
	}
}

// liveServer serves e on 127.0.0.1 and returns its base URL.
func liveServer(t *testing.T, e *echo.Echo) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(e)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{BodyLimit: 1024})
	e.POST("/sized", func(c echo.Context) error {
		// Tell the client what length the server saw: -1 for chunked.
		c.Response().Header().Set("X-Seen-Length", fmt.Sprint(c.Request().ContentLength))
		var v map[string]any
		if err := web.Bind(c, &v); err != nil {
			return err
		}
		return c.NoContent(http.StatusOK)
	})
	base := liveServer(t, e)
	small := `{"name":"` + strings.Repeat("a", 900) + `"}`
	big := `{"name":"` + strings.Repeat("a", 64<<10) + `"}`
	tests := []struct {
		name     string
		body     string
		chunked  bool
		wantCode int
	}{
		{"within limit, Content-Length", small, false, 200},
		{"within limit, chunked", small, true, 200},
		{"oversized, Content-Length", big, false, 413},
		{"oversized, chunked", big, true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, base+"/sized", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if seen := res.Header.Get("X-Seen-Length"); tt.chunked && seen != "-1" {
				t.Errorf("server saw Content-Length %s, want a chunked body", seen)
			}
			if res.StatusCode != tt.wantCode {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.wantCode, b)
			}
			if tt.wantCode == 413 {
				var p problem.Problem
				if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
					t.Fatal(err)
				}
				if p.Type != "/problems/too-large" || res.Header.Get("Content-Type") != problem.ContentType {
					t.Errorf("problem = %+v, Content-Type %q", p, res.Header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	started, release := make(chan struct{}), make(chan struct{})
	e.GET("/slow", func(c echo.Context) error {
		close(started)
		<-release
		return c.String(http.StatusOK, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, e, ln, 10*time.Second) }()

	base := "http://" + ln.Addr().String()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %d", res.StatusCode)
	}

	// A request in flight when shutdown starts still gets its answer.
	slow := make(chan string, 1)
	go func() {
		res, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		slow <- string(b)
	}()
	<-started
	cancel()
	// Shutdown closes the listener first; wait for that, then let the handler finish.
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if i == 1000 {
			t.Fatal("listener still open after cancel")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Errorf("in-flight request got %q, want done", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	e.GET("/stuck", func(c echo.Context) error {
		close(started)
		<-release
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, e, ln, 50*time.Millisecond) }()
	go func() {
		if res, err := http.Get("http://" + ln.Addr().String() + "/stuck"); err == nil {
			res.Body.Close()
		}
	}()
	<-started
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want an error wrapping context.DeadlineExceeded", err)
	}
}

func TestServeListenerError(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := web.Serve(context.Background(), e, ln, time.Second); err == nil {
		t.Error("Serve on a closed listener returned nil")
	}
}

func TestFaultAfterClientLeftIs499(t *testing.T) {
	t.Parallel()
	e, logs := newTestServer(t, web.Config{})
	e.GET("/interrupted", func(c echo.Context) error { return errors.New("sqlite: interrupted") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/interrupted", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != problem.StatusClientClosedRequest {
		t.Errorf("status = %d, want 499", rec.Code)
	}
	if recs := logs.records(t, "http error"); len(recs) != 1 || recs[0]["level"] != "DEBUG" {
		t.Errorf("client-gone fault not logged quietly: %s", logs)
	}
}
