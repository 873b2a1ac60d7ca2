package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/wallet"
)

// `ezheng citizen` is a command-line stand-in for the phone app: a reference client of the
// mobile bridge (/bridge/v1). Each subcommand is one or two bridge calls, signed with DPoP by
// the device key kept in the profile file; it prints the bridge's JSON.

// citizenProfileEnv names the profile file when --profile is not given.
const citizenProfileEnv = "EZHENG_CITIZEN_PROFILE"

// citizenProfile is what the phone app keeps: the server, its device key and the access
// token bound to it, a share request waiting for the citizen's consent, and optionally a
// holder key with the credentials bound to it. It is stored as JSON in a file of mode 0600;
// the private keys and the token are secrets.
type citizenProfile struct {
	Server    string          `json:"server"`
	CitizenID string          `json:"citizen_id,omitempty"`
	HolderDID string          `json:"holder_did,omitempty"`
	DeviceID  string          `json:"device_id,omitempty"`
	Token     string          `json:"access_token,omitempty"`
	DeviceKey json.RawMessage `json:"device_key"` // private JWK (P-256)
	// PendingShare is the verified request object of the last share request shown without
	// --yes: `citizen share --yes` (or --decline) answers it.
	PendingShare string `json:"pending_share,omitempty"`
	// HolderKey is the private JWK (P-256) of the holder key this phone keeps (`citizen
	// holder-key register`), never sent; HolderKeyID is its id at the wallet.
	HolderKey   json.RawMessage `json:"holder_key,omitempty"`
	HolderKeyID string          `json:"holder_key_id,omitempty"`
	// Cached are the credentials bound to that key, by id, as `citizen sync` fetched them:
	// what `citizen qr --offline` shows.
	Cached map[string]cachedCredential `json:"cached_credentials,omitempty"`
}

// Authorize signs req as this phone: a DPoP proof of the device key for req's method and URL
// (without query), bound to the access token when there is one. Without a token (enrolment)
// it sends no Authorization header: the proof's key becomes the device.
func (p *citizenProfile) Authorize(req *http.Request, now time.Time) error {
	if p.Token != "" {
		return demo.Citizen{Token: p.Token, DeviceKey: p.DeviceKey}.Authorize(req, now)
	}
	key, err := demo.Citizen{DeviceKey: p.DeviceKey}.DeviceSigner()
	if err != nil {
		return err
	}
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	proof, err := dpop.NewProof(key, req.Method, u.String(), "", "", now, secret.String(16))
	if err != nil {
		return err
	}
	req.Header.Set("DPoP", proof)
	return nil
}

// loadProfile reads the profile in file; an enrolled one (with a token) unless enrolling.
func loadProfile(file string) (*citizenProfile, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no citizen profile at %s: run `ezheng citizen enrol` first, or pass --profile", file)
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s holds a device key and an access token but others may read it (mode %v): chmod 600 it", file, fi.Mode().Perm())
	}
	var p citizenProfile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: not a citizen profile: %w", file, err)
	}
	if p.Server == "" || len(p.DeviceKey) == 0 {
		return nil, fmt.Errorf("%s: not a citizen profile (no server or device key)", file)
	}
	return &p, nil
}

