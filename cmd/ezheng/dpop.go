package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/secret"
)

// demoDPoPCmd prints a DPoP proof (RFC 9449) for one bridge call, so the bridge can be used
// with curl: by default as the demo citizen's phone (device key and token from demo.json),
// or with a device key file of your own (made on first use) for enrolling a new citizen.
func demoDPoPCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dpop METHOD URL",
		Short: "Print a DPoP proof for one bridge call (header DPoP), signed with the demo phone's device key or --key",
		Long: `Print a DPoP proof for one bridge call. Send it as the DPoP header, with
"Authorization: DPoP <token>". A proof is good for one call, within 60 s.

Without --key it signs with the demo citizen's device key and binds the demo citizen's
token (demo.json). With --key FILE it signs with the private JWK in FILE, creating a new
P-256 key there (mode 0600) if FILE does not exist, and binds --token if given: use it to
enrol a new citizen (no token) and for that citizen's calls afterwards.`,
		Args: cobra.ExactArgs(2),
	}
	addSettings(cmd.Flags(), getenv, "data")
	cmd.Flags().String("key", "", "device key file (private JWK); created if missing")
	cmd.Flags().String("token", "", "access token to bind (ath); default: the demo citizen's without --key, none with --key")
	cmd.Flags().String("nonce", "", "server nonce (from a DPoP-Nonce response header)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		method, url := strings.ToUpper(args[0]), args[1]
		token, _ := fs.GetString("token")
		nonce, _ := fs.GetString("nonce")
		keyFile, _ := fs.GetString("key")
		var key crypto.Signer
		if keyFile == "" {
			w, err := demo.Load(filepath.Join(getString(fs, "data"), demo.FileName))
			if err != nil {
				return fmt.Errorf("read the demo world: %w", err)
			}
			if key, err = w.Citizen.DeviceSigner(); err != nil {
				return err
			}
			if !fs.Changed("token") {
				token = w.Citizen.Token
			}
		} else {
			var err error
			if key, err = loadOrMakeDeviceKey(keyFile); err != nil {
				return err
			}
		}
		if i := strings.IndexAny(url, "?#"); i >= 0 {
			url = url[:i]
		}
		p, err := dpop.NewProof(key, method, url, token, nonce, time.Now(), secret.String(16))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, p)
		return err
	}
	return cmd
}

// loadOrMakeDeviceKey reads a private JWK, or makes a P-256 one and writes it (0600).
func loadOrMakeDeviceKey(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		k, jwk, err := newDeviceKey()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, append(jwk, '\n'), 0o600); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	return demo.Citizen{DeviceKey: b}.DeviceSigner()
}

// newDeviceKey makes a P-256 device key, as a phone makes one in its secure hardware, and
// returns it with its private JWK.
func newDeviceKey() (crypto.Signer, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	jwk, err := jose.JSONWebKey{Key: k, Algorithm: "ES256"}.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	return k, jwk, nil
}
