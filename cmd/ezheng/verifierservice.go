package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

// verifierServiceCmd is `ezheng verifier service`: the root authority registers the online
// services that create OpenID4VP requests and manages their API tokens, over HTTP.
func verifierServiceCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Online services that ask citizens for claims (OpenID4VP): add, list, and their API tokens (root authority)",
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register an online service; prints {service, token_id, token} (the token is shown only once)",
		Long: "add registers an online service under NAME, the name the citizen's wallet shows as the requester, and mints\n" +
			"its first API token. The service sends it as \"Authorization: Bearer <token>\" to create OpenID4VP requests\n" +
			"and to read its own sessions. --token is the root authority's token (demo.json: root_authority.token).",
		Args: cobra.ExactArgs(1),
	}
	list := &cobra.Command{Use: "list", Short: "List the online services with their tokens' ids (never the tokens)", Args: cobra.NoArgs}
	tok := &cobra.Command{Use: "token", Short: "Create and revoke a service's API tokens"}
	create := &cobra.Command{
		Use:   "create SERVICE_ID",
		Short: "Mint another API token for a service; prints {token_id, token} (the token is shown only once)",
		Args:  cobra.ExactArgs(1),
	}
	revoke := &cobra.Command{Use: "revoke SERVICE_ID TOKEN_ID", Short: "Revoke a service's API token at once", Args: cobra.ExactArgs(2)}
	for _, c := range []*cobra.Command{add, list, create, revoke} {
		serverFlag(c)
		c.Flags().String("token", "", "the root authority's API token")
		c.MarkFlagRequired("token")
	}
	call := func(cmd *cobra.Command, method, path string, body []byte) error {
		fs := cmd.Flags()
		return agencyRequest(cmd.Context(), stdout, method, getString(fs, "server"), path, getString(fs, "token"), body)
	}
	add.RunE = func(cmd *cobra.Command, args []string) error {
		body, err := json.Marshal(map[string]string{"name": args[0]})
		if err != nil {
			return err
		}
		return call(cmd, http.MethodPost, "/verifier/v1/services", body)
	}
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		return call(cmd, http.MethodGet, "/verifier/v1/services", nil)
	}
	create.RunE = func(cmd *cobra.Command, args []string) error {
		return call(cmd, http.MethodPost, "/verifier/v1/services/"+url.PathEscape(args[0])+"/tokens", nil)
	}
	revoke.RunE = func(cmd *cobra.Command, args []string) error {
		if err := call(cmd, http.MethodDelete, "/verifier/v1/services/"+url.PathEscape(args[0])+"/tokens/"+url.PathEscape(args[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s of %s\n", args[1], args[0])
		return nil
	}
	tok.AddCommand(create, revoke)
	cmd.AddCommand(add, list, tok)
	return cmd
}
