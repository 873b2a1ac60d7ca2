package web_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
)

type bindTarget struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Tags   []string          `json:"tags,omitempty"`
	Claims map[string]any    `json:"claims,omitempty"`
	When   time.Time         `json:"when,omitzero"`
	Inner  *struct{ X int }  `json:"inner,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

func bindContext(body, contentType string) echo.Context {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return echo.New().NewContext(req, httptest.NewRecorder())
}

func TestBind(t *testing.T) {
	t.Parallel()
	const ct = "application/json"
	tests := []struct {
		name        string
		body        string
		contentType string
		want        bindTarget
		wantErr     error  // nil for success
		wantDetail  string // substring of the error text
	}{
		{name: "ok", body: `{"name":"Li Wei","count":2,"tags":["a"]}`, contentType: ct,
			want: bindTarget{Name: "Li Wei", Count: 2, Tags: []string{"a"}}},
		{name: "ok with charset and whitespace", body: " \n{\"name\":\"x\"}\r\n\t", contentType: "application/json; charset=UTF-8",
			want: bindTarget{Name: "x"}},
		{name: "ok case-insensitive field", body: `{"NAME":"x"}`, contentType: ct, want: bindTarget{Name: "x"}},
		{name: "ok distinct names in nested objects", body: `{"name":"a","inner":{"X":1},"claims":{"name":"b"}}`, contentType: ct,
			want: bindTarget{Name: "a", Inner: &struct{ X int }{1}, Claims: map[string]any{"name": "b"}}},
		{name: "ok same name in sibling objects", body: `{"claims":{"a":{"k":1},"b":{"k":2}}}`, contentType: ct,
			want: bindTarget{Claims: map[string]any{"a": map[string]any{"k": 1.0}, "b": map[string]any{"k": 2.0}}}},
		{name: "ok array of objects with same keys", body: `{"claims":{"list":[{"k":1},{"k":1}]}}`, contentType: ct,
			want: bindTarget{Claims: map[string]any{"list": []any{map[string]any{"k": 1.0}, map[string]any{"k": 1.0}}}}},
		{name: "missing content type", body: `{}`, contentType: "", wantErr: problem.ErrUnsupportedMediaType},
		{name: "wrong content type", body: `{}`, contentType: "text/plain", wantErr: problem.ErrUnsupportedMediaType},
		{name: "form content type", body: `name=x`, contentType: "application/x-www-form-urlencoded", wantErr: problem.ErrUnsupportedMediaType},
		{name: "other charset", body: `{}`, contentType: "application/json; charset=latin1", wantErr: problem.ErrUnsupportedMediaType},
		{name: "bad media type syntax", body: `{}`, contentType: "application/json;;", wantErr: problem.ErrUnsupportedMediaType},
		{name: "empty body", body: ``, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "request body is empty"},
		{name: "whitespace body", body: " \n\t", contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "request body is empty"},
		{name: "malformed JSON", body: `{"name":}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "invalid JSON at offset"},
		{name: "truncated JSON", body: `{"name":"x"`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "unexpected end of JSON"},
		{name: "unknown field", body: `{"name":"x","admin":true}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `unknown field "admin"`},
		{name: "duplicate key", body: `{"name":"a","name":"b"}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `duplicate member name "name" at offset`},
		{name: "duplicate key differing in case", body: `{"name":"a","Name":"b"}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `duplicate member name "Name"`},
		{name: "duplicate key by escape", body: `{"name":"a","na\u006de":"b"}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `duplicate member name "name"`},
		{name: "duplicate key nested", body: `{"claims":{"a":1,"b":{"c":1,"c":2}}}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `duplicate member name "c"`},
		{name: "duplicate key in array element", body: `{"claims":{"l":[{"k":1,"k":2}]}}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `duplicate member name "k"`},
		{name: "trailing garbage", body: `{"name":"x"} x`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "unexpected data after the JSON value"},
		{name: "second value", body: `{"name":"x"}{"name":"y"}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "unexpected data after the JSON value"},
		{name: "wrong type", body: `{"count":"many"}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `field "count": expected an integer in range, got string`},
		{name: "number out of range", body: `{"count":1E700}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `field "count": expected an integer in range, got number 1E700`},
		{name: "wrong nested type", body: `{"inner":{"X":"1"}}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: `field "inner.X"`},
		{name: "not an object", body: `[1,2]`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "request body: expected an object, got array"},
		{name: "bad time value", body: `{"when":"yesterday"}`, contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "invalid value"},
		{name: "too deep", body: strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), contentType: ct, wantErr: problem.ErrMalformed, wantDetail: "nested deeper than 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got bindTarget
			err := web.Bind(bindContext(tt.body, tt.contentType), &got)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Bind = %v, want nil", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Bind decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Bind = %v, want an error wrapping %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantDetail) {
				t.Errorf("Bind = %q, want it to contain %q", err, tt.wantDetail)
			}
		})
	}
}

