package issuerhttp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// AgencyService is what the agency administration and OAuth client endpoints need from the
// issuer.
type AgencyService interface {
	// AddAgency has the root authority add an agency; see issuer.Service.AddAgency.
	AddAgency(ctx context.Context, root issuer.Agency, req issuer.NewAgencyRequest) (issuer.Agency, string, error)
	// ListAgencies lists every agency for the root authority.
	ListAgencies(ctx context.Context, root issuer.Agency) ([]issuer.AgencyInfo, error)
	// AccreditTypes has the root authority accredit an agency for more types.
	AccreditTypes(ctx context.Context, root issuer.Agency, agencyID string, types []string, days int) error
	// CreateClient registers an OAuth client of the agency and returns its secret, once.
	CreateClient(ctx context.Context, a issuer.Agency) (issuer.ClientSecret, error)
	// DeleteClient revokes the agency's client and its tokens; issuer.ErrNotFound if none.
	DeleteClient(ctx context.Context, a issuer.Agency, id string) error
	// ClientToken grants an access token to an authenticated client; issuer.ErrInvalidClient.
	ClientToken(ctx context.Context, id, secret string) (issuer.AccessToken, error)
}

// NewAgencyRequest is the body of POST /issuer/v1/agencies.
type NewAgencyRequest struct {
	Name      string   `json:"name"`
	Types     []string `json:"types"`
	ValidDays int      `json:"valid_days,omitempty"`
}

// NewAgencyResponse is the created agency with its first API token (shown once).
type NewAgencyResponse struct {
	Agency issuer.Agency `json:"agency"`
	Token  string        `json:"token"`
}

// AgencyList is the body of GET /issuer/v1/agencies.
type AgencyList struct {
	Agencies []issuer.AgencyInfo `json:"agencies"`
}

// registerAgencies mounts agency administration (root authority only), the agency's OAuth
// clients and the OAuth 2.0 token endpoint, if svc offers them.
func registerAgencies(e *echo.Echo, h handler) {
	as, ok := h.svc.(AgencyService)
	if !ok {
		return
	}
	ah := agencyHandler{h, as}
	e.POST("/issuer/v1/agencies", ah.add)
	e.GET("/issuer/v1/agencies", ah.list)
	e.POST("/issuer/v1/agencies/:id/accreditations", ah.accredit)
	e.POST("/issuer/v1/agency/clients", ah.createClient)
	e.DELETE("/issuer/v1/agency/clients/:id", ah.deleteClient)
	e.POST("/oauth/token", ah.token)
}

type agencyHandler struct {
	handler
	svc AgencyService
}

func (h agencyHandler) add(c echo.Context) error {
	root, err := h.auth(c)
	if err != nil {
		return err
	}
	var req NewAgencyRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	a, tok, err := h.svc.AddAgency(c.Request().Context(), root, issuer.NewAgencyRequest{Name: req.Name, Types: req.Types, ValidDays: req.ValidDays})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, NewAgencyResponse{Agency: a, Token: tok})
}

func (h agencyHandler) list(c echo.Context) error {
	root, err := h.auth(c)
	if err != nil {
		return err
	}
	all, err := h.svc.ListAgencies(c.Request().Context(), root)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, AgencyList{Agencies: all})
}

// AccreditRequest is the body of POST /issuer/v1/agencies/{id}/accreditations.
type AccreditRequest struct {
	Types     []string `json:"types"`
	ValidDays int      `json:"valid_days,omitempty"`
}

func (h agencyHandler) accredit(c echo.Context) error {
	root, err := h.auth(c)
	if err != nil {
		return err
	}
	var req AccreditRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if err := h.svc.AccreditTypes(c.Request().Context(), root, c.Param("id"), req.Types, req.ValidDays); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h agencyHandler) createClient(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	cs, err := h.svc.CreateClient(c.Request().Context(), a)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, cs)
}

func (h agencyHandler) deleteClient(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteClient(c.Request().Context(), a, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// token is the OAuth 2.0 token endpoint for the client credentials grant (RFC 6749 §4.4). It
// answers errors as OAuth error responses (§5.2), like the OpenID4VCI endpoints.
func (h agencyHandler) token(c echo.Context) error {
	return clientCredentialsToken(c, h.svc)
}

// clientCredentialsToken answers a client credentials Token Request (RFC 6749 §4.4) with
// svc's access token for the authenticated client, or an OAuth error response.
func clientCredentialsToken(c echo.Context, svc AgencyService) error {
	r := c.Request()
	if ct, _, _ := strings.Cut(r.Header.Get(echo.HeaderContentType), ";"); !strings.EqualFold(strings.TrimSpace(ct), echo.MIMEApplicationForm) {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 { // RFC 6749 §3.2: parameters must not be included more than once
			return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, "parameter "+k+" repeated")
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, "grant_type is missing")
	case issuer.GrantTypeClientCredentials:
	default:
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorUnsupportedGrantType, "only the client_credentials grant is supported here")
	}
	id, secret, err := clientCredentials(r, form)
	if err != nil {
		return oauthError(c, http.StatusBadRequest, oid4vci.ErrorInvalidRequest, err.Error())
	}
	tok, err := svc.ClientToken(r.Context(), id, secret)
	if errors.Is(err, issuer.ErrInvalidClient) {
		// RFC 6749 §5.2: 401, naming the scheme we offer (Basic). A missing client
		// authentication lands here too (an empty id).
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="ezheng", charset="UTF-8"`)
		return oauthError(c, http.StatusUnauthorized, oid4vci.ErrorInvalidClient, "client authentication failed")
	}
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, tok)
}

// clientCredentials returns the client's id and secret from HTTP Basic authentication (RFC
// 6749 §2.3.1: each part form-urlencoded) or the client_id and client_secret form fields; a
// client must use one method only (an error otherwise). Without either, both are empty.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, err error) {
	user, pass, basic := r.BasicAuth()
	inForm := form.Has("client_id") || form.Has("client_secret")
	switch {
	case basic && inForm:
		return "", "", errors.New("use one client authentication method, not both")
	case basic:
		if id, err = url.QueryUnescape(user); err == nil {
			secret, err = url.QueryUnescape(pass)
		}
		if err != nil {
			return "", "", errors.New("malformed Basic credentials")
		}
		return id, secret, nil
	}
	return form.Get("client_id"), form.Get("client_secret"), nil
}
