package mobilebridge

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/wallet"
)

// history answers GET /bridge/v1/history?before=&limit=: a page of the citizen's
// presentations, newest first; "next" is the before of the following page.
func (h citizenHandler) history(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	before, err := intQuery(c, "before")
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit")
	if err != nil {
		return err
	}
	page, err := h.w.History(c.Request().Context(), cit, before, int(limit))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, page)
}

// exportHistory answers GET /bridge/v1/history/export?format=json|csv (json by default): the
// whole history as a file to save.
func (h citizenHandler) exportHistory(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = wallet.ExportJSON
	}
	if format != wallet.ExportJSON && format != wallet.ExportCSV {
		return fmt.Errorf("%w: format must be %q or %q", problem.ErrMalformed, wallet.ExportJSON, wallet.ExportCSV)
	}
	body, ctype, err := h.w.ExportHistory(c.Request().Context(), cit, format)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set(echo.HeaderContentDisposition, `attachment; filename="ezheng-history.`+format+`"`)
	return c.Blob(http.StatusOK, ctype, body)
}

// BackupRequest is the body of POST /bridge/v1/backup.
type BackupRequest struct {
	Passphrase string `json:"passphrase"`
}

// backup answers POST /bridge/v1/backup with the encrypted backup file.
func (h citizenHandler) backup(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req BackupRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	file, err := h.w.Backup(c.Request().Context(), cit, req.Passphrase)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set(echo.HeaderContentDisposition, `attachment; filename="ezheng-wallet.ezbackup"`)
	return c.Blob(http.StatusOK, wallet.BackupMediaType, file)
}

// RestoreRequest is the body of POST /bridge/v1/restore: the backup file's text (it is
// ASCII) and its passphrase.
type RestoreRequest struct {
	Passphrase string `json:"passphrase"`
	Backup     string `json:"backup"`
}

// restore answers POST /bridge/v1/restore: the backup is restored into the calling citizen's
// wallet (which must hold no credentials), bound to the calling device.
func (h citizenHandler) restore(c echo.Context) error {
	cit, err := h.auth(c)
	if err != nil {
		return err
	}
	var req RestoreRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if req.Backup == "" || req.Passphrase == "" {
		return fmt.Errorf("%w: \"backup\" and \"passphrase\" are required", problem.ErrMalformed)
	}
	got, err := h.w.Restore(c.Request().Context(), cit, []byte(req.Backup), req.Passphrase)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, got)
}

// intQuery reads a non-negative integer query parameter, 0 when absent.
func intQuery(c echo.Context, name string) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer", problem.ErrMalformed, name)
	}
	return n, nil
}
