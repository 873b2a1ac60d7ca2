// Package mobilebridge is the API the citizen's phone app talks to (/bridge/v1): enrol with a
// phone number and a one-time code, binding a device key; then, on every call, an access token
// bound to that key with a DPoP proof of possession (RFC 9449); list and remove devices;
// delete the account; receive a credential into the wallet (directly, or by redeeming an
// OpenID4VCI offer, waiting for a deferred one), list what the wallet holds, and make the
// counter QR — a holder-bound presentation with only the claims a counter needs — as text and
// as a PNG.
package mobilebridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/wallet"
)

// Wallet is what the bridge needs from the wallet backend.
type Wallet interface {
	// Session returns whom a device-bound access token speaks for (wallet.ErrUnauthorized,
	// wallet.ErrDeviceNotBound otherwise); the bridge then checks the DPoP proof.
	Session(ctx context.Context, token string) (wallet.Session, error)
	Me(ctx context.Context, c wallet.Citizen) (wallet.Citizen, error)
	RequestCode(ctx context.Context, phone string) (time.Duration, error)
	Enrol(ctx context.Context, req wallet.EnrolRequest, deviceKey jose.JSONWebKey) (wallet.Enrolment, error)
	Devices(ctx context.Context, c wallet.Citizen) ([]wallet.Device, error)
	RemoveDevice(ctx context.Context, c wallet.Citizen, id string) error
	Erase(ctx context.Context, c wallet.Citizen) (wallet.Erasure, error)
	Receive(ctx context.Context, c wallet.Citizen, raw string) (wallet.Credential, bool, error)
	Credentials(ctx context.Context, c wallet.Citizen) ([]wallet.Credential, error)
	Present(ctx context.Context, c wallet.Citizen, id string, disclose []string, audience string) (wallet.Presentation, error)
	RedeemOffer(ctx context.Context, c wallet.Citizen, offerURI, txCode string) ([]wallet.Credential, error)
	Pending(ctx context.Context, c wallet.Citizen) ([]wallet.PendingIssuance, error)
	CollectPending(ctx context.Context, c wallet.Citizen, id string) ([]wallet.Credential, error)
}

// Rules maps wallet errors to the bridge's stable problem types, which the app switches on.
var Rules = []problem.Rule{
	{Err: errDPoPRequired, Status: http.StatusUnauthorized, Name: "dpop-required", Title: "The bridge needs a DPoP-bound access token and a DPoP proof"},
	{Err: wallet.ErrDeviceNotBound, Status: http.StatusUnauthorized, Name: "dpop-required", Title: "The bridge needs a DPoP-bound access token and a DPoP proof"},
	{Err: dpop.ErrReplay, Status: http.StatusUnauthorized, Name: "dpop-proof-replayed", Title: "The DPoP proof was used before"},
	{Err: dpop.ErrNonce, Status: http.StatusUnauthorized, Name: "use-dpop-nonce", Title: "The DPoP proof must carry the server nonce"},
	{Err: dpop.ErrInvalid, Status: http.StatusUnauthorized, Name: "invalid-dpop-proof", Title: "The DPoP proof is invalid"},
	{Err: wallet.ErrInvalidPhone, Status: http.StatusBadRequest, Name: "invalid-phone", Title: "The phone number is not valid"},
	{Err: wallet.ErrCodeTooSoon, Status: http.StatusTooManyRequests, Name: "code-too-soon", Title: "A code was sent moments ago"},
	{Err: wallet.ErrCodeExpired, Status: http.StatusBadRequest, Name: "code-expired", Title: "The one-time code has expired"},
	{Err: wallet.ErrCodeAttempts, Status: http.StatusTooManyRequests, Name: "code-attempts-exceeded", Title: "Too many wrong one-time codes"},
	{Err: wallet.ErrCodeInvalid, Status: http.StatusBadRequest, Name: "invalid-code", Title: "The one-time code is wrong or was used"},
	{Err: wallet.ErrIdentity, Status: http.StatusUnprocessableEntity, Name: "identity-not-proven", Title: "The identity could not be proven"},
	{Err: wallet.ErrDeviceKey, Status: http.StatusBadRequest, Name: "invalid-device-key", Title: "The device key is not acceptable"},
	{Err: wallet.ErrDeviceKeyInUse, Status: http.StatusConflict, Name: "device-key-in-use", Title: "The device key belongs to another account"},
	{Err: wallet.ErrNotTrusted, Status: http.StatusUnprocessableEntity, Name: "credential-not-trusted", Title: "The credential failed the wallet's checks"},
	{Err: wallet.ErrInvalidCredential, Status: http.StatusUnprocessableEntity, Name: "invalid-credential", Title: "The credential was rejected"},
	{Err: wallet.ErrNotBound, Status: http.StatusUnprocessableEntity, Name: "credential-not-bound", Title: "The credential is bound to another holder"},
	{Err: wallet.ErrUnknownClaim, Status: http.StatusUnprocessableEntity, Name: "unknown-claim", Title: "The credential has no such claim"},
	{Err: wallet.ErrCredentialDenied, Status: http.StatusUnprocessableEntity, Name: "credential-request-denied", Title: "The issuer refused to issue the credential"},
	{Err: wallet.ErrTxCodeRequired, Status: http.StatusBadRequest, Name: "tx-code-required", Title: "The offer needs its transaction code"},
	{Err: wallet.ErrOffer, Status: http.StatusUnprocessableEntity, Name: "offer-failed", Title: "The credential offer could not be redeemed"},
	{Err: wallet.ErrNotFound, Status: http.StatusNotFound, Name: "not-found", Title: "Not found"},
	{Err: wallet.ErrInvalidRequest, Status: http.StatusBadRequest, Name: "malformed-request", Title: "Malformed request"},
}

