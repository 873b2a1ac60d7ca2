// Package problem turns errors into RFC 9457 problem details.
//
// Domain packages never mention HTTP: they return sentinel errors (their own, or the generic ones
// here, wrapped with %w and a safe reason). The HTTP layer asks a Mapper, once, what each error
// means: a status, a stable type URI ("/problems/<name>"), a title and, for client errors only, a
// detail. Server faults are answered with "internal error" and nothing more; the caller logs the
// real error.
//
// A component builds its Mapper from its own, more specific rules followed by the generic ones,
// which NewMapper always appends:
//
//	var Rules = []problem.Rule{
//		{Err: issuer.ErrOfferExpired, Status: http.StatusGone, Name: "offer-expired", Title: "Credential offer expired"},
//	}
//	m := problem.NewMapper(issuerhttp.Rules, verifierhttp.Rules)
package problem

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// ContentType is the media type of a problem details document.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object. It implements error, so a handler may return
// one directly when it needs full control over the answer (for example to list FieldErrors).
type Problem struct {
	// Type is a stable URI reference naming the kind of problem, "/problems/<name>" (see TypeURI),
	// or "about:blank" for a problem that is described by its status alone.
	Type string `json:"type"`
	// Title is a short, human-readable summary of the type; it does not vary between occurrences.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence. It is shown to clients, so it never carries server internals.
	Detail string `json:"detail,omitempty"`
	// Instance is an optional URI reference identifying this occurrence.
	Instance string `json:"instance,omitempty"`
	// RequestID is the id of the request that failed, to quote when reporting the problem.
	RequestID string `json:"request_id,omitempty"`
	// Errors lists per-field or per-row issues, if any.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one issue with one field of a request (or one row of a bulk import).
type FieldError struct {
	// Field names the field, as a JSON member name, a JSON pointer or a row reference.
	Field string `json:"field"`
	// Detail says what is wrong with it; it is shown to clients.
	Detail string `json:"detail"`
}

// TypeURI returns the type URI of the problem called name: "/problems/" + name. The URI is a
// relative reference that resolves to the description served by our own server.
func TypeURI(name string) string { return "/problems/" + name }

// Error returns the title, status and detail of p, so a logged Problem says what it was.
func (p *Problem) Error() string {
	s := p.Title
	if s == "" {
		s = http.StatusText(p.Status)
	}
	s = "problem " + strconv.Itoa(p.Status) + " " + s
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Generic sentinel errors. Domain packages wrap them with a safe, specific reason, for example
//
//	fmt.Errorf("%w: token unknown", problem.ErrUnauthorized)
//
// or define their own sentinels and add a more specific Rule for them, which NewMapper places
// before the generic rules. The text of a 4xx error becomes the problem's detail, so it must
// not contain secrets or personal data.
var (
	// ErrMalformed means the request could not be understood (syntax, shape, values): 400.
	ErrMalformed = errors.New("malformed request")
	// ErrUnauthorized means the caller is not authenticated: 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means the caller is authenticated but not allowed to do this: 403.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound means the resource does not exist: 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request conflicts with the current state of the resource: 409.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge means the request (or a part of it) is larger than allowed: 413.
	ErrTooLarge = errors.New("request too large")
	// ErrUnsupportedMediaType means the request body has a media type we do not accept: 415.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnavailable means the service cannot answer now but may later (overload, not ready): 503.
	ErrUnavailable = errors.New("service unavailable")
)

// StatusClientClosedRequest is the non-standard status used when the client went away before
// the answer was ready (context.Canceled). It is logged, never really seen by the client.
const StatusClientClosedRequest = 499

// Names of the built-in problem types.
const (
	NameMalformed            = "malformed-request"
	NameUnauthorized         = "unauthorized"
	NameForbidden            = "forbidden"
	NameNotFound             = "not-found"
	NameMethodNotAllowed     = "method-not-allowed"
	NameConflict             = "conflict"
	NameTooLarge             = "too-large"
	NameUnsupportedMediaType = "unsupported-media-type"
	NameClientClosedRequest  = "client-closed-request"
	NameInternal             = "internal"
	NameUnavailable          = "unavailable"
)

// builtin returns the generic rules, in matching order. Rules without an Err are never matched
// by Map; they exist so Types and Lookup know them (the HTTP layer produces them itself).
func builtin() []Rule {
	return []Rule{
		{Err: ErrMalformed, Status: http.StatusBadRequest, Name: NameMalformed, Title: "Malformed request"},
		{Err: ErrUnauthorized, Status: http.StatusUnauthorized, Name: NameUnauthorized, Title: "Unauthorized"},
		{Err: ErrForbidden, Status: http.StatusForbidden, Name: NameForbidden, Title: "Forbidden"},
		{Err: ErrNotFound, Status: http.StatusNotFound, Name: NameNotFound, Title: "Not found"},
		{Status: http.StatusMethodNotAllowed, Name: NameMethodNotAllowed, Title: "Method not allowed"},
		{Err: ErrConflict, Status: http.StatusConflict, Name: NameConflict, Title: "Conflict"},
		{Err: ErrTooLarge, Status: http.StatusRequestEntityTooLarge, Name: NameTooLarge, Title: "Request too large"},
		{Err: ErrUnsupportedMediaType, Status: http.StatusUnsupportedMediaType, Name: NameUnsupportedMediaType, Title: "Unsupported media type"},
		{Err: context.Canceled, Status: StatusClientClosedRequest, Name: NameClientClosedRequest, Title: "Client closed request"},
		{Err: ErrUnavailable, Status: http.StatusServiceUnavailable, Name: NameUnavailable, Title: "Service unavailable"},
		{Status: http.StatusInternalServerError, Name: NameInternal, Title: "Internal error"},
	}
}