// save writes the profile to file (mode 0600) through a temporary file, so a crash leaves
// the old or the new one.
func (p *citizenProfile) save(file string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".citizen-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// citizenClient is one subcommand's view of the profile: the phone and its HTTP client.
type citizenClient struct {
	file string
	p    *citizenProfile
	hc   *http.Client
}

func (c *citizenClient) url(path string) string { return strings.TrimRight(c.p.Server, "/") + path }

// call makes one bridge call and decodes an answer with one of the wanted statuses into out
// (nil: ignored). It returns the status.
func (c *citizenClient) call(ctx context.Context, method, path string, body, out any, want ...int) (int, error) {
	status, rb, err := bridgeCall(ctx, c.hc, c.p, method, c.url(path), body)
	if err != nil {
		return 0, err
	}
	for _, w := range want {
		if status == w {
			if out != nil && len(rb) > 0 {
				return status, json.Unmarshal(rb, out)
			}
			return status, nil
		}
	}
	return status, bridgeError(method, c.url(path), status, rb)
}

func citizenCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "citizen",
		Short: "Play the citizen's phone app from the command line: enrol, receive, show a QR, share, history",
		Long: `citizen is a small stand-in for the phone app, a reference client of the mobile bridge
(/bridge/v1). It keeps the phone's state — the server URL, a P-256 device key and the access
token bound to it — in a profile file (mode 0600; --profile, default ./citizen.json or
$` + citizenProfileEnv + `), signs every call with a fresh DPoP proof of the device key, and
prints the bridge's answers as JSON.

A day: enrol, receive an offer (its link or a picture of its QR), show a credential at a
counter (qr), share claims with an online service (share), look at the history.

With a holder key on the phone (holder-key register), credentials are received bound to it
(receive --on-device), the phone signs their presentations (qr, share), and sync caches
them so that qr --offline makes the counter QR with no network.`,
	}
	def := getenv(citizenProfileEnv)
	if def == "" {
		def = "citizen.json"
	}
	cmd.PersistentFlags().String("profile", def, "the phone's profile file (device key and access token; mode 0600)")
	cmd.AddCommand(citizenEnrolCmd(stdout), citizenCredentialsCmd(stdout), citizenReceiveCmd(stdout, stderr),
		citizenQRCmd(stdout), citizenShareCmd(stdout, stderr), citizenHistoryCmd(stdout), citizenDevicesCmd(stdout),
		citizenEventsCmd(stdout), citizenHolderKeyCmd(stdout), citizenSyncCmd(stdout))
	return cmd
}

// openCitizen loads the enrolled profile named by cmd's --profile.
func openCitizen(cmd *cobra.Command) (*citizenClient, error) {
	file := getString(cmd.Flags(), "profile")
	p, err := loadProfile(file)
	if err != nil {
		return nil, err
	}
	if p.Token == "" {
		return nil, fmt.Errorf("%s: not enrolled yet: run `ezheng citizen enrol`", file)
	}
	return &citizenClient{file: file, p: p, hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

func citizenEnrolCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enrol --phone P [--name N --id-number I]",
		Short: "Enrol a new citizen (or log in on this new phone) — DEMO SERVER ONLY: reads the one-time code from its dev outbox",
		Long: `enrol makes a new device key, asks the server for a one-time code for the phone number,
reads the code from the demo server's dev outbox (GET /bridge/v1/dev/outbox, which only a
server whose public URL is a loopback http address has: the demo sends no SMS), and enrols
with it (POST /bridge/v1/enrolment, with a DPoP proof of the new key). A new account needs
--name and --id-number (the demo identity check accepts a resident ID number with a right
check digit); for a phone already enrolled it is a login on a new device.

It saves the server, the device key and the access token in the profile (mode 0600) and
prints the account and the device. It refuses to overwrite a profile that is enrolled.`,
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	fs := cmd.Flags()
	fs.String("phone", "", "the citizen's mobile number, e.g. +8613800138000")
	fs.String("name", "", "the citizen's name (a new account)")
	fs.String("id-number", "", "the citizen's resident ID number (a new account)")
	fs.String("device-name", "ezheng citizen CLI", "a name for this device in the citizen's device list")
	cmd.MarkFlagRequired("phone")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, file := cmd.Context(), getString(fs, "profile")
		if _, err := os.Stat(file); err == nil {
			p, err := loadProfile(file)
			if err != nil {
				return err
			}
			if p.Token != "" {
				return fmt.Errorf("%s is already enrolled (citizen %s): use another --profile", file, p.CitizenID)
			}
		}
		_, jwk, err := newDeviceKey()
		if err != nil {
			return err
		}
		c := &citizenClient{file: file, p: &citizenProfile{Server: strings.TrimRight(getString(fs, "server"), "/"), DeviceKey: jwk},
			hc: &http.Client{Timeout: 30 * time.Second}}
		phone := getString(fs, "phone")
		if _, err := c.call(ctx, http.MethodPost, "/bridge/v1/enrolment/code", map[string]string{"phone": phone}, nil, http.StatusAccepted); err != nil {
			return fmt.Errorf("request a code: %w", err)
		}
		code, err := c.outboxCode(ctx, phone)
		if err != nil {
			return err
		}
		var got struct {
			Citizen     json.RawMessage `json:"citizen"`
			Device      json.RawMessage `json:"device"`
			AccessToken string          `json:"access_token"`
			Created     bool            `json:"created"`
		}
		body := map[string]string{"phone": phone, "code": code, "name": getString(fs, "name"),
			"id_number": getString(fs, "id-number"), "device_name": getString(fs, "device-name")}
		if _, err := c.call(ctx, http.MethodPost, "/bridge/v1/enrolment", body, &got, http.StatusCreated); err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
		var ids struct {
			ID        string `json:"id"`
			HolderDID string `json:"holder_did"`
		}
		json.Unmarshal(got.Citizen, &ids)
		var dev struct {
			ID string `json:"id"`
		}
		json.Unmarshal(got.Device, &dev)
		c.p.CitizenID, c.p.HolderDID, c.p.DeviceID, c.p.Token = ids.ID, ids.HolderDID, dev.ID, got.AccessToken
		if err := c.p.save(file); err != nil {
			return fmt.Errorf("save the profile (the account exists; enrol again to log in on a new device): %w", err)
		}
		// The access token stays in the profile; it is not printed.
		return printJSON(stdout, map[string]any{"profile": file, "created": got.Created, "citizen": got.Citizen, "device": got.Device})
	}
	return cmd
}

