// Package web is the HTTP plumbing every ezheng component mounts its handlers on: an echo
// server with request ids, panic recovery, a body limit, access logs, Prometheus metrics,
// health and readiness probes, and one error handler that answers every failure with an
// RFC 9457 problem (application/problem+json).
//
// Handlers follow one shape: Bind the request (strict JSON, size-limited), call one service
// method with the request's context, encode the answer. They return errors and never write
// them; ErrorHandler maps each error once, through a problem.Mapper.
//
//	e := web.New(web.Config{Logger: logger, Mapper: problem.NewMapper(issuerhttp.Rules)})
//	issuerhttp.Register(e, svc)
//	err := web.Serve(ctx, e, ln, 10*time.Second)
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ezheng/ezheng/internal/problem"
)

// DefaultBodyLimit is the request body limit used when Config.BodyLimit is not set: 1 MiB.
const DefaultBodyLimit int64 = 1 << 20

// Config configures New. The zero value is usable: every field has a default.
type Config struct {
	// Logger receives access logs and error logs. Nil discards them.
	Logger *slog.Logger
	// Mapper maps handler errors to problems. Nil means problem.NewMapper() (generic rules only).
	Mapper *problem.Mapper
	// BodyLimit is the largest request body accepted, in bytes, whether or not the request
	// declares its length. Zero or negative means DefaultBodyLimit.
	BodyLimit int64
	// OpenAPI is the OpenAPI document served verbatim at GET /openapi.json. Nil answers 404.
	OpenAPI []byte
	// Ready reports whether the server can take traffic (GET /readyz). A non-nil error answers
	// 503 and is logged at Warn. Nil means always ready. It is called with the request's context.
	Ready func(ctx context.Context) error
	// Registry receives the HTTP metrics and the Go and process collectors, and is served at
	// GET /metrics. Nil means a new registry. Collectors already registered are reused, so one
	// registry may serve several New calls.
	Registry *prometheus.Registry
	// Localize, when set, rewrites problems' text per request before they are written (see
	// Localizer), e.g. titles in the language of Accept-Language for the phone app's routes.
	Localize Localizer
}

// New returns an echo server with ezheng's middleware and built-in routes; components add
// their routes to it. Middleware runs in this order, outermost first: request id, access log
// and metrics, panic recovery, body limit; middleware the caller adds with Use runs inside these.
//
// Built-in routes:
//
//	GET /healthz          200 {"status":"ok"} while the process serves HTTP
//	GET /readyz           200 {"status":"ready"}, or a 503 "unavailable" problem
//	GET /metrics          Prometheus metrics of cfg.Registry
//	GET /openapi.json     cfg.OpenAPI, as application/json
//	GET /problems         every problem type the mapper produces
//	GET /problems/:name   one problem type, or a 404 "not-found" problem
//
// New panics if cfg.Registry holds a collector whose metric names clash with ours.
func New(cfg Config) *echo.Echo {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mapper := cfg.Mapper
	if mapper == nil {
		mapper = problem.NewMapper()
	}
	limit := cfg.BodyLimit
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	register(reg, collectors.NewGoCollector())
	register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// http.Server's own complaints (bad TLS handshakes, accept errors) go to our logger; Serve uses it.
	e.StdLogger = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	e.HTTPErrorHandler = ErrorHandler(logger, mapper, cfg.Localize)
	e.Use(requestID(), observe(logger, m), recoverPanics(), limitBody(limit))

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, statusBody{Status: "ok"})
	})
	e.GET("/readyz", readyHandler(cfg.Ready))
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: e.StdLogger})))
	openAPI := slices.Clone(cfg.OpenAPI)
	e.GET("/openapi.json", func(c echo.Context) error {
		if openAPI == nil {
			return problem.ErrNotFound
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
	})
	e.GET("/problems", func(c echo.Context) error {
		types := mapper.Types()
		out := problemList{Problems: make([]problemType, 0, len(types))}
		for _, r := range types {
			out.Problems = append(out.Problems, describe(r))
		}
		return c.JSON(http.StatusOK, out)
	})
	e.GET("/problems/:name", func(c echo.Context) error {
		r, ok := mapper.Lookup(c.Param("name"))
		if !ok {
			return fmt.Errorf("%w: no such problem type", problem.ErrNotFound)
		}
		return c.JSON(http.StatusOK, describe(r))
	})
	return e
}

// statusBody is the body of /healthz and /readyz.
type statusBody struct {
	Status string `json:"status"`
}

// problemType describes one problem type at /problems and /problems/:name.
type problemType struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Title  string `json:"title"`
	Status int    `json:"status"`
}

type problemList struct {
	Problems []problemType `json:"problems"`
}

func describe(r problem.Rule) problemType {
	return problemType{Type: problem.TypeURI(r.Name), Name: r.Name, Title: r.Title, Status: r.Status}
}

func readyHandler(ready func(context.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ready != nil {
			if err := ready(c.Request().Context()); err != nil {
				// %v, not %w: whatever the check failed with, the answer is 503.
				return fmt.Errorf("%w: readiness check: %v", problem.ErrUnavailable, err)
			}
		}
		return c.JSON(http.StatusOK, statusBody{Status: "ready"})
	}
}

// register registers c with reg and returns it, or returns the equal collector reg already has.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic("web: registering metrics: " + err.Error())
}
