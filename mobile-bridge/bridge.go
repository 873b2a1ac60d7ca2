// Package mobilebridge is the API the citizen's phone app talks to (/bridge/v1): receive a
// credential into the wallet (directly, or by redeeming an OpenID4VCI offer, waiting for a
// deferred one), list what the wallet holds, and make the counter QR — a
// holder-bound presentation with only the claims a counter needs — as text and as a PNG.
package mobilebridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/wallet"
)

// Wallet is what the bridge needs from the wallet backend.
type Wallet interface {
	Authenticate(ctx context.Context, token string) (wallet.Citizen, error)
	Receive(ctx context.Context, c wallet.Citizen, raw string) (wallet.Credential, bool, error)
	Credentials(ctx context.Context, c wallet.Citizen) ([]wallet.Credential, error)
	Present(ctx context.Context, c wallet.Citizen, id string, disclose []string, audience string) (wallet.Presentation, error)
	RedeemOffer(ctx context.Context, c wallet.Citizen, offerURI, txCode string) ([]wallet.Credential, error)
	Pending(ctx context.Context, c wallet.Citizen) ([]wallet.PendingIssuance, error)
	CollectPending(ctx context.Context, c wallet.Citizen, id string) ([]wallet.Credential, error)
}

// Rules maps wallet errors to the bridge's stable problem types, which the app switches on.
var Rules = []problem.Rule{
	{Err: wallet.ErrInvalidCredential, Status: http.StatusUnprocessableEntity, Name: "invalid-credential", Title: "The credential was rejected"},
	{Err: wallet.ErrNotBound, Status: http.StatusUnprocessableEntity, Name: "credential-not-bound", Title: "The credential is bound to another holder"},
	{Err: wallet.ErrUnknownClaim, Status: http.StatusUnprocessableEntity, Name: "unknown-claim", Title: "The credential has no such claim"},
	{Err: wallet.ErrCredentialDenied, Status: http.StatusUnprocessableEntity, Name: "credential-request-denied", Title: "The issuer refused to issue the credential"},
	{Err: wallet.ErrTxCodeRequired, Status: http.StatusBadRequest, Name: "tx-code-required", Title: "The offer needs its transaction code"},
	{Err: wallet.ErrOffer, Status: http.StatusUnprocessableEntity, Name: "offer-failed", Title: "The credential offer could not be redeemed"},
	{Err: wallet.ErrNotFound, Status: http.StatusNotFound, Name: "not-found", Title: "Not found"},
	{Err: wallet.ErrInvalidRequest, Status: http.StatusBadRequest, Name: "malformed-request", Title: "Malformed request"},
}

type handler struct{ w Wallet }

// Register mounts the bridge API under /bridge/v1.
func Register(e *echo.Echo, w Wallet) {
	h := handler{w}
	g := e.Group("/bridge/v1")
	g.GET("/me", h.me)
	g.GET("/credentials", h.list)
	g.POST("/credentials", h.receive)
	g.POST("/credentials/:id/qr", h.qr)
	g.POST("/offers", h.redeem)
	g.GET("/pending", h.pending)
	g.POST("/pending/:id/collect", h.collect)
}

// RedeemRequest is the body of POST /bridge/v1/offers: an offer the app scanned or opened
// (openid-credential-offer://…), and the transaction code the citizen typed, if it has one.
type RedeemRequest struct {
	OfferURI string `json:"offer_uri"`
	TxCode   string `json:"tx_code,omitempty"`
}

func (h handler) redeem(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req RedeemRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.OfferURI == "" {
		return fmt.Errorf("%w: \"offer_uri\" is required", problem.ErrMalformed)
	}
	got, err := h.w.RedeemOffer(c.Request().Context(), cit, req.OfferURI, req.TxCode)
	if err != nil {
		return pendingOr(c, err)
	}
	return c.JSON(http.StatusCreated, map[string]any{"credentials": got})
}

// pendingOr answers a deferred issuance (*wallet.PendingError) as 202 {"pending": [...]}: the
// app polls POST /bridge/v1/pending/{id}/collect no more often than each one's interval.
// Other errors are returned for the error handler.
func pendingOr(c echo.Context, err error) error {
	var pe *wallet.PendingError
	if errors.As(err, &pe) {
		return c.JSON(http.StatusAccepted, map[string]any{"pending": pe.Pending})
	}
	return err
}

func (h handler) pending(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	list, err := h.w.Pending(c.Request().Context(), cit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"pending": list})
}

func (h handler) collect(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	got, err := h.w.CollectPending(c.Request().Context(), cit, c.Param("id"))
	if err != nil {
		return pendingOr(c, err)
	}
	return c.JSON(http.StatusCreated, map[string]any{"credentials": got})
}

func (h handler) auth(c echo.Context) (wallet.Citizen, error) {
	tok, err := web.BearerToken(c)
	if err != nil {
		return wallet.Citizen{}, err
	}
	return h.w.Authenticate(c.Request().Context(), tok)
}

func (h handler) me(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cit)
}

func (h handler) list(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	list, err := h.w.Credentials(c.Request().Context(), cit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"credentials": list})
}

// ReceiveRequest is the body of POST /bridge/v1/credentials.
type ReceiveRequest struct {
	Credential string `json:"credential"`
}

func (h handler) receive(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req ReceiveRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Credential == "" {
		return fmt.Errorf("%w: \"credential\" is required", problem.ErrMalformed)
	}
	cr, created, err := h.w.Receive(c.Request().Context(), cit, req.Credential)
	if err != nil {
		return err
	}
	status := http.StatusOK // already held
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, cr)
}

// QRRequest is the body of POST /bridge/v1/credentials/{id}/qr.
type QRRequest struct {
	Disclose []string `json:"disclose"`
	Audience string   `json:"audience,omitempty"`
}

// QRResponse is the counter QR: its text, the QR version, and the PNG (base64).
type QRResponse struct {
	wallet.Presentation
	Version int    `json:"qr_version"`
	PNG     string `json:"png"`
}

func (h handler) qr(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req QRRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	p, err := h.w.Present(c.Request().Context(), cit, c.Param("id"), req.Disclose, req.Audience)
	if err != nil {
		return err
	}
	png, version, err := qr.Encode(p.Text)
	if err != nil {
		return err
	}
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "image/png") {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Blob(http.StatusOK, "image/png", png)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, QRResponse{Presentation: p, Version: version, PNG: base64.StdEncoding.EncodeToString(png)})
}