// outboxCode reads the newest one-time code sent to phone from the demo server's dev outbox.
func (c *citizenClient) outboxCode(ctx context.Context, phone string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/bridge/v1/dev/outbox?phone="+url.QueryEscape(phone)), nil)
	if err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, maxBridgeAnswer))
	if resp.StatusCode == http.StatusNotFound {
		return "", errors.New("the server has no dev outbox (GET /bridge/v1/dev/outbox): only a demo server on a loopback URL shows the one-time codes; `ezheng citizen enrol` works only there")
	}
	if resp.StatusCode != http.StatusOK {
		return "", bridgeError(http.MethodGet, req.URL.String(), resp.StatusCode, rb)
	}
	var box struct {
		Messages []struct {
			Code string `json:"code"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(rb, &box); err != nil {
		return "", fmt.Errorf("dev outbox: %w", err)
	}
	if len(box.Messages) == 0 || box.Messages[0].Code == "" {
		return "", fmt.Errorf("dev outbox: no code for %s", phone)
	}
	return box.Messages[0].Code, nil // newest first
}

func citizenCredentialsCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "credentials", Short: "List the credentials in the wallet (GET /bridge/v1/credentials)", Args: cobra.NoArgs}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return citizenGet(cmd, stdout, "/bridge/v1/credentials")
	}
	return cmd
}

func citizenDevicesCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "devices", Short: "List the citizen's devices; current is this one (GET /bridge/v1/devices)", Args: cobra.NoArgs}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return citizenGet(cmd, stdout, "/bridge/v1/devices")
	}
	return cmd
}

func citizenHistoryCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show the presentation history, newest first: who saw which claims, when, why, with what result (GET /bridge/v1/history)",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().Int("limit", 0, "at most this many records (default: the server's page size)")
	cmd.Flags().Int64("before", 0, "records older than this seq (the previous page's next)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		q := url.Values{}
		if n, _ := cmd.Flags().GetInt("limit"); n != 0 {
			q.Set("limit", strconv.Itoa(n))
		}
		if n, _ := cmd.Flags().GetInt64("before"); n != 0 {
			q.Set("before", strconv.FormatInt(n, 10))
		}
		path := "/bridge/v1/history"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return citizenGet(cmd, stdout, path)
	}
	return cmd
}

// citizenGet prints the JSON answer of one GET bridge call.
func citizenGet(cmd *cobra.Command, stdout io.Writer, path string) error {
	c, err := openCitizen(cmd)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if _, err := c.call(cmd.Context(), http.MethodGet, path, nil, &out, http.StatusOK); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

// readQRFile returns the text of the QR code in a PNG or JPEG file.
func readQRFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	text, err := qr.Decode(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return text, nil
}

// linkOrQR returns the link given as the only argument or read from the QR picture in --qr;
// exactly one of them.
func linkOrQR(cmd *cobra.Command, args []string, what string) (string, error) {
	file := getString(cmd.Flags(), "qr")
	switch {
	case len(args) == 1 && file != "":
		return "", fmt.Errorf("give the %s or --qr FILE, not both", what)
	case len(args) == 1:
		return args[0], nil
	case file != "":
		return readQRFile(file)
	}
	return "", fmt.Errorf("give the %s, or --qr FILE with a picture of its QR code", what)
}

func citizenReceiveCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receive [OFFER_URI] [--qr FILE] [--tx-code CODE]",
		Short: "Redeem an OpenID4VCI credential offer: its openid-credential-offer:// link or a picture of its QR (POST /bridge/v1/offers)",
		Long: `receive hands the bridge a credential offer — the link, or the text of the QR code in --qr
(PNG or JPEG) — with the transaction code the citizen was sent another way. The wallet runs
OpenID4VCI with the issuer, checks the credential and keeps it. It prints {"credentials": …};
for a credential an officer must approve first, {"pending": …} (see GET /bridge/v1/pending).
With --on-device the credential is bound to this phone's holder key: the bridge runs the
offer up to the proof of possession, the phone signs the proof, the bridge finishes.`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.Flags().String("qr", "", "PNG or JPEG of the offer's QR code, instead of OFFER_URI")
	cmd.Flags().String("tx-code", "", "the offer's transaction code (PIN)")
	cmd.Flags().Bool("on-device", false, "bind the credential to this phone's holder key (holder-key register): the phone signs the proof (POST /bridge/v1/device-offers)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		offer, err := linkOrQR(cmd, args, "offer link (openid-credential-offer://…)")
		if err != nil {
			return err
		}
		c, err := openCitizen(cmd)
		if err != nil {
			return err
		}
		var out json.RawMessage
		var status int
		if onDevice, _ := cmd.Flags().GetBool("on-device"); onDevice {
			status, out, err = c.receiveOnDevice(cmd, offer, getString(cmd.Flags(), "tx-code"))
		} else {
			status, err = c.call(cmd.Context(), http.MethodPost, "/bridge/v1/offers",
				map[string]string{"offer_uri": offer, "tx_code": getString(cmd.Flags(), "tx-code")}, &out, http.StatusCreated, http.StatusAccepted)
		}
		if err != nil {
			return err
		}
		if status == http.StatusAccepted {
			fmt.Fprintln(stderr, "the issuance waits for an officer's approval: the wallet collects it later")
		}
		return printJSON(stdout, out)
	}
	return cmd
}

func citizenQRCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "qr CREDENTIAL_ID --disclose a,b,c [--audience COUNTER] [--png FILE] [--offline]",
		Short: "Make the counter QR of a credential with only the claims named (POST /bridge/v1/credentials/{id}/qr)",
		Long: `qr makes the QR the citizen shows at a counter: a holder-bound presentation of the credential
with only the --disclose claims, for the counter --audience, valid for the server's QR
validity (60 s by default). It prints the QR text (the compact EZ1: form unless --plain) and
its QR version; --png writes the picture. For a credential bound to this phone's holder key
the phone signs the key-binding JWT the bridge prepares (POST …/presentations, …/complete).

With --offline the phone makes it alone, with no network: from the credential's text cached
by "sync" and the phone's holder key (only for credentials bound to it). A QR made offline
is not in the wallet's history: the wallet never saw it.`,
		Args: cobra.ExactArgs(1),
	}
	fs := cmd.Flags()
	fs.StringSlice("disclose", nil, "claims to show, comma-separated (e.g. family_name,given_name,licence_class)")
	fs.String("audience", "", "the counter's id (the key-binding JWT's aud); default: the wallet's generic counter audience")
	fs.String("png", "", "write the QR code picture (PNG) to this file")
	fs.Bool("plain", false, "the plain SD-JWT presentation text instead of the compact EZ1: form")
	fs.Bool("offline", false, "make the QR on this phone with its holder key and the credential cached by sync: no network")
	cmd.MarkFlagRequired("disclose")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		disclose, _ := fs.GetStringSlice("disclose")
		if len(disclose) == 0 {
			return errors.New("--disclose: name at least one claim")
		}
		if offline, _ := fs.GetBool("offline"); offline {
			p, err := loadProfile(getString(cmd.Flags(), "profile"))
			if err != nil {
				return err
			}
			plain, _ := fs.GetBool("plain")
			out, png, err := offlineQR(p, args[0], disclose, getString(fs, "audience"), plain, time.Now())
			if err != nil {
				return err
			}
			return writeQROutput(stdout, out, png, getString(fs, "png"))
		}
		c, err := openCitizen(cmd)
		if err != nil {
			return err
		}
		query := ""
		if plain, _ := fs.GetBool("plain"); plain {
			query = "?form=plain"
		}
		body := map[string]any{"disclose": disclose, "audience": getString(fs, "audience")}
		path := "/bridge/v1/credentials/" + url.PathEscape(args[0]) + "/qr" + query
		status, rb, err := bridgeCall(cmd.Context(), c.hc, c.p, http.MethodPost, c.url(path), body)
		if err != nil {
			return err
		}
		var out map[string]any
		switch {
		case status == http.StatusOK:
			err = json.Unmarshal(rb, &out)
		case status == http.StatusConflict && problemType(rb) == "/problems/holder-key-on-device" && c.p.HolderKeyID != "":
			out, err = c.presentOnDevice(cmd, args[0], body, query) // the phone signs the KB-JWT
		default:
			err = bridgeError(http.MethodPost, c.url(path), status, rb)
		}
		if err != nil {
			return err
		}
		png, _ := out["png"].(string)
		delete(out, "png")
		b, err := base64.StdEncoding.DecodeString(png)
		if err != nil {
			return fmt.Errorf("the bridge's PNG: %w", err)
		}
		return writeQROutput(stdout, out, b, getString(fs, "png"))
	}
	return cmd
}

func citizenShareCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "share [OPENID4VP_URI] [--qr FILE] [--yes | --decline]",
		Short: "Answer an online service's OpenID4VP request: show who asks for what, share on --yes (POST /bridge/v1/share-requests)",
		Long: `share opens an OpenID4VP request — the openid4vp:// link, or the text of the QR in --qr — and
prints the consent view: the verifier as the wallet verified it, its purpose, and which of
the citizen's credentials and claims would answer. With --yes it then shares those claims
(and prints what was shared); with --decline it tells the verifier no.

A request can be opened only once, so without --yes or --decline the verified request is
kept in the profile: "ezheng citizen share --yes" (or --decline), with no link, answers it.
A credential bound to this phone's holder key is shared in two steps: the bridge hands the
key-binding JWT to sign (aud the verifier, nonce the request's), the phone signs it.`,
		Args: cobra.MaximumNArgs(1),
	}
	fs := cmd.Flags()
	fs.String("qr", "", "PNG or JPEG of the request's QR code, instead of OPENID4VP_URI")
	fs.Bool("yes", false, "consent: share the claims shown")
	fs.Bool("decline", false, "decline: tell the verifier the citizen said no")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		yes, _ := fs.GetBool("yes")
		decline, _ := fs.GetBool("decline")
		if yes && decline {
			return errors.New("--yes and --decline exclude each other")
		}
		c, err := openCitizen(cmd)
		if err != nil {
			return err
		}
		var view map[string]any
		request := c.p.PendingShare
		if len(args) == 1 || getString(fs, "qr") != "" {
			link, err := linkOrQR(cmd, args, "request link (openid4vp://…)")
			if err != nil {
				return err
			}
			if _, err := c.call(ctx, http.MethodPost, "/bridge/v1/share-requests", map[string]string{"uri": link}, &view, http.StatusOK); err != nil {
				return err
			}
			request, _ = view["request"].(string)
			delete(view, "request") // the signed request object: long, and only for the wallet
		} else if !yes && !decline {
			return errors.New("give the request link (openid4vp://…), or --qr FILE with a picture of its QR code")
		} else if request == "" {
			return fmt.Errorf("%s holds no request waiting for an answer: give the request link", c.file)
		}
		answered := func() error {
			c.p.PendingShare = ""
			return c.p.save(c.file)
		}
		switch {
		case yes:
			var res map[string]any
			status, rb, err := bridgeCall(ctx, c.hc, c.p, http.MethodPost, c.url("/bridge/v1/share-requests/consent"), map[string]string{"request": request})
			switch {
			case err != nil:
				return err
			case status == http.StatusOK:
				err = json.Unmarshal(rb, &res)
			case status == http.StatusAccepted: // a credential bound to this phone's holder key: sign its KB-JWT
				var sign wallet.ShareSigning
				if err = json.Unmarshal(rb, &sign); err == nil {
					res, err = c.signShare(cmd, sign)
				}
			default:
				err = bridgeError(http.MethodPost, c.url("/bridge/v1/share-requests/consent"), status, rb)
			}
			if err != nil {
				return err
			}
			if err := answered(); err != nil {
				return err
			}
			if res == nil {
				res = map[string]any{}
			}
			if view != nil {
				res["request"] = view // what the citizen consented to
			}
			return printJSON(stdout, res)
		case decline:
			if _, err := c.call(ctx, http.MethodPost, "/bridge/v1/share-requests/decline", map[string]string{"request": request}, nil, http.StatusNoContent); err != nil {
				return err
			}
			if err := answered(); err != nil {
				return err
			}
			return printJSON(stdout, map[string]any{"declined": true})
		}
		c.p.PendingShare = request
		if err := c.p.save(c.file); err != nil {
			return err
		}
		if err := printJSON(stdout, view); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "nothing shared yet: `ezheng citizen share --yes` shares this, `--decline` says no")
		return nil
	}
	return cmd
}

func citizenEventsCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events --for DURATION",
		Short: "Listen to the phone's notifications (GET /bridge/v1/events) for a while; one JSON line per event",
		Long: `events opens the server-sent-events stream of the citizen's notifications — offer, request,
credential-status, credential-expiring — and prints each event's data as one JSON line,
until --for has passed. --after N first replays the stored events after id N (0: all kept).`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.Duration("for", 10*time.Second, "how long to listen")
	fs.Int64("after", -1, "replay stored events after this id first (0: every stored event; default: only new ones)")
	fs.String("lang", "", "language of the notices (Accept-Language), e.g. zh-CN or en")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		d, _ := fs.GetDuration("for")
		if d <= 0 {
			return errors.New("--for must be a positive duration, e.g. 5s")
		}
		c, err := openCitizen(cmd)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), d)
		defer cancel()
		req, err := newBridgeRequest(ctx, c.p, http.MethodGet, c.url("/bridge/v1/events"), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		if after, _ := fs.GetInt64("after"); after >= 0 {
			req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
		}
		if lang := getString(fs, "lang"); lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := (&http.Client{}).Do(req) // no client timeout: the context bounds the stream
		if err != nil {
			if ctx.Err() != nil && cmd.Context().Err() == nil {
				return nil // --for passed before the server answered
			}
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			rb, _ := io.ReadAll(io.LimitReader(resp.Body, maxBridgeAnswer))
			return bridgeError(http.MethodGet, req.URL.String(), resp.StatusCode, rb)
		}
		err = printEvents(resp.Body, stdout)
		if ctx.Err() != nil && cmd.Context().Err() == nil {
			return nil // --for has passed: the normal end
		}
		return err
	}
	return cmd
}

// printEvents reads a text/event-stream and writes each event's data as one line; it
// returns at the end of the stream or at an "event: shutdown".
func printEvents(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var name string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if name == "shutdown" {
				return nil
			}
			if len(data) > 0 {
				if _, err := fmt.Fprintln(w, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			name, data = "", nil
		case strings.HasPrefix(line, ":"): // a comment: heartbeat
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	return sc.Err()
}
