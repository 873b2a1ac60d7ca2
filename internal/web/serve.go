package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Server timeouts used by Serve. Handlers that stream for longer must not be mounted on it.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Serve serves e on ln until ctx is cancelled, then shuts down gracefully: it stops accepting
// connections and waits up to shutdownTimeout for requests in flight (a non-positive timeout
// waits for nothing), then closes what is left. Requests do not inherit ctx, so cancelling it
// does not cancel them. Serve closes ln.
//
// Serve returns nil after a clean shutdown, an error wrapping context.DeadlineExceeded if
// requests were still running at the timeout, or the error that stopped the server early.
func Serve(ctx context.Context, e *echo.Echo, ln net.Listener, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          e.StdLogger,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("web: serving: %w", err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(shutdownTimeout, 0))
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("web: shutting down: %w", err)
	}
	return nil
}
