package verifier

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultPolicy is the policy applied when a request names none and its counter has none.
const DefaultPolicy = "default"

// MaxPolicySize bounds a policy file, in bytes.
const MaxPolicySize = 64 << 10

// The answers to a stale bundle (Policy.StaleBundle).
const (
	StaleRefuse = "refuse" // the policy check fails (rule max_bundle_age)
	StaleFlag   = "flag"   // a warning; the result may still be valid
)

// The rule names the policy check reports in Check.Rules.
const (
	RuleTypes        = "types"
	RuleFormats      = "formats"
	RuleDisclose     = "disclose"
	RuleMaxBundleAge = "max_bundle_age"
)

// Policy is a named verification profile: what a counter or service accepts. A file holds
// one policy in YAML or JSON:
//
//	name: traffic-police-counter          # required, [a-z0-9-]{1,64}, unique
//	description: ...                      # free text
//	types: [DrivingLicence]               # credential type names or vct; empty = any
//	formats: [dc+sd-jwt]                  # accepted formats (Formats); empty = any
//	disclose: [family_name, licence_class] # claims that must be shown
//	max_qr_age: 90s                       # how old a key-binding JWT may be; 0 = the server's
//	max_bundle_age: 24h                   # how old an offline trust bundle may be; 0 = any
//	stale_bundle: refuse                  # refuse (default) or flag a bundle older than that
//	may_skip: [anchor]                    # checks that may be skipped (evidence missing)
//	may_skip_offline: [anchor, status]    # further checks that may be skipped offline
//
// Every check is required unless listed in may_skip (or, offline, may_skip_offline): a
// check whose evidence is missing (no key-binding JWT, no anchor receipt, no schema for the
// type) then counts as skipped rather than failed. A failed check always fails the result.
// syntax, signature, validity and policy cannot be skipped.
type Policy struct {
	Name           string   `json:"name"`
	Description    string   `json:"description,omitempty"`
	Types          []string `json:"types,omitempty"`
	Formats        []string `json:"formats,omitempty"`
	Disclose       []string `json:"disclose,omitempty"`
	MaxQRAge       Duration `json:"max_qr_age,omitzero"`
	MaxBundleAge   Duration `json:"max_bundle_age,omitzero"`
	StaleBundle    string   `json:"stale_bundle,omitempty"`
	MaySkip        []string `json:"may_skip,omitempty"`
	MaySkipOffline []string `json:"may_skip_offline,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("90s", "24h") in policy files.
type Duration struct{ D time.Duration }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.D.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a duration is a string such as \"90s\" or \"24h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("invalid duration %q", s)
	}
	d.D = v
	return nil
}

// policyFields are the member names of a policy file.
var policyFields = []string{"name", "description", "types", "formats", "disclose", "max_qr_age", "max_bundle_age", "stale_bundle", "may_skip", "may_skip_offline"}

var policyName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// skippable are the checks a policy may let be skipped.
var skippable = []string{CheckHolderBinding, CheckStatus, CheckAccreditation, CheckAnchor, CheckSchema}

// Validate checks the policy's fields.
func (p *Policy) Validate() error {
	var errs []error
	if !policyName.MatchString(p.Name) {
		errs = append(errs, fmt.Errorf("name %q: want [a-z0-9][a-z0-9-]{0,63}", p.Name))
	}
	for _, f := range p.Formats {
		if !slices.Contains(Formats, f) {
			errs = append(errs, fmt.Errorf("formats: unknown format %q (want one of %s)", f, strings.Join(Formats, ", ")))
		}
	}
	for _, c := range slices.Concat(p.MaySkip, p.MaySkipOffline) {
		if !slices.Contains(skippable, c) {
			errs = append(errs, fmt.Errorf("may_skip: %q cannot be skipped (only %s)", c, strings.Join(skippable, ", ")))
		}
	}
	for _, s := range slices.Concat(p.Types, p.Disclose) {
		if s == "" {
			errs = append(errs, errors.New("types and disclose may not hold empty names"))
		}
	}
	switch p.StaleBundle {
	case "", StaleRefuse, StaleFlag:
	default:
		errs = append(errs, fmt.Errorf("stale_bundle %q: want refuse or flag", p.StaleBundle))
	}
	return errors.Join(errs...)
}

// maySkip reports whether the policy lets check be skipped, online or offline.
func (p *Policy) maySkip(check string, offline bool) bool {
	return slices.Contains(p.MaySkip, check) || (offline && slices.Contains(p.MaySkipOffline, check))
}

// ParsePolicy decodes one policy file: YAML, or JSON when name ends in ".json". Unknown and
// repeated fields are errors, and so is an invalid policy.
func ParsePolicy(name string, b []byte) (*Policy, error) {
	if len(b) > MaxPolicySize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxPolicySize)
	}
	js := b
	if path.Ext(name) != ".json" {
		var v any
		dec := yaml.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var extra any
		if dec.Decode(&extra) != io.EOF {
			return nil, fmt.Errorf("%s: more than one YAML document", name)
		}
		var err error
		if js, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	} else if err := noDuplicateKeys(b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// encoding/json matches member names case-insensitively; a policy file must not.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(js, &members); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for k := range members {
		if !slices.Contains(policyFields, k) {
			return nil, fmt.Errorf("%s: unknown field %q", name, k)
		}
	}
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the policy", name)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, l := range []*[]string{&p.Types, &p.Formats, &p.Disclose, &p.MaySkip, &p.MaySkipOffline} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return &p, nil
}

// noDuplicateKeys reports an error if a JSON object in b repeats a member name.
func noDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > 16 {
			return errors.New("nested too deep")
		}
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				ks, _ := k.(string)
				if seen[ks] {
					return fmt.Errorf("repeated member %q", ks)
				}
				seen[ks] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk(0)
}

// Policies is a set of named policies. It is immutable and safe for concurrent use.
type Policies struct {
	byName map[string]*Policy
}

// NewPolicies returns a set of ps; two policies with one name are an error.
func NewPolicies(ps ...*Policy) (*Policies, error) {
	out := &Policies{byName: map[string]*Policy{}}
	for _, p := range ps {
		if _, dup := out.byName[p.Name]; dup {
			return nil, fmt.Errorf("two policies named %q", p.Name)
		}
		out.byName[p.Name] = p
	}
	return out, nil
}

// LoadPolicies reads every *.yaml, *.yml and *.json file in the top directory of fsys.
func LoadPolicies(fsys fs.FS) (*Policies, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var ps []*Policy
	for _, e := range entries {
		switch path.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		p, err := ParsePolicy(e.Name(), b)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return NewPolicies(ps...)
}

// With returns a set holding p's policies and more's, more's winning on a name both have.
func (p *Policies) With(more *Policies) *Policies {
	out := &Policies{byName: maps.Clone(p.byName)}
	for k, v := range more.byName {
		out.byName[k] = v
	}
	return out
}

// Lookup returns the policy called name, or an error wrapping ErrUnknownPolicy.
func (p *Policies) Lookup(name string) (*Policy, error) {
	if pol, ok := p.byName[name]; ok {
		return pol, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownPolicy, name)
}

// All returns the policies sorted by name.
func (p *Policies) All() []*Policy {
	out := make([]*Policy, 0, len(p.byName))
	for _, v := range p.byName {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

//go:embed policies/*.yaml
var builtinFS embed.FS

var builtin = func() *Policies {
	sub, err := fs.Sub(builtinFS, "policies")
	if err != nil {
		panic(err)
	}
	p, err := LoadPolicies(sub)
	if err != nil {
		panic("verifier: built-in policies: " + err.Error())
	}
	return p
}()

// BuiltinPolicies returns the policies shipped in verifier/policies, DefaultPolicy among
// them. Every call returns the same immutable set.
func BuiltinPolicies() *Policies { return builtin }

// policy reports the policy check: the credential's type, format and shown claims are what
// the policy accepts, and an offline bundle is no older than it allows. Its reason lists the
// failed rules, which Check.Rules names.
func (r *run) policy(p *presented) {
	pol := r.pol
	var rules, why []string
	failRule := func(rule, reason string) {
		rules = append(rules, rule)
		why = append(why, rule+" ("+reason+")")
	}
	if len(pol.Types) > 0 && !slices.Contains(pol.Types, p.typeName) && !slices.Contains(pol.Types, p.vct) && !slices.Contains(pol.Types, r.res.Type) {
		failRule(RuleTypes, fmt.Sprintf("type %s is not one of %s", r.res.Type, strings.Join(pol.Types, ", ")))
	}
	if len(pol.Formats) > 0 && !slices.Contains(pol.Formats, r.res.Format) {
		failRule(RuleFormats, fmt.Sprintf("format %s is not one of %s", r.res.Format, strings.Join(pol.Formats, ", ")))
	}
	var missing []string
	for _, c := range pol.Disclose {
		if _, ok := p.claims[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		failRule(RuleDisclose, "not shown: "+strings.Join(missing, ", "))
	}
	if r.offline && pol.MaxBundleAge.D > 0 {
		age, known := r.res.Source.bundleAge(r.now)
		if !known || age > pol.MaxBundleAge.D {
			reason := "the bundle's age is unknown"
			if known {
				reason = fmt.Sprintf("bundle is %s old, at most %s allowed", age.Truncate(time.Second), pol.MaxBundleAge.D)
			}
			if pol.StaleBundle == StaleFlag {
				r.res.Warnings = append(r.res.Warnings, "stale trust bundle: "+reason)
			} else {
				failRule(RuleMaxBundleAge, reason)
			}
		}
	}
	if len(rules) > 0 {
		r.res.Checks = append(r.res.Checks, Check{Name: CheckPolicy, Reason: "policy " + pol.Name + " rules failed: " + strings.Join(why, "; "), Rules: rules})
		return
	}
	r.pass(CheckPolicy)
}
