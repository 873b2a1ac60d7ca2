package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/demo"
)

func demoCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "demo", Short: "Demo world helpers"}
	walk := &cobra.Command{
		Use:   "walk",
		Short: "Issue a driving licence, put it in the demo wallet, make the counter QR and verify it, all over HTTP",
		Args:  cobra.NoArgs,
	}
	addSettings(walk.Flags(), getenv, "data")
	walk.Flags().String("server", "", "base URL of a running ezheng server (default: the one in demo.json)")
	walk.Flags().String("qr-png", "", "where to write the counter QR image (default: <data>/walk-qr.png)")
	walk.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		dataDir := getString(fs, "data")
		w, err := demo.Load(filepath.Join(dataDir, demo.FileName))
		if err != nil {
			return fmt.Errorf("read the demo world (start `ezheng serve --data %s` first): %w", dataDir, err)
		}
		server := getString(fs, "server")
		if server == "" {
			server = w.BaseURL
		}
		png := getString(fs, "qr-png")
		if png == "" {
			png = filepath.Join(dataDir, "walk-qr.png")
		}
		if png, err = filepath.Abs(png); err != nil {
			return err
		}
		res, err := demo.Walk(cmd.Context(), &http.Client{Timeout: 30 * time.Second}, server, w, png)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	}
	cmd.AddCommand(walk)
	cmd.AddCommand(demoDPoPCmd(stdout, getenv))
	cmd.AddCommand(demoHolderProofCmd(stdout, getenv), demoSignCmd(stdout)) // holder keys on the phone: holderkey.go
	return cmd
}
