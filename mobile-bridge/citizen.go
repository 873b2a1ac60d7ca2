package mobilebridge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/wallet"
)

// The citizen stays in control (issue #5): presentation history and its export, encrypted
// backup and restore, and a server-sent-events stream of notifications. The routes use the
// same authentication as every other bridge call (handler.auth).

// CitizenWallet is what the history, backup and notification routes need from the wallet.
type CitizenWallet interface {
	Wallet
	History(ctx context.Context, c wallet.Citizen, before int64, limit int) (wallet.HistoryPage, error)
	ExportHistory(ctx context.Context, c wallet.Citizen, format string) ([]byte, string, error)
	Backup(ctx context.Context, c wallet.Citizen, passphrase string) ([]byte, error)
	Restore(ctx context.Context, c wallet.Citizen, file []byte, passphrase string) (wallet.RestoreResult, error)
	Events(ctx context.Context, c wallet.Citizen, after int64, limit int) ([]wallet.Event, error)
	Subscribe(c wallet.Citizen) *wallet.Subscription
}

// CitizenRules maps the errors of history, backup and restore to the bridge's stable problem
// types. The server adds them to its mapper with Rules.
var CitizenRules = []problem.Rule{
	{Err: wallet.ErrWeakPassphrase, Status: http.StatusBadRequest, Name: "weak-passphrase", Title: "The backup passphrase is too weak"},
	{Err: wallet.ErrBackupPassphrase, Status: http.StatusUnprocessableEntity, Name: "backup-passphrase-wrong", Title: "The passphrase does not open this backup"},
	{Err: wallet.ErrBackupTampered, Status: http.StatusUnprocessableEntity, Name: "backup-tampered", Title: "The backup was altered or damaged"},
	{Err: wallet.ErrBackupMalformed, Status: http.StatusBadRequest, Name: "backup-malformed", Title: "The file is not a wallet backup this server reads"},
	{Err: wallet.ErrRestoreConflict, Status: http.StatusConflict, Name: "restore-conflict", Title: "A backup restores only into an empty wallet"},
}

// CitizenConfig configures the history, backup and notification routes.
type CitizenConfig struct {
	// Heartbeat is how often an idle event stream sends a comment line, so proxies and the
	// app know it is alive; DefaultHeartbeat when zero.
	Heartbeat time.Duration
}

// DefaultHeartbeat is the event stream's default heartbeat interval.
const DefaultHeartbeat = 25 * time.Second

type citizenHandler struct {
	w         CitizenWallet
	auth      func(echo.Context) (wallet.Citizen, error)
	heartbeat time.Duration
}

// RegisterCitizen mounts the history, backup and notification routes under /bridge/v1,
// authenticated like the other bridge routes (cfg as for Register):
//
//	GET  /bridge/v1/history                     the presentation history, newest first
//	GET  /bridge/v1/history/export?format=json|csv
//	POST /bridge/v1/backup                      {"passphrase"} → the encrypted backup file
//	POST /bridge/v1/restore                     {"passphrase","backup"} → what was restored
//	GET  /bridge/v1/events                      text/event-stream of notifications
func RegisterCitizen(e *echo.Echo, w CitizenWallet, cfg Config, cc CitizenConfig) error {
	if cfg.DPoP == nil || cfg.PublicURL == "" {
		return errors.New("mobilebridge: PublicURL and DPoP are required")
	}
	h := handler{w: w, dpop: cfg.DPoP, base: strings.TrimRight(cfg.PublicURL, "/")}
	h.registerCitizen(e.Group("/bridge/v1"), w, cc)
	return nil
}

// registerCitizen mounts the routes of RegisterCitizen on g (the /bridge/v1 group), using h's
// authentication.
func (h handler) registerCitizen(g *echo.Group, w CitizenWallet, cc CitizenConfig) {
	if cc.Heartbeat <= 0 {
		cc.Heartbeat = DefaultHeartbeat
	}
	ch := citizenHandler{w: w, auth: h.auth, heartbeat: cc.Heartbeat}
	g.GET("/history", ch.history)
	g.GET("/history/export", ch.exportHistory)
	g.POST("/backup", ch.backup)
	g.POST("/restore", ch.restore)
	g.GET("/events", ch.events)
}