func TestBindProgrammingError(t *testing.T) {
	t.Parallel()
	var v bindTarget
	err := web.Bind(bindContext(`{}`, "application/json"), v) // not a pointer
	if err == nil || errors.Is(err, problem.ErrMalformed) {
		t.Errorf("Bind(non-pointer) = %v, want an error that is not ErrMalformed", err)
	}
}

func TestBindTooLarge(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"`+strings.Repeat("a", 100)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, req.Body, 10)
	var v bindTarget
	err := web.Bind(echo.New().NewContext(req, rec), &v)
	if !errors.Is(err, problem.ErrTooLarge) || !strings.Contains(err.Error(), "exceeds 10 bytes") {
		t.Errorf("Bind = %v, want ErrTooLarge naming the limit", err)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []string
		want    string
		wantErr bool
	}{
		{name: "ok", headers: []string{"Bearer abc.DEF-123_~+/=="}, want: "abc.DEF-123_~+/=="},
		{name: "scheme case-insensitive", headers: []string{"bearer tok"}, want: "tok"},
		{name: "extra spaces", headers: []string{"Bearer   tok"}, want: "tok"},
		{name: "missing", wantErr: true},
		{name: "empty", headers: []string{""}, wantErr: true},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: true},
		{name: "no token", headers: []string{"Bearer "}, wantErr: true},
		{name: "scheme only", headers: []string{"Bearer"}, wantErr: true},
		{name: "space in token", headers: []string{"Bearer a b"}, wantErr: true},
		{name: "padding only", headers: []string{"Bearer =="}, wantErr: true},
		{name: "padding inside", headers: []string{"Bearer a=b"}, wantErr: true},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			got, err := web.BearerToken(echo.New().NewContext(req, httptest.NewRecorder()))
			if tt.wantErr {
				if !errors.Is(err, problem.ErrUnauthorized) {
					t.Fatalf("BearerToken = %q, %v; want ErrUnauthorized", got, err)
				}
				for _, h := range tt.headers {
					if _, tok, _ := strings.Cut(h, " "); len(tok) > 2 && strings.Contains(err.Error(), tok) {
						t.Errorf("error %q contains the token", err)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("BearerToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestBindOverHTTP checks the problem a client gets for a Bind failure.
func TestBindOverHTTP(t *testing.T) {
	t.Parallel()
	e, _ := newTestServer(t, web.Config{})
	rec := do(e, http.MethodPost, "/bind", strings.NewReader(`{"name":"a","name":"b"}`), "Content-Type", "application/json")
	p := decodeProblem(t, rec)
	if p.Status != 400 || p.Type != "/problems/malformed-request" || !strings.Contains(p.Detail, `duplicate member name "name"`) {
		t.Errorf("problem = %+v", p)
	}
	rec = do(e, http.MethodPost, "/bind", strings.NewReader(`{}`), "Content-Type", "text/xml")
	if p := decodeProblem(t, rec); p.Status != 415 || p.Type != "/problems/unsupported-media-type" {
		t.Errorf("problem = %+v", p)
	}
}
