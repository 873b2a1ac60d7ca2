package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/verifier"
)

// presentAt is present with the key-binding JWT made at kbAt.
func (w *world) presentAt(issued string, keep []string, holder *ecdsa.PrivateKey, kbAt time.Time) string {
	signer, err := sdjwt.NewSigner(holder, sdjwt.TypeKB, "")
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := sdjwt.Present(issued, keep, signer, counterAud, "n-0123456789", kbAt)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// TestPolicies: the built-in traffic police policy's rules, QR age, offline bundle age
// (refused or flagged) and offline-only skips, each reported by rule name.
func TestPolicies(t *testing.T) {
	w := newWorld(t)
	s := w.service(nil)
	issued := w.sdJWT(w.key1, "#key-1", tIssue)
	name := []string{"family_name", "given_name", "licence_class"}
	withPhoto := append(slices.Clone(name), "photo")
	fresh := tNow.Add(-5 * time.Second)
	hoursAgo := func(h int) *verifier.SourceInfo {
		at := tNow.Add(-time.Duration(h) * time.Hour)
		return &verifier.SourceInfo{Mode: verifier.SourceOffline, Bundle: "b-test", BundleIssuedAt: &at}
	}
	tests := []struct {
		name     string
		text     string
		policy   string
		offline  *verifier.SourceInfo
		want     []string // failed checks
		rules    []string // failed policy rules
		warnings int
	}{
		{name: "traffic police: name, class and photo", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "traffic-police-counter"},
		{name: "traffic police: no photo", text: w.presentAt(issued, name, w.holder, fresh), policy: "traffic-police-counter",
			want: []string{"policy"}, rules: []string{verifier.RuleDisclose}},
		// Ages allow the 30 s clock skew on top of the limit.
		{name: "traffic police: QR 100 s old is within its 90 s", text: w.presentAt(issued, withPhoto, w.holder, tNow.Add(-100*time.Second)), policy: "traffic-police-counter"},
		{name: "default: QR 100 s old is past the server's 60 s", text: w.presentAt(issued, withPhoto, w.holder, tNow.Add(-100*time.Second)),
			want: []string{"holder_binding"}},
		{name: "traffic police: QR 130 s old", text: w.presentAt(issued, withPhoto, w.holder, tNow.Add(-130*time.Second)), policy: "traffic-police-counter",
			want: []string{"holder_binding"}},
		{name: "traffic police: a JWT-VC is not an accepted format", text: w.vcJWT(true, w.key1, "#key-1", tIssue, validIdx), policy: "traffic-police-counter",
			want: []string{"holder_binding", "policy"}, rules: []string{verifier.RuleFormats}},
		{name: "health gate: a driving licence", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "health-code-gate",
			want: []string{"policy"}, rules: []string{verifier.RuleTypes, verifier.RuleDisclose}},
		{name: "offline: bundle 2 h old", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "traffic-police-counter", offline: hoursAgo(2)},
		{name: "offline: bundle 30 h old is refused", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "traffic-police-counter", offline: hoursAgo(30),
			want: []string{"policy"}, rules: []string{verifier.RuleMaxBundleAge}},
		{name: "offline: bundle of unknown age is refused", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "offline-counter",
			offline: &verifier.SourceInfo{Mode: verifier.SourceOffline}, want: []string{"policy"}, rules: []string{verifier.RuleMaxBundleAge}},
		{name: "offline: a stale bundle is flagged by the health gate", text: w.presentAt(issued, []string{"licence_class"}, w.holder, fresh), policy: "offline-flag",
			offline: hoursAgo(30), want: []string{"anchor"}, warnings: 1},
		{name: "offline: anchor may be skipped offline only", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "offline-counter", offline: hoursAgo(1)},
		{name: "online: the same policy requires the anchor", text: w.presentAt(issued, withPhoto, w.holder, fresh), policy: "offline-counter",
			want: []string{"anchor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.offline = tt.offline
			defer func() { w.offline = nil }()
			res := verify(t, s, tt.text, tt.policy, nil)
			if got := res.Failed(); !slices.Equal(got, tt.want) {
				t.Fatalf("failed = %q, want %q%s", got, tt.want, explain(res))
			}
			if res.Valid != (len(tt.want) == 0) {
				t.Fatalf("valid = %v%s", res.Valid, explain(res))
			}
			c, _ := res.Check(verifier.CheckPolicy)
			if !slices.Equal(c.Rules, tt.rules) {
				t.Errorf("rules = %q, want %q (%s)", c.Rules, tt.rules, c.Reason)
			}
			for _, r := range tt.rules {
				if !strings.Contains(c.Reason, r) {
					t.Errorf("reason %q does not name rule %s", c.Reason, r)
				}
			}
			if len(res.Warnings) != tt.warnings {
				t.Errorf("warnings = %q", res.Warnings)
			}
			wantPolicy := tt.policy
			if wantPolicy == "" {
				wantPolicy = verifier.DefaultPolicy
			}
			if res.Policy != wantPolicy {
				t.Errorf("policy = %q, want %q", res.Policy, wantPolicy)
			}
			if tt.offline != nil {
				if res.Source.Mode != verifier.SourceOffline || (tt.offline.BundleIssuedAt != nil && res.Source.BundleAgeSeconds != int64(tNow.Sub(*tt.offline.BundleIssuedAt)/time.Second)) {
					t.Errorf("source = %+v", res.Source)
				}
			}
		})
	}
	if _, err := s.Verify(context.Background(), w.presentAt(issued, name, w.holder, fresh), verifier.Options{Policy: "no-such-policy"}); !errors.Is(err, verifier.ErrUnknownPolicy) {
		t.Errorf("unknown policy: err = %v", err)
	}
}

// TestParsePolicy: policy files are strict.
func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name, file, body string
		wantErr          string
	}{
		{"yaml", "p.yaml", "name: p\ntypes: [DrivingLicence]\nmax_qr_age: 90s\nmay_skip: [anchor]\n", ""},
		{"json", "p.json", `{"name":"p","formats":["vc+jwt"],"max_bundle_age":"24h","stale_bundle":"flag"}`, ""},
		{"unknown field", "p.yaml", "name: p\nmax_age: 90s\n", "unknown field"},
		{"repeated yaml key", "p.yaml", "name: p\nname: q\n", "already defined"},
		{"repeated json key", "p.json", `{"name":"p","name":"q"}`, "repeated"},
		{"bad duration", "p.yaml", "name: p\nmax_qr_age: soon\n", "duration"},
		{"negative duration", "p.yaml", "name: p\nmax_qr_age: -5s\n", "duration"},
		{"duration as a number", "p.json", `{"name":"p","max_qr_age":90}`, "duration"},
		{"signature cannot be skipped", "p.yaml", "name: p\nmay_skip: [signature]\n", "cannot be skipped"},
		{"unknown check", "p.yaml", "name: p\nmay_skip_offline: [vibes]\n", "cannot be skipped"},
		{"unknown format", "p.yaml", "name: p\nformats: [mdoc]\n", "unknown format"},
		{"bad name", "p.yaml", "name: Traffic Police\n", "name"},
		{"bad stale answer", "p.yaml", "name: p\nstale_bundle: ignore\n", "stale_bundle"},
		{"two documents", "p.yaml", "name: p\n---\nname: q\n", "more than one"},
		{"not an object", "p.json", `["name"]`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifier.ParsePolicy(tt.file, []byte(tt.body))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadPolicies: the built-in policies load, a directory adds to them and may replace one,
// and two files naming one policy are an error.
func TestLoadPolicies(t *testing.T) {
	var names []string
	for _, p := range verifier.BuiltinPolicies().All() {
		names = append(names, p.Name)
	}
	want := []string{"business-registration", "credential", "default", "health-code-gate", "traffic-police-counter"}
	if !slices.Equal(names, want) {
		t.Fatalf("built-in policies = %q, want %q", names, want)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "counter.yaml"), []byte("name: hotel-checkin\ntypes: [ResidencePermit]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.json"), []byte(`{"name":"default","may_skip":["anchor","schema"]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a policy"), 0o644)
	extra, err := verifier.LoadPolicies(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	all := verifier.BuiltinPolicies().With(extra)
	if _, err := all.Lookup("hotel-checkin"); err != nil {
		t.Error(err)
	}
	if d, _ := all.Lookup("default"); !slices.Contains(d.MaySkip, "schema") {
		t.Errorf("default not replaced: %+v", d)
	}
	if d, _ := verifier.BuiltinPolicies().Lookup("default"); slices.Contains(d.MaySkip, "schema") {
		t.Errorf("With changed the built-in set")
	}
	_, err = verifier.LoadPolicies(fstest.MapFS{"a.yaml": {Data: []byte("name: x\n")}, "b.json": {Data: []byte(`{"name":"x"}`)}})
	if err == nil || !strings.Contains(err.Error(), "two policies") {
		t.Errorf("duplicate names: err = %v", err)
	}
}
