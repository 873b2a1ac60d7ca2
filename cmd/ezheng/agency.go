package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// agencyCmd is `ezheng issuer agency`: the agency's own record, key rotation and OAuth
// clients over HTTP with the agency's token, and (with the root authority's token) adding and
// listing agencies.
func agencyCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "agency", Short: "Agencies: add, list and accredit them (root authority); show, rotate the key of, and manage OAuth clients of the token's agency"}
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
		return agencyRequest(cmd.Context(), stdout, http.MethodGet, getString(cmd.Flags(), "server"), "/issuer/v1/agency", getString(cmd.Flags(), "token"), nil)
	}
	rotate.RunE = func(cmd *cobra.Command, _ []string) error {
		return agencyRequest(cmd.Context(), stdout, http.MethodPost, getString(cmd.Flags(), "server"), "/issuer/v1/agency/keys/rotate", getString(cmd.Flags(), "token"), nil)
	}
	cmd.AddCommand(show, rotate, agencyAddCmd(stdout), agencyListCmd(stdout), agencyAccreditCmd(stdout), agencyClientCmd(stdout))
	return cmd
}

// agencyAddCmd is `ezheng issuer agency add`: the root authority adds an agency.
func agencyAddCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add an agency (root authority): its did:ez, its ledger accreditation, its first API token",
		Long: "add has the server create an agency with a new did:ez on the ledger, have the root authority accredit it\n" +
			"on the ledger for the given credential types, and mint its first API token. It prints {agency, token}:\n" +
			"the token is shown only this once. --token is the root authority's token (demo.json: root_authority.token).",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the root authority's API token")
	cmd.Flags().String("name", "", "the agency's name (unique)")
	cmd.Flags().StringArray("type", nil, "a credential type the agency issues (repeat for several; see `ezheng issuer type list`)")
	cmd.Flags().Int("valid-days", 0, "how long the accreditation lasts, in days (default 365)")
	for _, f := range []string{"token", "name", "type"} {
		cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		types, _ := fs.GetStringArray("type")
		days, _ := fs.GetInt("valid-days")
		body, err := json.Marshal(map[string]any{"name": getString(fs, "name"), "types": types, "valid_days": days})
		if err != nil {
			return err
		}
		return agencyRequest(cmd.Context(), stdout, http.MethodPost, getString(fs, "server"), "/issuer/v1/agencies", getString(fs, "token"), body)
	}
	return cmd
}

// agencyListCmd is `ezheng issuer agency list`: the root authority lists the agencies.
func agencyListCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the agencies and the types the ledger accredits each for now (root authority)", Args: cobra.NoArgs}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the root authority's API token")
	cmd.MarkFlagRequired("token")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return agencyRequest(cmd.Context(), stdout, http.MethodGet, getString(cmd.Flags(), "server"), "/issuer/v1/agencies", getString(cmd.Flags(), "token"), nil)
	}
	return cmd
}

// agencyAccreditCmd is `ezheng issuer agency accredit`: the root authority accredits an
// agency on the ledger for more types, such as one the agency added itself.
func agencyAccreditCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accredit AGENCY_ID",
		Short: "Accredit an agency on the ledger for more credential types, its own included (root authority)",
		Args:  cobra.ExactArgs(1),
	}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the root authority's API token")
	cmd.Flags().StringArray("type", nil, "a credential type the agency sees (built in or its own; repeat for several)")
	cmd.Flags().Int("valid-days", 0, "how long the accreditation lasts, in days (default 365)")
	for _, f := range []string{"token", "type"} {
		cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		types, _ := fs.GetStringArray("type")
		days, _ := fs.GetInt("valid-days")
		body, err := json.Marshal(map[string]any{"types": types, "valid_days": days})
		if err != nil {
			return err
		}
		if err := agencyRequest(cmd.Context(), stdout, http.MethodPost, getString(fs, "server"), "/issuer/v1/agencies/"+url.PathEscape(args[0])+"/accreditations", getString(fs, "token"), body); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "accredited %s for %s\n", args[0], strings.Join(types, ", "))
		return nil
	}
	return cmd
}

// agencyClientCmd is `ezheng issuer agency client`: the agency's OAuth 2.0 clients.
func agencyClientCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "The agency's OAuth 2.0 clients (client credentials grant at POST /oauth/token)",
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an OAuth client; prints {client_id, client_secret} (the secret is shown only once)",
		Args:  cobra.NoArgs,
	}
	del := &cobra.Command{Use: "delete CLIENT_ID", Short: "Revoke an OAuth client and every access token it got", Args: cobra.ExactArgs(1)}
	for _, c := range []*cobra.Command{create, del} {
		serverFlag(c)
		c.Flags().String("token", "", "the agency's API token")
		c.MarkFlagRequired("token")
	}
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		return agencyRequest(cmd.Context(), stdout, http.MethodPost, getString(cmd.Flags(), "server"), "/issuer/v1/agency/clients", getString(cmd.Flags(), "token"), nil)
	}
	del.RunE = func(cmd *cobra.Command, args []string) error {
		return agencyRequest(cmd.Context(), stdout, http.MethodDelete, getString(cmd.Flags(), "server"), "/issuer/v1/agency/clients/"+url.PathEscape(args[0]), getString(cmd.Flags(), "token"), nil)
	}
	cmd.AddCommand(create, del)
	return cmd
}

// agencyRequest sends an agency-authenticated request with an optional JSON body and prints
// the JSON answer (nothing for 204 No Content), or returns the problem the server sent.
func agencyRequest(ctx context.Context, stdout io.Writer, method, server, path, token string, body []byte) error {
	return agencySend(ctx, stdout, method, server, path, token, "application/json", body)
}

// agencySend is agencyRequest with a body of media type ctype.
func agencySend(ctx context.Context, stdout io.Writer, method, server, path, token, ctype string, body []byte) error {
	var v any
	err := agencyCall(ctx, method, server, path, token, ctype, body, &v)
	if err != nil || v == nil {
		return err
	}
	return printJSON(stdout, v)
}

// agencyGet GETs path with the agency's token and decodes the JSON answer into out.
func agencyGet(ctx context.Context, server, path, token string, out any) error {
	return agencyCall(ctx, http.MethodGet, server, path, token, "", nil, out)
}

// agencyCall sends an agency-authenticated request and decodes the JSON answer into out
// (left alone for 204 No Content), or returns the problem the server sent, with every field
// error it lists.
func agencyCall(ctx context.Context, method, server, path, token, ctype string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var p struct {
			Type, Detail string
			Errors       []struct{ Field, Detail string }
		}
		json.Unmarshal(rb, &p)
		msg := fmt.Sprintf("%s %s: HTTP %d %s: %s", method, path, resp.StatusCode, p.Type, p.Detail)
		for _, fe := range p.Errors {
			msg += fmt.Sprintf("\n  %s: %s", fe.Field, fe.Detail)
		}
		return errors.New(msg)
	}
	return json.Unmarshal(rb, out)
}
