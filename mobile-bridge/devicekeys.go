package mobilebridge

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/wallet"
)

// Holder keys on the phone: the app registers a holder key it keeps (never sent), and the
// bridge asks it to sign what needs that key — the KB-JWT of a counter presentation, the
// proof of an OpenID4VCI credential request — in two steps: start (the bridge answers with
// the JWS signing input) and complete (the app posts the signature). See
// docs/design/0005-bridge-auth.md, "Holder keys on the phone".

// DeviceKeyWallet is what the bridge needs from the wallet for holder keys on the device and
// counter presentations signed by the phone. It is optional: Register mounts these routes when
// the Wallet implements it.
type DeviceKeyWallet interface {
	// RegisterHolderKey registers the key that signed proof (a holder-key+jwt for audience,
	// its nonce the session device's thumbprint); created is false for a key registered before.
	RegisterHolderKey(ctx context.Context, sess wallet.Session, proof, audience string) (k wallet.HolderKey, created bool, err error)
	HolderKeys(ctx context.Context, c wallet.Citizen) ([]wallet.HolderKey, error)
	// RemoveHolderKey forgets one of the citizen's holder keys (wallet.ErrNotFound otherwise).
	RemoveHolderKey(ctx context.Context, c wallet.Citizen, id string) error
	// StartPresentation and CompletePresentation make a counter presentation whose KB-JWT the
	// phone signs; the request is bound to the session's citizen and device.
	StartPresentation(ctx context.Context, sess wallet.Session, id string, disclose []string, audience string) (wallet.PresentationRequest, error)
	CompletePresentation(ctx context.Context, sess wallet.Session, id, signingID, signature string) (wallet.Presentation, error)
}

// DeviceOfferWallet is what the bridge needs to redeem an OpenID4VCI offer for a holder key on
// the device. It is optional: Register mounts these routes when the Wallet implements it.
type DeviceOfferWallet interface {
	// StartDeviceOffer runs an offer up to the proof of possession of the device holder key
	// holderKeyID, and returns the proof JWT to sign.
	StartDeviceOffer(ctx context.Context, sess wallet.Session, holderKeyID, offerURI, txCode string) (wallet.SigningRequest, error)
	// CompleteDeviceOffer sends the credential request with the signed proof, and checks and
	// stores what the issuer answers (or keeps a deferred issuance: *wallet.PendingError).
	CompleteDeviceOffer(ctx context.Context, sess wallet.Session, id, signature string) ([]wallet.Credential, error)
}

// DeviceKeyRules maps the errors of holder keys on the device to the bridge's problem types.
var DeviceKeyRules = []problem.Rule{
	{Err: wallet.ErrHolderKeyProof, Status: http.StatusBadRequest, Name: "invalid-holder-key-proof", Title: "The holder key proof is invalid"},
	{Err: wallet.ErrHolderKeyInUse, Status: http.StatusConflict, Name: "holder-key-in-use", Title: "The holder key belongs to another account"},
	{Err: wallet.ErrHolderKeyIsDeviceKey, Status: http.StatusBadRequest, Name: "holder-key-is-device-key", Title: "The holder key must not be a device key"},
	{Err: wallet.ErrHolderKeyOnDevice, Status: http.StatusConflict, Name: "holder-key-on-device", Title: "The credential's holder key is held on the device"},
	{Err: wallet.ErrHolderKeyOnServer, Status: http.StatusConflict, Name: "holder-key-on-server", Title: "The credential's holder key is held by the wallet"},
	{Err: wallet.ErrDeviceSignature, Status: http.StatusUnprocessableEntity, Name: "invalid-device-signature", Title: "The device signature is invalid"},
	{Err: wallet.ErrSigningExpired, Status: http.StatusGone, Name: "signing-request-expired", Title: "The signing request has expired"},
	{Err: wallet.ErrSigningUsed, Status: http.StatusConflict, Name: "signing-request-used", Title: "The signing request was completed before"},
}

// registerDeviceKeys mounts the holder-key routes the wallet supports on g.
func (h handler) registerDeviceKeys(g *echo.Group) {
	if dw, ok := h.w.(DeviceKeyWallet); ok {
		d := deviceHandler{handler: h, dw: dw}
		g.POST("/holder-keys", d.register)
		g.GET("/holder-keys", d.list)
		g.DELETE("/holder-keys/:id", d.remove)
		g.POST("/credentials/:id/presentations", d.startPresentation)
		g.POST("/credentials/:id/presentations/:pid/complete", d.completePresentation)
	}
	if ow, ok := h.w.(DeviceOfferWallet); ok {
		d := deviceHandler{handler: h, ow: ow}
		g.POST("/device-offers", d.startOffer)
		g.POST("/device-offers/:id/complete", d.completeOffer)
	}
}

