package mobilebridge

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/wallet"
)

// errDPoPRequired is returned for a bridge call without "Authorization: DPoP <token>" and a
// DPoP proof (a plain Bearer token is refused: a stolen one must be useless).
var errDPoPRequired = fmt.Errorf("%w: send Authorization: DPoP <token> with a DPoP proof header", problem.ErrUnauthorized)

// HeaderDPoP is the request header carrying a DPoP proof, and HeaderDPoPNonce the response
// header carrying a server nonce.
const (
	HeaderDPoP      = "DPoP"
	HeaderDPoPNonce = "DPoP-Nonce"
)

// session authenticates a bridge call: "Authorization: DPoP <token>" with a token bound to
// a device, and one DPoP header with a proof signed by that device's key for this method
// and URL (public URL + path), carrying the token's hash, fresh and never seen before. Every
// failure is a 401 with a WWW-Authenticate: DPoP challenge.
func (h handler) session(c echo.Context) (wallet.Session, error) {
	r := c.Request()
	tok, err := dpopToken(r)
	if err != nil {
		h.challenge(c, err)
		return wallet.Session{}, err
	}
	proof, err := proofHeader(r)
	if err != nil {
		h.challenge(c, err)
		return wallet.Session{}, err
	}
	s, err := h.w.Session(r.Context(), tok)
	if err != nil {
		h.challenge(c, err)
		return wallet.Session{}, err
	}
	if _, err := h.dpop.Verify(r.Context(), proof, dpop.Request{Method: r.Method, URL: h.base + r.URL.EscapedPath(), AccessToken: tok, Thumbprint: s.Device.Thumbprint}); err != nil {
		h.challenge(c, err)
		return wallet.Session{}, err
	}
	return s, nil
}

// dpopToken returns the token of "Authorization: DPoP <token>".
func dpopToken(r *http.Request) (string, error) {
	values := r.Header.Values(echo.HeaderAuthorization)
	if len(values) != 1 {
		return "", errDPoPRequired
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "DPoP") {
		return "", errDPoPRequired
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || len(tok) > 512 || strings.ContainsAny(tok, " ,\"") {
		return "", fmt.Errorf("%w: malformed access token", problem.ErrUnauthorized)
	}
	return tok, nil
}

// proofHeader returns the request's one DPoP header.
func proofHeader(r *http.Request) (string, error) {
	values := r.Header.Values(HeaderDPoP)
	switch len(values) {
	case 0:
		return "", fmt.Errorf("%w: no DPoP proof header", errDPoPRequired)
	case 1:
		return values[0], nil
	}
	return "", fmt.Errorf("%w: more than one DPoP header", dpop.ErrMalformed)
}

// challenge sets the RFC 9449 WWW-Authenticate challenge for err, and a fresh nonce when
// the server asks for them.
func (h handler) challenge(c echo.Context, err error) {
	v := `DPoP algs="` + dpop.AlgorithmNames + `"`
	switch {
	case errors.Is(err, dpop.ErrNonce):
		v = `DPoP error="use_dpop_nonce", error_description="Authorization server requires nonce in DPoP proof", algs="` + dpop.AlgorithmNames + `"`
	case errors.Is(err, dpop.ErrInvalid):
		v = `DPoP error="invalid_dpop_proof", algs="` + dpop.AlgorithmNames + `"`
	case errors.Is(err, wallet.ErrUnauthorized), errors.Is(err, wallet.ErrDeviceNotBound):
		v = `DPoP error="invalid_token", algs="` + dpop.AlgorithmNames + `"`
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, v)
	if n := h.dpop.Nonces(); n != nil {
		c.Response().Header().Set(HeaderDPoPNonce, n.Current())
	}
}

// CodeRequest is the body of POST /bridge/v1/enrolment/code.
type CodeRequest struct {
	Phone string `json:"phone"`
}

func (h handler) requestCode(c echo.Context) error {
	var req CodeRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	ttl, err := h.w.RequestCode(c.Request().Context(), req.Phone)
	if errors.Is(err, wallet.ErrCodeTooSoon) {
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(int(wallet.DefaultCodeGap.Seconds())))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"expires_in": int(ttl.Seconds()), "code_length": wallet.CodeDigits})
}

// enrol creates an account (or logs in on a new device): the body has the phone, its code
// and, for a new account, the name and id number; the DPoP header is a proof (without ath)
// signed by the device key to bind, whose jwk becomes the device.
func (h handler) enrol(c echo.Context) error {
	r := c.Request()
	var req wallet.EnrolRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if r.Header.Get(echo.HeaderAuthorization) != "" {
		return fmt.Errorf("%w: enrolment takes no Authorization header", problem.ErrMalformed)
	}
	proof, err := proofHeader(r)
	if err != nil {
		h.challenge(c, err)
		return err
	}
	p, err := h.dpop.Verify(r.Context(), proof, dpop.Request{Method: r.Method, URL: h.base + r.URL.EscapedPath()})
	if err != nil {
		h.challenge(c, err)
		return err
	}
	got, err := h.w.Enrol(r.Context(), req, p.Key)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, got)
}

func (h handler) devices(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	list, err := h.w.Devices(c.Request().Context(), s.Citizen)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": list, "current": s.Device.ID})
}

func (h handler) removeDevice(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.w.RemoveDevice(c.Request().Context(), s.Citizen, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h handler) erase(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	e, err := h.w.Erase(c.Request().Context(), s.Citizen)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}

func (h handler) devOutbox(c echo.Context) error {
	phone := c.QueryParam("phone")
	if phone == "" {
		return fmt.Errorf("%w: the phone query parameter is required", problem.ErrMalformed)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"messages": h.outbox.Messages(phone)})
}
