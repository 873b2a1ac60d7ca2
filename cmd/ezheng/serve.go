package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/internal/web"
)

func serveCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every component in one process, with a demo world on first start",
		Args:  cobra.NoArgs,
	}
	addSettings(cmd.Flags(), getenv, "addr", "data", "log-level", "qr-validity", "ledger-origin", "public-url", "policies", "credential-watch")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		var level slog.Level
		if err := level.UnmarshalText([]byte(getString(fs, "log-level"))); err != nil {
			return fmt.Errorf("--log-level: %w", err)
		}
		qrValidity, err := getDuration(fs, "qr-validity")
		if err != nil {
			return fmt.Errorf("--qr-validity: %w", err)
		}
		watch, err := getDuration(fs, "credential-watch")
		if err != nil {
			return fmt.Errorf("--credential-watch: %w", err)
		}
		if watch == 0 {
			watch = -1 // never
		}
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		return serve(cmd.Context(), stdout, logger, serveOptions{addr: getString(fs, "addr"), dataDir: getString(fs, "data"),
			masterKey: getenv(masterKeyEnv), qrValidity: qrValidity, ledgerOrigin: getString(fs, "ledger-origin"),
			publicURL: strings.TrimRight(getString(fs, "public-url"), "/"), policies: getString(fs, "policies"), credentialWatch: watch})
	}
	return cmd
}

type serveOptions struct {
	addr, dataDir, masterKey, ledgerOrigin, publicURL, policies string
	qrValidity, credentialWatch                                 time.Duration
}

func serve(ctx context.Context, stdout io.Writer, logger *slog.Logger, o serveOptions) error {
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	master, err := keys.LoadMaster(o.masterKey, filepath.Join(dataDir, "master.key"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	base := o.publicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	srv, err := server.New(ctx, server.Config{DataDir: dataDir, MasterKey: master, Logger: logger, QRValidity: o.qrValidity,
		LedgerOrigin: o.ledgerOrigin, PublicURL: base, VerifierPolicies: o.policies, CredentialWatch: o.credentialWatch})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()

	world, created, err := demo.Seed(ctx, demo.Services{Issuer: srv.Issuer, Wallet: srv.Wallet, Verifier: srv.Verifier, OpenID4VP: srv.OpenID4VP, LedgerKey: srv.LedgerKey}, dataDir, base)
	if err != nil {
		ln.Close()
		return fmt.Errorf("seed demo world: %w", err)
	}
	logger.Info("ezheng started", "url", base, "data", dataDir, "demo_seeded", created)
	fmt.Fprintf(stdout, "ezheng is serving on %s\n", base)
	fmt.Fprintf(stdout, "  demo world: %s (agencies, citizen, counter and online service with their tokens)\n", filepath.Join(dataDir, demo.FileName))
	fmt.Fprintf(stdout, "  API:        %s/openapi.json\n", base)
	fmt.Fprintf(stdout, "  try:        go run ./cmd/ezheng demo walk --server %s --data %s\n", world.BaseURL, dataDir)
	return web.Serve(ctx, srv.Echo, ln, 10*time.Second)
}
