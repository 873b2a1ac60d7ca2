// Package verifierhttp serves the verifier's HTTP API: POST /verifier/v1/verify takes a QR's
// text (JSON) or a photo of the QR (PNG/JPEG, raw or multipart) and answers with every check.
package verifierhttp

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/verifier"
)

// Service is what the handlers need from the verifier.
type Service interface {
	Verify(ctx context.Context, text string, opts verifier.Options) (verifier.Result, error)
}

// Rules maps the verifier's errors to problem types.
var Rules = []problem.Rule{
	{Err: verifier.ErrNotPresentation, Status: http.StatusBadRequest, Name: "not-a-presentation", Title: "The input is not a presentation"},
	{Err: qr.ErrNoCode, Status: http.StatusBadRequest, Name: "no-qr-code", Title: "No QR code found in the image"},
	{Err: qr.ErrImage, Status: http.StatusBadRequest, Name: "bad-image", Title: "The image cannot be read"},
	{Err: verifier.ErrNotFound, Status: http.StatusNotFound, Name: "not-found", Title: "Not found"},
	{Err: verifier.ErrInvalidRequest, Status: http.StatusBadRequest, Name: "malformed-request", Title: "Malformed request"},
}

type handler struct{ svc Service }

// Register mounts the verifier API under /verifier/v1.
func Register(e *echo.Echo, svc Service) {
	h := handler{svc}
	e.POST("/verifier/v1/verify", h.verify)
}

// VerifyRequest is the JSON body of POST /verifier/v1/verify.
type VerifyRequest struct {
	QR      string `json:"qr"`
	Counter string `json:"counter,omitempty"`
}

func (h handler) verify(c echo.Context) error {
	var req VerifyRequest
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	switch ct {
	case "image/png", "image/jpeg":
		img, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		if req.QR, err = qr.Decode(img); err != nil {
			return err
		}
		req.Counter = c.QueryParam("counter")
	case "multipart/form-data":
		fh, err := c.FormFile("image")
		if err != nil {
			return fmt.Errorf("%w: multipart body needs a file field \"image\"", problem.ErrMalformed)
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		img, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return err
		}
		if req.QR, err = qr.Decode(img); err != nil {
			return err
		}
		req.Counter = c.FormValue("counter")
	default:
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		if req.QR == "" {
			return fmt.Errorf("%w: \"qr\" is required", problem.ErrMalformed)
		}
	}
	res, err := h.svc.Verify(c.Request().Context(), req.QR, verifier.Options{Counter: req.Counter})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
