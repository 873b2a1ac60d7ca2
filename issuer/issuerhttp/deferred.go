package issuerhttp

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// Deferred is what deferred issuance needs from the issuer: the officers' queue and the
// wallet-facing Deferred Credential Endpoint.
type Deferred interface {
	PendingOffers(ctx context.Context, a issuer.Agency) ([]issuer.PendingOffer, error)
	ApproveOffer(ctx context.Context, a issuer.Agency, offerID string) (issuer.Decision, error)
	RejectOffer(ctx context.Context, a issuer.Agency, offerID, reason string) (issuer.Decision, error)
	DeferredCredential(ctx context.Context, accessToken string, req *oid4vci.DeferredCredentialRequest) (oid4vci.CredentialResponse, error)
}

// registerDeferred mounts the officers' endpoints (agency token; an agency sees and decides
// only its own offers) and the OpenID4VCI 1.0 Deferred Credential Endpoint (§9).
func registerDeferred(e *echo.Echo, h oid4vciHandler) {
	e.GET("/issuer/v1/offers/pending", h.pendingOffers)
	e.POST("/issuer/v1/offers/:id/approve", h.approveOffer)
	e.POST("/issuer/v1/offers/:id/reject", h.rejectOffer)
	e.POST("/oid4vci/deferred_credential", h.deferredCredential)
}

// RejectRequest is the body of POST /issuer/v1/offers/{id}/reject.
type RejectRequest struct {
	Reason string `json:"reason"`
}

func (h oid4vciHandler) agency(c echo.Context) (issuer.Agency, error) {
	tok, err := web.BearerToken(c)
	if err != nil {
		return issuer.Agency{}, err
	}
	return h.svc.Authenticate(c.Request().Context(), tok)
}

func (h oid4vciHandler) pendingOffers(c echo.Context) error {
	a, err := h.agency(c)
	if err != nil {
		return err
	}
	list, err := h.svc.PendingOffers(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"pending": list})
}

func (h oid4vciHandler) approveOffer(c echo.Context) error {
	a, err := h.agency(c)
	if err != nil {
		return err
	}
	d, err := h.svc.ApproveOffer(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h oid4vciHandler) rejectOffer(c echo.Context) error {
	a, err := h.agency(c)
	if err != nil {
		return err
	}
	var req RejectRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	d, err := h.svc.RejectOffer(c.Request().Context(), a, c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h oid4vciHandler) deferredCredential(c echo.Context) error {
	tok, body, ok, err := bearerRequest(c)
	if !ok {
		return bearerError(c)
	}
	if err != nil {
		return err
	}
	req, err := oid4vci.ParseDeferredCredentialRequest(body)
	if err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidCredentialRequest, err.Error())
	}
	resp, err := h.svc.DeferredCredential(c.Request().Context(), tok, req)
	switch {
	case errors.Is(err, issuer.ErrInvalidToken):
		return bearerError(c)
	case errors.Is(err, issuer.ErrInvalidTransactionID):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidTransactionID, err.Error())
	case errors.Is(err, issuer.ErrCredentialDenied):
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorCredentialRequestDenied, err.Error())
	case err != nil:
		return err
	}
	noStore(c)
	if resp.Deferred() {
		return c.JSON(http.StatusAccepted, resp)
	}
	return c.JSON(http.StatusOK, resp)
}
