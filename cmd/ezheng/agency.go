package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// agencyCmd is `ezheng issuer agency`: the agency's own record and key rotation, over HTTP
// with the agency's token.
func agencyCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "agency", Short: "The agency the token belongs to: show it, rotate its signing key"}
	show := &cobra.Command{Use: "show", Short: "Print the agency (id, name, DID, kid, types)", Args: cobra.NoArgs}
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Rotate the agency's signing key (and update key) through a ledger update of its DID",
		Long: "rotate-key has the server replace the agency's signing key #key-N with a new key #key-(N+1) and its\n" +
			"update key, in one ledger update of the agency's did:ez. Credentials signed before stay verifiable:\n" +
			"verifiers resolve the key the agency had at a credential's issuance time. It prints the agency with its\n" +
			"new kid.",
		Args: cobra.NoArgs,
	}
	for _, c := range []*cobra.Command{show, rotate} {
		serverFlag(c)
		c.Flags().String("token", "", "the agency's API token")
		c.MarkFlagRequired("token")
	}
	show.RunE = func(cmd *cobra.Command, _ []string) error {
		return agencyRequest(cmd.Context(), stdout, http.MethodGet, getString(cmd.Flags(), "server"), "/issuer/v1/agency", getString(cmd.Flags(), "token"))
	}
	rotate.RunE = func(cmd *cobra.Command, _ []string) error {
		return agencyRequest(cmd.Context(), stdout, http.MethodPost, getString(cmd.Flags(), "server"), "/issuer/v1/agency/keys/rotate", getString(cmd.Flags(), "token"))
	}
	cmd.AddCommand(show, rotate)
	return cmd
}

// agencyRequest sends an agency-authenticated request without a body and prints the JSON
// answer, or returns the problem the server sent.
func agencyRequest(ctx context.Context, stdout io.Writer, method, server, path, token string) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(server, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var p struct{ Type, Detail string }
		json.Unmarshal(rb, &p)
		return fmt.Errorf("%s %s: HTTP %d %s: %s", method, path, resp.StatusCode, p.Type, p.Detail)
	}
	var v any
	if err := json.Unmarshal(rb, &v); err != nil {
		return err
	}
	return printJSON(stdout, v)
}
