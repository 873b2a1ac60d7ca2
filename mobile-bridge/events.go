package mobilebridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/wallet"
)

// StreamEvent is the data of one server-sent event of GET /bridge/v1/events: the wallet's
// event with its text in the language the stream was opened with.
type StreamEvent struct {
	wallet.Event
	Notice
}

// eventBatch is how many stored events one read sends.
const eventBatch = 100

// events answers GET /bridge/v1/events with a text/event-stream (WHATWG server-sent events)
// of the citizen's notifications. Every event has its id (resume with Last-Event-ID, or the
// last_event_id query parameter for clients that cannot set headers), its type as the event
// name, and a JSON data line (StreamEvent). Events after the id are replayed from the stored
// log first; without one the stream starts with what happens next. An idle stream sends a
// comment line at every heartbeat. The stream ends when the client goes or the server shuts
// down.
func (h citizenHandler) events(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	r := c.Request()
	ctx := r.Context()
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = c.QueryParam("last_event_id")
	}
	after := int64(-1) // from now on
	if last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: Last-Event-ID must be an event id", problem.ErrMalformed)
		}
		after = n
	}
	sub := h.w.Subscribe(cit)
	defer sub.Close()
	if after < 0 { // the newest stored event is where this stream starts
		after = 0
		for {
			evs, err := h.w.Events(ctx, cit, after, eventBatch*10)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			after = evs[len(evs)-1].ID
		}
	}
	lang := Language(c)

	// net/http lifts the server's read deadline once a request without a body is read, so
	// the stream is not cut by web.Serve's read timeout; no write timeout is set.
	res := c.Response()
	hd := res.Header()
	hd.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("Content-Language", lang)
	res.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(res, "retry: 5000\n: ezheng events for %s\n\n", lang); err != nil {
		return nil
	}
	res.Flush()

	send := func() error {
		for {
			evs, err := h.w.Events(ctx, cit, after, eventBatch)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			for _, ev := range evs {
				data, err := json.Marshal(StreamEvent{Event: ev, Notice: Describe(ev, lang)})
				if err != nil {
					return err
				}
				fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
				after = ev.ID
			}
			if buf.Len() > 0 {
				if _, err := res.Write(buf.Bytes()); err != nil {
					return nil // the client went away
				}
				res.Flush()
			}
			if len(evs) < eventBatch {
				return nil
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	beat := time.NewTicker(h.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done():
			fmt.Fprint(res, "event: shutdown\ndata: {}\n\n")
			res.Flush()
			return nil
		case <-sub.Wake():
			if err := send(); err != nil {
				return err
			}
		case <-beat.C:
			if _, err := fmt.Fprint(res, ": heartbeat\n\n"); err != nil {
				return nil
			}
			res.Flush()
		}
	}
}
