package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/issuer"
)

// addStatusCmds adds `revoke`, `suspend` and `reinstate` to the issuer command.
func addStatusCmds(issuerCmd *cobra.Command, stdout io.Writer) *cobra.Command {
	for _, action := range []struct{ name, short string }{
		{issuer.ActionRevoke, "Revoke a credential for good (its status list is re-signed and anchored)"},
		{issuer.ActionSuspend, "Suspend a credential until it is reinstated"},
		{issuer.ActionReinstate, "Reinstate a suspended credential"},
	} {
		cmd := &cobra.Command{
			Use:   action.name + " CREDENTIAL_ID",
			Short: action.short,
			Long: action.short + ".\nIt prints the server's answer: {status, list, idx, changed_at}. Reasons are RFC 5280 CRLReason names:\n  " +
				strings.Join(issuer.Reasons, ", "),
			Args: cobra.ExactArgs(1),
		}
		serverFlag(cmd)
		cmd.Flags().String("token", "", "the agency's API token")
		cmd.Flags().String("reason", "unspecified", "reason code (RFC 5280 CRLReason name)")
		cmd.Flags().String("note", "", "note for the audit trail (no personal data)")
		cmd.MarkFlagRequired("token")
		name := action.name
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			body, _ := json.Marshal(map[string]string{"action": name, "reason": getString(fs, "reason"), "note": getString(fs, "note")})
			u := strings.TrimSuffix(getString(fs, "server"), "/") + "/issuer/v1/credentials/" + url.PathEscape(args[0]) + "/status"
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, u, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+getString(fs, "token"))
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode != http.StatusOK {
				var p struct{ Type, Detail string }
				json.Unmarshal(rb, &p)
				return fmt.Errorf("%s: HTTP %d %s: %s", name, resp.StatusCode, p.Type, p.Detail)
			}
			var v any
			if err := json.Unmarshal(rb, &v); err != nil {
				return err
			}
			return printJSON(stdout, v)
		}
		issuerCmd.AddCommand(cmd)
	}
	return issuerCmd
}
