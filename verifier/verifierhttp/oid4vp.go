package verifierhttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/oid4vp"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/verifier"
)

// OpenID4VPService is what the OpenID4VP handlers need from the verifier.
type OpenID4VPService interface {
	// AuthenticateService returns the online service owning a live API token, or an error
	// wrapping problem.ErrUnauthorized.
	AuthenticateService(ctx context.Context, token string) (verifier.RelyingParty, error)
	CreateRequest(ctx context.Context, rp verifier.RelyingParty, req verifier.VPRequest) (verifier.VPCreatedSession, error)
	RequestObject(ctx context.Context, requestID string) (string, error)
	Respond(ctx context.Context, form url.Values) (verifier.VPAck, error)
	// Session returns rp's session id; verifier.ErrNotFound for another service's.
	Session(ctx context.Context, rp verifier.RelyingParty, id string) (verifier.VPSession, error)
	Subscribe(id string) (<-chan struct{}, func())
}

// OpenID4VPRules maps the OpenID4VP errors to problem types. They must come before Rules,
// whose malformed-request rule would otherwise catch an oversized response.
var OpenID4VPRules = []problem.Rule{
	{Err: oid4vp.ErrTooLarge, Status: http.StatusRequestEntityTooLarge, Name: problem.NameTooLarge, Title: "Request too large"},
	{Err: verifier.ErrRequestUsed, Status: http.StatusGone, Name: "request-object-used", Title: "The request object was already fetched"},
	{Err: verifier.ErrSessionExpired, Status: http.StatusGone, Name: "session-expired", Title: "The presentation request has expired"},
	{Err: verifier.ErrSessionDone, Status: http.StatusConflict, Name: "session-answered", Title: "The presentation request was already answered"},
}

// maxResponseBody bounds a direct_post body: the vp_token and a little more.
const maxResponseBody = oid4vp.MaxVPTokenSize + 16<<10

// sseWait bounds how long an event stream stays open without news.
const sseWait = 5 * time.Minute

// RegisterOpenID4VP mounts the OpenID4VP 1.0 verifier under /verifier/v1/oid4vp: online
// services, each with its API token ("Authorization: Bearer ezvs_…"), create requests and poll
// or subscribe to their own sessions; wallets fetch request objects and post responses
// without authentication.
func RegisterOpenID4VP(e *echo.Echo, svc OpenID4VPService) {
	h := vpHandler{svc}
	e.POST("/verifier/v1/oid4vp/requests", h.create)
	e.GET(verifier.RequestPath+":rid", h.requestObject)
	e.POST(verifier.ResponsePath, h.respond)
	e.GET("/verifier/v1/oid4vp/sessions/:id", h.session)
	e.GET("/verifier/v1/oid4vp/sessions/:id/events", h.events)
}

type vpHandler struct{ svc OpenID4VPService }

// service authenticates the calling online service by its bearer token.
func (h vpHandler) service(c echo.Context) (verifier.RelyingParty, error) {
	tok, err := web.BearerToken(c)
	if err != nil {
		return verifier.RelyingParty{}, err
	}
	return h.svc.AuthenticateService(c.Request().Context(), tok)
}

// VPCreated is the answer to POST /verifier/v1/oid4vp/requests: the session and its QR code.
type VPCreated struct {
	verifier.VPCreatedSession
	// PNG is the QR code of URI, base64.
	PNG string `json:"qr_png"`
}

func (h vpHandler) create(c echo.Context) error {
	rp, err := h.service(c)
	if err != nil {
		return err
	}
	var req verifier.VPRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	s, err := h.svc.CreateRequest(c.Request().Context(), rp, req)
	if err != nil {
		return err
	}
	png, _, err := qr.Encode(s.URI)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(echo.HeaderLocation, "/verifier/v1/oid4vp/sessions/"+s.ID)
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "image/png") {
		return c.Blob(http.StatusCreated, "image/png", png)
	}
	return c.JSON(http.StatusCreated, VPCreated{VPCreatedSession: s, PNG: base64.StdEncoding.EncodeToString(png)})
}

func (h vpHandler) requestObject(c echo.Context) error {
	jwt, err := h.svc.RequestObject(c.Request().Context(), c.Param("rid"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, oid4vp.ContentTypeRequestObject, []byte(jwt))
}

func (h vpHandler) respond(c echo.Context) error {
	r := c.Request()
	ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if ct != echo.MIMEApplicationForm {
		return fmt.Errorf("%w: send application/x-www-form-urlencoded", problem.ErrUnsupportedMediaType)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxResponseBody))
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return fmt.Errorf("%w: form body: %v", problem.ErrMalformed, err)
	}
	ack, err := h.svc.Respond(r.Context(), form)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, ack)
}

func (h vpHandler) session(c echo.Context) error {
	rp, err := h.service(c)
	if err != nil {
		return err
	}
	s, err := h.svc.Session(c.Request().Context(), rp, c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, s)
}

// events streams the session as server-sent events: a "session" event with the session
// JSON now and at every change, until it is final (verified, rejected, declined, expired),
// the client leaves, or five minutes pass. Only the service that created the session may
// subscribe.
func (h vpHandler) events(c echo.Context) error {
	ctx := c.Request().Context()
	rp, err := h.service(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	updates, stop := h.svc.Subscribe(id)
	defer stop()
	s, err := h.svc.Session(ctx, rp, id)
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(s verifier.VPSession) error {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: session\ndata: %s\n\n", b); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	if err := send(s); err != nil || s.Done() {
		return nil
	}
	timeout := time.NewTimer(sseWait)
	defer timeout.Stop()
	expiry := time.NewTimer(time.Until(s.ExpiresAt) + time.Second)
	defer expiry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timeout.C:
			return nil
		case <-updates:
		case <-expiry.C:
		}
		if s, err = h.svc.Session(ctx, rp, id); err != nil {
			return nil // the stream is committed; the client reconnects or polls
		}
		if err := send(s); err != nil || s.Done() {
			return nil
		}
	}
}
