package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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
	cmd.AddCommand(types)
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