type handler struct {
	w      Wallet
	dpop   *dpop.Verifier
	base   string
	outbox *wallet.DevOutbox
}

// Config configures the bridge.
type Config struct {
	// PublicURL is the server's base URL as clients reach it (no trailing slash): DPoP
	// proofs' htu must be PublicURL + the request path. Required.
	PublicURL string
	// DPoP verifies the proofs; required.
	DPoP *dpop.Verifier
	// Outbox, when set (a demo server only), is served at GET /bridge/v1/dev/outbox.
	Outbox *wallet.DevOutbox
}

// Register mounts the bridge API under /bridge/v1.
func Register(e *echo.Echo, w Wallet, cfg Config) error {
	if cfg.DPoP == nil || cfg.PublicURL == "" {
		return errors.New("mobilebridge: PublicURL and DPoP are required")
	}
	h := handler{w: w, dpop: cfg.DPoP, base: strings.TrimRight(cfg.PublicURL, "/"), outbox: cfg.Outbox}
	g := e.Group("/bridge/v1")
	g.POST("/enrolment/code", h.requestCode)
	g.POST("/enrolment", h.enrol)
	if cfg.Outbox != nil {
		g.GET("/dev/outbox", h.devOutbox)
	}
	g.GET("/devices", h.devices)
	g.DELETE("/devices/:id", h.removeDevice)
	g.DELETE("/me", h.erase)
	g.GET("/me", h.me)
	g.GET("/credentials", h.list)
	g.POST("/credentials", h.receive)
	g.POST("/credentials/:id/qr", h.qr)
	g.POST("/offers", h.redeem)
	g.GET("/pending", h.pending)
	g.POST("/pending/:id/collect", h.collect)
	h.registerDeviceKeys(g)       // holder keys on the phone (devicekeys.go)
	h.registerCredentialDetail(g) // one credential with its anchor status (credential.go)
	return nil
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

// auth authenticates a bridge call (see session) and returns its citizen.
func (h handler) auth(c echo.Context) (wallet.Citizen, error) {
	s, err := h.session(c)
	return s.Citizen, err
}

func (h handler) me(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	cit, err = h.w.Me(c.Request().Context(), cit)
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

// QRResponse is the counter QR: its text (in the form asked for), the QR version, and the
// PNG (base64).
type QRResponse struct {
	wallet.Presentation
	Form    string `json:"form"`
	Version int    `json:"qr_version"`
	PNG     string `json:"png"`
}

// tooLargeForQR turns err, when it wraps tooLarge, into a malformed request: the claims asked
// for (a photo, say) do not fit a QR code, and the app must ask for fewer.
func tooLargeForQR(err, tooLarge error) error {
	if errors.Is(err, tooLarge) {
		return fmt.Errorf("%w: the disclosed claims do not fit a QR code (%v); disclose fewer", wallet.ErrInvalidRequest, err)
	}
	return err
}

// The forms of the counter QR, chosen with the query parameter form.
const (
	// FormCompact, the default, is the compact QR of docs/compact-qr.md: "EZ1:" and base45,
	// read by QR scanners in alphanumeric mode; verifiers expand it to the same presentation.
	FormCompact = "compact"
	// FormPlain is the SD-JWT+KB presentation text itself.
	FormPlain = "plain"
)

func (h handler) qr(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	form := c.QueryParam("form")
	switch form {
	case "":
		form = FormCompact
	case FormCompact, FormPlain:
	default:
		return fmt.Errorf("%w: form must be %q or %q", problem.ErrMalformed, FormCompact, FormPlain)
	}
	var req QRRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	p, err := h.w.Present(c.Request().Context(), cit, c.Param("id"), req.Disclose, req.Audience)
	if err != nil {
		return err
	}
	if form == FormCompact {
		if p.Text, err = compactqr.Encode(p.Text); err != nil {
			return tooLargeForQR(err, compactqr.ErrTooLarge)
		}
	}
	png, version, err := qr.Encode(p.Text)
	if err != nil {
		return tooLargeForQR(err, qr.ErrTooLong)
	}
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "image/png") {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Blob(http.StatusOK, "image/png", png)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, QRResponse{Presentation: p, Form: form, Version: version, PNG: base64.StdEncoding.EncodeToString(png)})
}
