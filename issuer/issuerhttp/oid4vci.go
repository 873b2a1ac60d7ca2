package issuerhttp

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// OpenID4VCI is what the OpenID4VCI endpoints need from the issuer.
type OpenID4VCI interface {
	Authenticate(ctx context.Context, token string) (issuer.Agency, error)
	CreateOffer(ctx context.Context, a issuer.Agency, req issuer.OfferRequest) (issuer.Offer, error)
	OfferObject(ctx context.Context, id string) ([]byte, error)
	IssuerMetadata() oid4vci.IssuerMetadata
	AuthorizationServerMetadata() oid4vci.AuthorizationServerMetadata
	Token(ctx context.Context, req *oid4vci.TokenRequest) (oid4vci.TokenResponse, error)
	Nonce(ctx context.Context) (string, error)
	IssueForToken(ctx context.Context, accessToken string, req *oid4vci.CredentialRequest) (oid4vci.CredentialResponse, error)
	Notify(ctx context.Context, accessToken string, n *oid4vci.NotificationRequest) error
	Deferred
}

// RegisterOpenID4VCI mounts the OpenID4VCI 1.0 issuer (pre-authorized code flow): the
// agency's offer endpoints under /issuer/v1 (making offers, and the officers' approval of
// deferred ones), the well-known metadata, and the wallet-facing endpoints under /oid4vci
// (including the Deferred Credential Endpoint).
//
// The wallet-facing endpoints answer errors as OAuth 2.0 / OpenID4VCI error responses
// ({"error", "error_description"}, RFC 6749 §5.2, RFC 6750 §3.1), not as RFC 9457 problems:
// standard wallets switch on those codes. They are the one exception to "handlers return
// errors", and write their error responses themselves.
func RegisterOpenID4VCI(e *echo.Echo, svc OpenID4VCI) {
	h := oid4vciHandler{svc}
	e.POST("/issuer/v1/offers", h.createOffer)
	e.GET(oid4vci.WellKnownCredentialIssuer, h.issuerMetadata)
	e.GET("/.well-known/oauth-authorization-server", h.asMetadata)
	e.GET("/oid4vci/offers/:id", h.offerObject)
	e.POST("/oid4vci/token", h.token)
	e.POST("/oid4vci/nonce", h.nonce)
	e.POST("/oid4vci/credential", h.credential)
	e.POST("/oid4vci/notification", h.notification)
	registerDeferred(e, h)
}

type oid4vciHandler struct{ svc OpenID4VCI }

// OfferRequest is the body of POST /issuer/v1/offers.
type OfferRequest struct {
	Type   string         `json:"type"`
	Claims map[string]any `json:"claims"`
	// TxCode asks for a transaction code (PIN) to deliver out of band; default true.
	TxCode *bool `json:"tx_code,omitempty"`
}

// OfferResponse is a created offer with its QR code.
type OfferResponse struct {
	issuer.Offer
	QRPNG string `json:"qr_png"` // base64 PNG of offer_uri
}

func (h oid4vciHandler) createOffer(c echo.Context) error {
	tok, err := web.BearerToken(c)
	if err != nil {
		return err
	}
	a, err := h.svc.Authenticate(c.Request().Context(), tok)
	if err != nil {
		return err
	}
	var req OfferRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	o, err := h.svc.CreateOffer(c.Request().Context(), a, issuer.OfferRequest{Type: req.Type, Claims: req.Claims, NoTxCode: req.TxCode != nil && !*req.TxCode})
	if err != nil {
		return err
	}
	png, _, err := qr.Encode(o.URI)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, OfferResponse{Offer: o, QRPNG: base64.StdEncoding.EncodeToString(png)})
}

func (h oid4vciHandler) issuerMetadata(c echo.Context) error {
	return c.JSON(http.StatusOK, h.svc.IssuerMetadata())
}

func (h oid4vciHandler) asMetadata(c echo.Context) error {
	return c.JSON(http.StatusOK, h.svc.AuthorizationServerMetadata())
}

