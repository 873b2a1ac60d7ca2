package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/issuer/credtype"
)

func issuerCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "issuer", Short: "Agencies' tools: credential types"}
	types := &cobra.Command{Use: "type", Short: "The credential types this issuer knows"}
	list := &cobra.Command{Use: "list", Short: "List the credential types", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tVCT\tVALIDITY\tAPPROVAL\tFORMATS\tNAME (zh-CN)")
			for _, t := range credtype.Builtin().All() {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.VCT, t.Validity, t.Approval, strings.Join(t.Formats, ","), displayName(t, "zh-CN"))
			}
			return w.Flush()
		}}
	show := &cobra.Command{Use: "show TYPE", Short: "Print a type's metadata (SD-JWT VC type metadata), or with --example a valid example claims JSON", Args: cobra.ExactArgs(1)}
	show.Flags().Bool("example", false, "print a valid example of the type's claims instead")
	show.RunE = func(cmd *cobra.Command, args []string) error {
		t, err := credtype.Builtin().Lookup(args[0])
		if err != nil {
			return err
		}
		if ex, _ := cmd.Flags().GetBool("example"); ex {
			return printJSON(stdout, t.Example())
		}
		return printJSON(stdout, t.TypeMetadata())
	}
	types.AddCommand(list, show)
	cmd.AddCommand(types, offerCmd(stdout))
	cmd.AddCommand(agencyCmd(stdout))
	cmd.AddCommand(bulkCmd(stdout))
	return cmd
}

func offerCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offer",
		Short: "Make an OpenID4VCI credential offer (deep link + QR + transaction code) for a citizen's wallet",
		Long: "offer asks the server for a pre-authorized credential offer of TYPE with the claims in FILE. It prints\n" +
			"{\"offer_uri\", \"tx_code\", \"qr_png\"}: show the QR or send the link to the citizen, and the code by\n" +
			"another channel. Any OpenID4VCI 1.0 wallet can redeem it.",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the agency's API token")
	cmd.Flags().String("type", "", "credential type, e.g. DrivingLicence (see `ezheng issuer type list`)")
	cmd.Flags().String("claims", "", "JSON file with the claims (`ezheng issuer type show TYPE --example` prints one)")
	cmd.Flags().Bool("no-tx-code", false, "make an offer without a transaction code")
	cmd.Flags().String("qr-png", "", "where to write the QR image (default: a file in the temporary directory)")
	for _, f := range []string{"token", "type", "claims"} {
		cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		b, err := os.ReadFile(getString(fs, "claims"))
		if err != nil {
			return err
		}
		var claims map[string]any
		if err := json.Unmarshal(b, &claims); err != nil {
			return fmt.Errorf("%s: %w", getString(fs, "claims"), err)
		}
		noTx, _ := fs.GetBool("no-tx-code")
		body, _ := json.Marshal(map[string]any{"type": getString(fs, "type"), "claims": claims, "tx_code": !noTx})
		req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, getString(fs, "server")+"/issuer/v1/offers", bytes.NewReader(body))
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
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("offer: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(rb)))
		}
		var o struct {
			ID     string `json:"offer_id"`
			URI    string `json:"offer_uri"`
			TxCode string `json:"tx_code"`
			PNG    string `json:"qr_png"`
		}
		if err := json.Unmarshal(rb, &o); err != nil {
			return err
		}
		png, err := base64.StdEncoding.DecodeString(o.PNG)
		if err != nil {
			return err
		}
		file := getString(fs, "qr-png")
		if file == "" {
			file = filepath.Join(os.TempDir(), "ezheng-offer-"+o.ID+".png")
		}
		if err := os.WriteFile(file, png, 0o644); err != nil {
			return err
		}
		return printJSON(stdout, map[string]string{"offer_uri": o.URI, "tx_code": o.TxCode, "qr_png": file})
	}
	return cmd
}

func displayName(t *credtype.Type, lang string) string {
	for _, d := range t.Display {
		if d.Lang == lang {
			return d.Name
		}
	}
	return ""
}