type deviceHandler struct {
	handler
	dw DeviceKeyWallet
	ow DeviceOfferWallet
}

// HolderKeyRequest is the body of POST /bridge/v1/holder-keys: a JWS signed by the holder
// key, with header {"alg", "typ": "holder-key+jwt", "jwk"} and payload {"aud": the public URL
// + "/bridge/v1/holder-keys", "iat", "nonce": the JWK thumbprint of the device (DPoP) key}.
type HolderKeyRequest struct {
	Proof string `json:"proof"`
}

func (d deviceHandler) register(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	var req HolderKeyRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Proof == "" {
		return fmt.Errorf("%w: \"proof\" is required", problem.ErrMalformed)
	}
	k, created, err := d.dw.RegisterHolderKey(c.Request().Context(), s, req.Proof, d.base+"/bridge/v1/holder-keys")
	if err != nil {
		return err
	}
	status := http.StatusOK // registered before
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, k)
}

func (d deviceHandler) list(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	list, err := d.dw.HolderKeys(c.Request().Context(), s.Citizen)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"holder_keys": list})
}

func (d deviceHandler) remove(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	if err := d.dw.RemoveHolderKey(c.Request().Context(), s.Citizen, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (d deviceHandler) startPresentation(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	var req QRRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	p, err := d.dw.StartPresentation(c.Request().Context(), s, c.Param("id"), req.Disclose, req.Audience)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, p)
}

// SignatureRequest is the body that completes a signing request: the JWS signature of its
// signing_input by the holder key, base64url without padding (64 bytes: R||S for ES256).
type SignatureRequest struct {
	Signature string `json:"signature"`
}

func (d deviceHandler) completePresentation(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	form, err := qrForm(c)
	if err != nil {
		return err
	}
	var req SignatureRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Signature == "" {
		return fmt.Errorf("%w: \"signature\" is required", problem.ErrMalformed)
	}
	p, err := d.dw.CompletePresentation(c.Request().Context(), s, c.Param("id"), c.Param("pid"), req.Signature)
	if err != nil {
		return err
	}
	return writeQR(c, p, form)
}

// DeviceOfferRequest is the body of POST /bridge/v1/device-offers: an offer, its transaction
// code, and the device holder key the credential is to be bound to.
type DeviceOfferRequest struct {
	OfferURI  string `json:"offer_uri"`
	TxCode    string `json:"tx_code,omitempty"`
	HolderKey string `json:"holder_key"`
}

func (d deviceHandler) startOffer(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	var req DeviceOfferRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.OfferURI == "" || req.HolderKey == "" {
		return fmt.Errorf("%w: \"offer_uri\" and \"holder_key\" are required", problem.ErrMalformed)
	}
	p, err := d.ow.StartDeviceOffer(c.Request().Context(), s, req.HolderKey, req.OfferURI, req.TxCode)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, p)
}

func (d deviceHandler) completeOffer(c echo.Context) error {
	s, err := d.session(c)
	if err != nil {
		return err
	}
	var req SignatureRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Signature == "" {
		return fmt.Errorf("%w: \"signature\" is required", problem.ErrMalformed)
	}
	got, err := d.ow.CompleteDeviceOffer(c.Request().Context(), s, c.Param("id"), req.Signature)
	if err != nil {
		return pendingOr(c, err)
	}
	return c.JSON(http.StatusCreated, map[string]any{"credentials": got})
}

// qrForm reads the form query parameter of a counter QR call (default compact).
func qrForm(c echo.Context) (string, error) {
	switch form := c.QueryParam("form"); form {
	case "":
		return FormCompact, nil
	case FormCompact, FormPlain:
		return form, nil
	}
	return "", fmt.Errorf("%w: form must be %q or %q", problem.ErrMalformed, FormCompact, FormPlain)
}

// writeQR answers with the counter QR of p in form: the PNG for Accept: image/png, else
// JSON (QRResponse), as POST /bridge/v1/credentials/{id}/qr does.
func writeQR(c echo.Context, p wallet.Presentation, form string) error {
	var err error
	if form == FormCompact {
		if p.Text, err = compactqr.Encode(p.Text); err != nil {
			return tooLargeForQR(err, compactqr.ErrTooLarge)
		}
	}
	png, version, err := qr.Encode(p.Text)
	if err != nil {
		return tooLargeForQR(err, qr.ErrTooLong)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "image/png") {
		return c.Blob(http.StatusOK, "image/png", png)
	}
	return c.JSON(http.StatusOK, QRResponse{Presentation: p, Form: form, Version: version, PNG: base64.StdEncoding.EncodeToString(png)})
}
