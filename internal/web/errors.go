package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
)

// ErrorHandler returns the echo error handler New installs: the single place where errors
// become responses. It is safe for concurrent use.
//
// The error is classified in this order:
//
//   - a recovered panic: 500 "internal", logged at Error with its stack;
//   - context.Canceled, or any server fault while the request's context is cancelled: the
//     client went away, 499 "client-closed-request", logged at Debug;
//   - *http.MaxBytesError (a body read past the limit): 413 "too-large";
//   - *echo.HTTPError (from the router or echo's binder): 404 "not-found", 405
//     "method-not-allowed", 413 "too-large", 415 "unsupported-media-type", 400
//     "malformed-request" and the other built-in types by status; other statuses get type
//     "about:blank"; a string message becomes the detail of a 4xx;
//   - anything else through m.Map.
//
// The answer is application/problem+json carrying the request id, with no body for HEAD.
// Server faults (5xx) are logged with the real error, at Warn for 503 and at Error otherwise;
// client errors (4xx) at Debug. A 503 gets "Retry-After: 1" and a 401 "WWW-Authenticate:
// Bearer" unless the handler set them. If the response was already committed, the error is
// only logged. Each non-nil localize hook may then rewrite the problem's text for the request
// (see Localizer); the log keeps the mapper's text.
func ErrorHandler(logger *slog.Logger, m *problem.Mapper, localize ...Localizer) echo.HTTPErrorHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = problem.NewMapper()
	}
	return func(err error, c echo.Context) {
		r := c.Request()
		ctx := r.Context()
		p, fault := classify(err, ctx, m)
		p.RequestID = RequestID(c)

		level := slog.LevelDebug
		switch {
		case p.Status == http.StatusServiceUnavailable:
			level = slog.LevelWarn
		case fault:
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.Int("status", p.Status),
			slog.String("type", p.Type),
			slog.String("method", r.Method),
			slog.String("route", routeLabel(c, err)),
			slog.String("request_id", p.RequestID),
			slog.String("err", err.Error()),
		}
		var pe *panicError
		if errors.As(err, &pe) {
			attrs = append(attrs, slog.String("stack", string(pe.stack)))
		}
		res := c.Response()
		if res.Committed {
			logger.LogAttrs(ctx, level, "http error after the response was committed", attrs...)
			return
		}
		logger.LogAttrs(ctx, level, "http error", attrs...)

		for _, l := range localize {
			if l != nil {
				localized(c, p, l)
			}
		}
		h := res.Header()
		h.Set(echo.HeaderContentType, problem.ContentType)
		if p.Status == http.StatusServiceUnavailable && h.Get(echo.HeaderRetryAfter) == "" {
			h.Set(echo.HeaderRetryAfter, "1")
		}
		if p.Status == http.StatusUnauthorized && h.Get(echo.HeaderWWWAuthenticate) == "" {
			h.Set(echo.HeaderWWWAuthenticate, "Bearer")
		}
		var werr error
		if r.Method == http.MethodHead {
			werr = c.NoContent(p.Status)
		} else {
			body, merr := json.Marshal(p)
			if merr != nil { // cannot happen: Problem has only strings and ints
				body = []byte(`{"type":"/problems/internal","title":"Internal error","status":500}`)
			}
			werr = c.Blob(p.Status, problem.ContentType, body)
		}
		if werr != nil {
			logger.LogAttrs(ctx, slog.LevelDebug, "writing problem response", slog.String("request_id", p.RequestID), slog.String("err", werr.Error()))
		}
	}
}

// Localizer rewrites the human-readable text of a problem (its title, say, in the language
// the request's Accept-Language prefers) before it is written, and may set response headers
// such as Content-Language. It must leave the problem's type and status alone: clients
// switch on those; localized enforces it.
type Localizer func(c echo.Context, p *problem.Problem)

// localized runs l on p, restoring p's type, status and request id if l changed them.
func localized(c echo.Context, p *problem.Problem, l Localizer) {
	typ, status, id := p.Type, p.Status, p.RequestID
	l(c, p)
	p.Type, p.Status, p.RequestID = typ, status, id
}

// classify maps err to a problem and reports whether it is a server fault.
func classify(err error, ctx context.Context, m *problem.Mapper) (*problem.Problem, bool) {
	var pe *panicError
	if errors.As(err, &pe) {
		return problem.Internal(), true
	}
	if errors.Is(err, context.Canceled) {
		return builtin(m, problem.NameClientClosedRequest, ""), false
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return builtin(m, problem.NameTooLarge, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)), false
	}
	var p *problem.Problem
	var fault bool
	var he *echo.HTTPError
	if errors.As(err, &he) {
		p, fault = fromHTTPError(he, m)
	} else {
		p, fault = m.Map(err)
	}
	if fault && errors.Is(ctx.Err(), context.Canceled) {
		// The failure most likely comes from the cancellation (a driver's "interrupted", a
		// closed pipe); nobody is listening for the answer anyway.
		return builtin(m, problem.NameClientClosedRequest, ""), false
	}
	return p, fault
}

// statusNames gives the built-in problem type of the statuses echo itself produces.
var statusNames = map[int]string{
	http.StatusBadRequest:             problem.NameMalformed,
	http.StatusUnauthorized:           problem.NameUnauthorized,
	http.StatusForbidden:              problem.NameForbidden,
	http.StatusNotFound:               problem.NameNotFound,
	http.StatusMethodNotAllowed:       problem.NameMethodNotAllowed,
	http.StatusConflict:               problem.NameConflict,
	http.StatusRequestEntityTooLarge:  problem.NameTooLarge,
	http.StatusUnsupportedMediaType:   problem.NameUnsupportedMediaType,
	problem.StatusClientClosedRequest: problem.NameClientClosedRequest,
	http.StatusInternalServerError:    problem.NameInternal,
	http.StatusServiceUnavailable:     problem.NameUnavailable,
}

// fromHTTPError maps an *echo.HTTPError, keeping its status.
func fromHTTPError(he *echo.HTTPError, m *problem.Mapper) (*problem.Problem, bool) {
	code := he.Code
	if code < 400 || code > 599 {
		return problem.Internal(), true
	}
	if code == http.StatusInternalServerError {
		return problem.Internal(), true
	}
	var p *problem.Problem
	if name, ok := statusNames[code]; ok {
		p = builtin(m, name, "")
	} else {
		p = &problem.Problem{Type: "about:blank", Title: http.StatusText(code), Status: code}
		if p.Title == "" {
			p.Title = "Error"
		}
	}
	if code < 500 {
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(code) {
			p.Detail = msg
		}
	}
	return p, code >= 500
}

// builtin returns a problem of the built-in type name, as m describes it.
func builtin(m *problem.Mapper, name, detail string) *problem.Problem {
	r, _ := m.Lookup(name) // NewMapper always has the built-in types
	return &problem.Problem{Type: problem.TypeURI(name), Title: r.Title, Status: r.Status, Detail: detail}
}