func (h oid4vciHandler) offerObject(c echo.Context) error {
	b, err := h.svc.OfferObject(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSONBlob(http.StatusOK, b)
}

func (h oid4vciHandler) token(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	// The authorization server metadata names this one token endpoint for both grants: an
	// agency's client gets its access token here as at /oauth/token.
	if gt := c.Request().PostForm["grant_type"]; len(gt) == 1 && gt[0] == issuer.GrantTypeClientCredentials {
		if as, ok := h.svc.(AgencyService); ok {
			return clientCredentialsToken(c, as)
		}
	}
	req, err := oid4vci.ParseTokenRequest(c.Request().PostForm)
	if errors.Is(err, oid4vci.ErrUnsupportedGrantType) {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorUnsupportedGrantType, err.Error())
	}
	if err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, err.Error())
	}
	resp, err := h.svc.Token(c.Request().Context(), req)
	switch {
	case errors.Is(err, issuer.ErrInvalidGrant), errors.Is(err, issuer.ErrWrongTxCode):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidGrant, err.Error())
	case errors.Is(err, issuer.ErrInvalidRequest):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, err.Error())
	case err != nil:
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, resp)
}

func (h oid4vciHandler) nonce(c echo.Context) error {
	n, err := h.svc.Nonce(c.Request().Context())
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, oid4vci.NonceResponse{CNonce: n})
}

func (h oid4vciHandler) credential(c echo.Context) error {
	tok, body, ok, err := bearerRequest(c)
	if !ok {
		return bearerError(c)
	}
	if err != nil {
		return err
	}
	req, err := oid4vci.ParseCredentialRequest(body)
	if err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidCredentialRequest, err.Error())
	}
	resp, err := h.svc.IssueForToken(c.Request().Context(), tok, req)
	switch {
	case errors.Is(err, issuer.ErrInvalidToken):
		return bearerError(c)
	case errors.Is(err, issuer.ErrInvalidNonce):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidNonce, "fetch a fresh c_nonce from the nonce endpoint")
	case errors.Is(err, issuer.ErrInvalidProof):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidProof, err.Error())
	case errors.Is(err, issuer.ErrUnknownConfiguration):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorUnknownCredentialConfiguration, err.Error())
	case err != nil:
		return err
	}
	noStore(c)
	if resp.Deferred() {
		// §8.3: an officer must approve first; the wallet polls the deferred endpoint.
		return c.JSON(http.StatusAccepted, resp)
	}
	return c.JSON(http.StatusOK, resp)
}

func (h oid4vciHandler) notification(c echo.Context) error {
	tok, body, ok, err := bearerRequest(c)
	if !ok {
		return bearerError(c)
	}
	if err != nil {
		return err
	}
	n, err := oid4vci.ParseNotificationRequest(body)
	if err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidNotificationRequest, err.Error())
	}
	err = h.svc.Notify(c.Request().Context(), tok, n)
	switch {
	case errors.Is(err, issuer.ErrInvalidToken):
		return bearerError(c)
	case errors.Is(err, issuer.ErrUnknownNotification):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidNotificationID, err.Error())
	case errors.Is(err, issuer.ErrInvalidNotificationRq):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidNotificationRequest, err.Error())
	case err != nil:
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// bearerRequest reads the access token and the body (bounded, larger bodies are left for the
// parsers to refuse) of a request to a protected OpenID4VCI endpoint. ok is false without a
// bearer token.
func bearerRequest(c echo.Context) (token string, body []byte, ok bool, err error) {
	if token, ok = accessToken(c); !ok {
		return "", nil, false, nil
	}
	body, err = io.ReadAll(io.LimitReader(c.Request().Body, 4*oid4vci.MaxMessageSize+1))
	return token, body, true, err
}

func accessToken(c echo.Context) (string, bool) {
	tok, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	return strings.TrimSpace(tok), ok && strings.TrimSpace(tok) != ""
}

func oauthError(c echo.Context, status int, code, description string) error {
	noStore(c)
	return c.JSON(status, oid4vci.NewErrorResponse(code, description))
}

// bearerError answers a missing, unknown, used or expired access token (RFC 6750 §3.1).
func bearerError(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return oauthError(c, http.StatusUnauthorized, oid4vci.ErrorInvalidToken, "the access token is missing, unknown, used or expired")
}

func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Pragma", "no-cache")
}
