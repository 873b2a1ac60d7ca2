// Command ezheng runs the ezheng electronic-licence and digital-identity system: `ezheng
// serve` starts every component in one process with an embedded SQLite ledger and a demo
// world; the other subcommands talk to a running server.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ezheng:", err)
		os.Exit(1)
	}
}

// run executes the command line args. getenv supplies the environment (os.Getenv in main, a
// map in tests), so nothing below reads the process environment directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	root := &cobra.Command{
		Use:           "ezheng",
		Short:         "Electronic licences and digital identity: issuer, wallet, verifier and DID ledger",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(stdout, stderr, getenv), demoCmd(stdout, getenv), didCmd(stdout), ledgerCmd(stdout, getenv), addStatusCmds(issuerCmd(stdout), stdout), benchCmd(stdout, getenv),
		verifierCmd(stdout), verifyCmd(stdout, stderr, getenv), citizenCmd(stdout, stderr, getenv))
	return root.ExecuteContext(ctx)
}
