package problem_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/problem"
)

// errOfferExpired stands for a component's own sentinel that also wraps a generic one.
var errOfferExpired = fmt.Errorf("offer expired: %w", problem.ErrNotFound)

var componentRules = []problem.Rule{
	{Err: errOfferExpired, Status: http.StatusGone, Name: "offer-expired", Title: "Credential offer expired"},
}

func TestMap(t *testing.T) {
	t.Parallel()
	m := problem.NewMapper(componentRules)
	given := &problem.Problem{
		Type:   problem.TypeURI("invalid-rows"),
		Title:  "Invalid rows",
		Status: http.StatusUnprocessableEntity,
		Detail: "2 rows failed",
		Errors: []problem.FieldError{{Field: "row 3", Detail: "missing name"}},
	}
	tests := []struct {
		name      string
		err       error
		want      *problem.Problem
		wantFault bool
	}{
		{
			name: "sentinel",
			err:  problem.ErrConflict,
			want: &problem.Problem{Type: "/problems/conflict", Title: "Conflict", Status: 409, Detail: "conflict"},
		},
		{
			name: "wrapped sentinel",
			err:  fmt.Errorf("%w: token unknown", problem.ErrUnauthorized),
			want: &problem.Problem{Type: "/problems/unauthorized", Title: "Unauthorized", Status: 401, Detail: "unauthorized: token unknown"},
		},
		{
			name: "doubly wrapped sentinel",
			err:  fmt.Errorf("loading offer: %w", fmt.Errorf("%w: no such offer", problem.ErrNotFound)),
			want: &problem.Problem{Type: "/problems/not-found", Title: "Not found", Status: 404, Detail: "loading offer: not found: no such offer"},
		},
		{
			name: "custom rule wins over generic",
			err:  fmt.Errorf("redeeming: %w", errOfferExpired),
			want: &problem.Problem{Type: "/problems/offer-expired", Title: "Credential offer expired", Status: 410, Detail: "redeeming: offer expired: not found"},
		},
		{
			name: "problem passthrough",
			err:  given,
			want: given,
		},
		{
			name: "wrapped problem passthrough",
			err:  fmt.Errorf("importing: %w", given),
			want: given,
		},
		{
			name:      "problem passthrough fills defaults",
			err:       &problem.Problem{Detail: "odd"},
			want:      &problem.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500, Detail: "odd"},
			wantFault: true,
		},
		{
			name:      "unknown error is internal without detail",
			err:       errors.New("sqlite: disk I/O error at /var/lib/ezheng/issuer.db"),
			want:      &problem.Problem{Type: "/problems/internal", Title: "Internal error", Status: 500, Detail: "internal error"},
			wantFault: true,
		},
		{
			name: "client went away",
			err:  fmt.Errorf("querying: %w", context.Canceled),
			want: &problem.Problem{Type: "/problems/client-closed-request", Title: "Client closed request", Status: 499, Detail: "querying: context canceled"},
		},
		{
			name:      "unavailable is a fault without detail",
			err:       fmt.Errorf("%w: queue full", problem.ErrUnavailable),
			want:      &problem.Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: 503},
			wantFault: true,
		},
		{
			name: "first of two wrapped sentinels in rule order",
			err:  fmt.Errorf("%w and %w", problem.ErrTooLarge, problem.ErrMalformed),
			want: &problem.Problem{Type: "/problems/malformed-request", Title: "Malformed request", Status: 400, Detail: "request too large and malformed request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, fault := m.Map(tt.err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Map(%v)\n got %+v\nwant %+v", tt.err, got, tt.want)
			}
			if fault != tt.wantFault {
				t.Errorf("Map(%v) fault = %v, want %v", tt.err, fault, tt.wantFault)
			}
		})
	}
}

func TestMapNil(t *testing.T) {
	t.Parallel()
	if p, fault := problem.NewMapper().Map(nil); p != nil || fault {
		t.Errorf("Map(nil) = %v, %v; want nil, false", p, fault)
	}
}

func TestMapPassthroughIsCopy(t *testing.T) {
	t.Parallel()
	shared := &problem.Problem{Type: "/problems/x", Title: "X", Status: 400, Errors: []problem.FieldError{{Field: "a", Detail: "b"}}}
	got, _ := problem.NewMapper().Map(shared)
	got.RequestID = "r1"
	got.Errors[0].Detail = "changed"
	if shared.RequestID != "" || shared.Errors[0].Detail != "b" {
		t.Errorf("Map returned an alias of the original problem: %+v", shared)
	}
}

func TestTypes(t *testing.T) {
	t.Parallel()
	m := problem.NewMapper(componentRules, []problem.Rule{
		// The same type again, from another component: listed once.
		{Err: errors.New("other"), Status: http.StatusGone, Name: "offer-expired", Title: "Credential offer expired"},
	})
	var got []string
	for _, r := range m.Types() {
		got = append(got, fmt.Sprintf("%d %s %s", r.Status, r.Name, r.Title))
	}
	want := []string{
		"400 malformed-request Malformed request",
		"401 unauthorized Unauthorized",
		"403 forbidden Forbidden",
		"404 not-found Not found",
		"405 method-not-allowed Method not allowed",
		"409 conflict Conflict",
		"410 offer-expired Credential offer expired",
		"413 too-large Request too large",
		"415 unsupported-media-type Unsupported media type",
		"499 client-closed-request Client closed request",
		"500 internal Internal error",
		"503 unavailable Service unavailable",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Types():\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if r, ok := m.Lookup("offer-expired"); !ok || r.Err != errOfferExpired {
		t.Errorf("Lookup(offer-expired) = %+v, %v; want the first rule", r, ok)
	}
	if _, ok := m.Lookup("nope"); ok {
		t.Error("Lookup(nope) found a rule")
	}
}

func TestNewMapperRejectsBadRules(t *testing.T) {
	t.Parallel()
	e := errors.New("e")
	tests := []struct {
		name string
		rule problem.Rule
	}{
		{"no error", problem.Rule{Status: 400, Name: "x", Title: "X"}},
		{"bad name", problem.Rule{Err: e, Status: 400, Name: "Bad Name", Title: "X"}},
		{"double hyphen", problem.Rule{Err: e, Status: 400, Name: "a--b", Title: "X"}},
		{"2xx status", problem.Rule{Err: e, Status: 200, Name: "x", Title: "X"}},
		{"no title", problem.Rule{Err: e, Status: 400, Name: "x"}},
		{"built-in name, other status", problem.Rule{Err: e, Status: 410, Name: "not-found", Title: "Not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("NewMapper accepted %+v", tt.rule)
				}
			}()
			problem.NewMapper([]problem.Rule{tt.rule})
		})
	}
}

func TestProblemJSON(t *testing.T) {
	t.Parallel()
	p := &problem.Problem{Type: problem.TypeURI("not-found"), Title: "Not found", Status: 404, RequestID: "abc"}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"/problems/not-found","title":"Not found","status":404,"request_id":"abc"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if got, want := p.Error(), "problem 404 Not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func ExampleMapper_Map() {
	m := problem.NewMapper()
	p, fault := m.Map(fmt.Errorf("%w: token unknown", problem.ErrUnauthorized))
	fmt.Println(p.Status, p.Type, p.Detail, fault)
	p, fault = m.Map(errors.New("disk full"))
	fmt.Println(p.Status, p.Type, p.Detail, fault)
	// Output:
	// 401 /problems/unauthorized unauthorized: token unknown false
	// 500 /problems/internal internal error true
}
