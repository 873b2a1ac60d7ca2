package mobilebridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/wallet"
)

// Sharer is what the share handlers need from the wallet: OpenID4VP 1.0, wallet side.
type Sharer interface {
	// OpenShareRequest fetches and verifies the request an openid4vp:// link points at and
	// evaluates it against the citizen's credentials.
	OpenShareRequest(ctx context.Context, c wallet.Citizen, link string) (wallet.ShareRequest, error)
	// Share presents the chosen credentials and posts them to the verifier; when a credential
	// to present is bound to a holder key on the phone it posts nothing and returns the
	// KB-JWTs the phone must sign (a non-nil *wallet.ShareSigning) for CompleteShare.
	Share(ctx context.Context, sess wallet.Session, requestObject string, choose map[string]string) (wallet.ShareResult, *wallet.ShareSigning, error)
	// CompleteShare checks the phone's signatures (by query id) of a share Share left to it
	// and posts the response; the request is bound to the session's citizen and device.
	CompleteShare(ctx context.Context, sess wallet.Session, id string, signatures map[string]string) (wallet.ShareResult, error)
	// DeclineShare tells the verifier the citizen said no.
	DeclineShare(ctx context.Context, c wallet.Citizen, requestObject string) error
}

// ShareRules maps the sharing errors to the bridge's stable problem types.
var ShareRules = []problem.Rule{
	{Err: wallet.ErrVerifierIdentity, Status: http.StatusUnprocessableEntity, Name: "verifier-not-authentic", Title: "The request's signature or the verifier's identity does not check out"},
	{Err: wallet.ErrCannotSatisfy, Status: http.StatusUnprocessableEntity, Name: "cannot-satisfy-request", Title: "The wallet holds no credentials that answer the request"},
	{Err: wallet.ErrShareRefused, Status: http.StatusBadGateway, Name: "share-refused", Title: "The verifier refused the response"},
	{Err: wallet.ErrShareRequest, Status: http.StatusUnprocessableEntity, Name: "share-request-failed", Title: "The presentation request cannot be used"},
}

// RegisterShare mounts the share (OpenID4VP) routes of the bridge, authenticated like every
// other bridge call:
//
//	POST /bridge/v1/share-requests          {"uri": "openid4vp://…"} → the consent view
//	POST /bridge/v1/share-requests/consent  {"request": "<from the consent view>", "choose": {"<query id>": "<credential id>"}}
//	     → 200 what was shared, or 202 the KB-JWTs for the phone to sign (holder keys on the phone)
//	POST /bridge/v1/share-requests/consent/{id}/complete  {"signatures": {"<query id>": "<base64url signature>"}}
//	POST /bridge/v1/share-requests/decline  {"request": "<from the consent view>"}
func RegisterShare(e *echo.Echo, w Wallet, sh Sharer, cfg Config) error {
	if cfg.DPoP == nil || cfg.PublicURL == "" || sh == nil {
		return errors.New("mobilebridge: PublicURL, DPoP and a Sharer are required")
	}
	h := shareHandler{handler: handler{w: w, dpop: cfg.DPoP, base: strings.TrimRight(cfg.PublicURL, "/")}, sh: sh}
	g := e.Group("/bridge/v1/share-requests")
	g.POST("", h.open)
	g.POST("/consent", h.consent)
	g.POST("/consent/:id/complete", h.complete)
	g.POST("/decline", h.decline)
	return nil
}

type shareHandler struct {
	handler
	sh Sharer
}

// OpenShareRequest is the body of POST /bridge/v1/share-requests: the openid4vp:// link the
// app opened or the text of the QR code it scanned.
type OpenShareRequest struct {
	URI string `json:"uri"`
}

// ShareConsent is the body of POST /bridge/v1/share-requests/consent and …/decline.
type ShareConsent struct {
	// Request is ShareRequest.Request from the consent view.
	Request string `json:"request"`
	// Choose picks, per DCQL query id, which credential to present; the first that fits
	// when a query is not named.
	Choose map[string]string `json:"choose,omitempty"`
}

func (h shareHandler) open(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req OpenShareRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.URI == "" {
		return fmt.Errorf("%w: \"uri\" is required", problem.ErrMalformed)
	}
	view, err := h.sh.OpenShareRequest(c.Request().Context(), cit, req.URI)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, view)
}

func (h shareHandler) consent(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req ShareConsent
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Request == "" {
		return fmt.Errorf("%w: \"request\" is required", problem.ErrMalformed)
	}
	res, sign, err := h.sh.Share(c.Request().Context(), s, req.Request, req.Choose)
	if err != nil {
		return err
	}
	if sign != nil {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusAccepted, sign)
	}
	return c.JSON(http.StatusOK, res)
}

// ShareSignatures is the body of POST /bridge/v1/share-requests/consent/{id}/complete: per
// query id of the consent's "sign" list, the JWS signature of its signing_input by the holder
// key, base64url without padding (64 bytes).
type ShareSignatures struct {
	Signatures map[string]string `json:"signatures"`
}

func (h shareHandler) complete(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req ShareSignatures
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if len(req.Signatures) == 0 {
		return fmt.Errorf("%w: \"signatures\" is required", problem.ErrMalformed)
	}
	res, err := h.sh.CompleteShare(c.Request().Context(), s, c.Param("id"), req.Signatures)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h shareHandler) decline(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req ShareConsent
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Request == "" {
		return fmt.Errorf("%w: \"request\" is required", problem.ErrMalformed)
	}
	if err := h.sh.DeclineShare(c.Request().Context(), cit, req.Request); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
