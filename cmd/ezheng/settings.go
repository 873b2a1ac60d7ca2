package main

import (
	"time"

	"github.com/spf13/pflag"
)

// setting is one configuration value: its flag, its environment variable and its default.
// Flag help and the README's configuration table both come from this table.
type setting struct {
	flag, env, def, help string
}

var settings = []setting{
	{"addr", "EZHENG_ADDR", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)"},
	{"data", "EZHENG_DATA", "./ezheng-data", "data directory: one SQLite file per component, the master key file, demo.json"},
	{"log-level", "EZHENG_LOG_LEVEL", "info", "log level: debug, info, warn or error"},
	{"qr-validity", "EZHENG_QR_VALIDITY", "60s", "how long a counter QR stays valid, and how old a scanned one may be (30s to 60s suits a counter: the app shows a fresh QR before then)"},
	{"public-url", "EZHENG_PUBLIC_URL", "", "the URL clients reach this server at (credential issuer id, status list URLs); default http://<addr>"},
	{"ledger-origin", "EZHENG_LEDGER_ORIGIN", "ezheng.local/ledger", "the ledger's name in its checkpoints (used when the ledger is created)"},
	{"policies", "EZHENG_POLICIES", "", "directory of verification policy files (YAML/JSON) added to the built-in ones"},
	{"credential-watch", "EZHENG_CREDENTIAL_WATCH", "10m", "how often the wallet checks its credentials' status lists and expiry, notifying citizens' apps of changes (0 never)"},
}

// masterKeyEnv holds the base64 master key; when unset a key file in the data dir is used.
const masterKeyEnv = "EZHENG_MASTER_KEY"

// addSettings defines the named settings as flags on fs, defaulting to the environment.
func addSettings(fs *pflag.FlagSet, getenv func(string) string, names ...string) {
	for _, s := range settings {
		for _, n := range names {
			if n != s.flag {
				continue
			}
			def := s.def
			if v := getenv(s.env); v != "" {
				def = v
			}
			fs.String(s.flag, def, s.help+" (env "+s.env+")")
		}
	}
}

func getString(fs *pflag.FlagSet, name string) string {
	v, _ := fs.GetString(name)
	return v
}

func getDuration(fs *pflag.FlagSet, name string) (time.Duration, error) {
	return time.ParseDuration(getString(fs, name))
}
