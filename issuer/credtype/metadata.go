package credtype

import (
	"slices"
	"strings"
)

// Algorithms and binding methods the issuer offers for every JOSE-based format.
var (
	signingAlgs    = []string{"EdDSA", "ES256"}
	bindingMethods = []string{"jwk", "did:jwk"}
	// ldpProofSuites are the Data Integrity proof suites offered for ldp_vc.
	ldpProofSuites = []string{"Ed25519Signature2020", "JsonWebSignature2020"}
)

// TypeMetadata returns the type's SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc,
// "Type Metadata"), ready to encode as JSON and serve at the type's vct URL: vct, name and
// description (English), display (one entry per language with "locale", "name",
// "description" and "rendering.simple" holding logo and colours) and claims (one entry per
// labelled claim and per unlabelled top-level property, with "path", "display" labels,
// "mandatory" for required claims and "sd": "always" or "never"). The map is the caller's.
func (t *Type) TypeMetadata() map[string]any {
	md := map[string]any{"vct": t.VCT}
	if en := t.display("en"); en != nil {
		md["name"] = en.Name
		if en.Description != "" {
			md["description"] = en.Description
		}
	}
	var display []any
	for _, d := range t.Display {
		e := map[string]any{"locale": d.Lang, "name": d.Name}
		if d.Description != "" {
			e["description"] = d.Description
		}
		simple := map[string]any{}
		if d.Logo != nil {
			simple["logo"] = logoJSON(d.Logo)
		}
		if d.BackgroundColor != "" {
			simple["background_color"] = d.BackgroundColor
		}
		if d.TextColor != "" {
			simple["text_color"] = d.TextColor
		}
		if len(simple) > 0 {
			e["rendering"] = map[string]any{"simple": simple}
		}
		display = append(display, e)
	}
	md["display"] = display
	md["claims"] = t.claimsMetadata(func(l ClaimLabel) map[string]any {
		e := map[string]any{"locale": l.Lang, "label": l.Label}
		if l.Description != "" {
			e["description"] = l.Description
		}
		return e
	}, true)
	return md
}

// OpenID4VCIConfiguration returns the type's entry for credential_configurations_supported
// in OpenID4VCI 1.0 Credential Issuer Metadata, for format: format, scope (the type name),
// vct (dc+sd-jwt) or credential_definition (jwt_vc_json, ldp_vc),
// cryptographic_binding_methods_supported (jwk, did:jwk),
// credential_signing_alg_values_supported (EdDSA, ES256; Data Integrity proof suites for
// ldp_vc), proof_types_supported (a jwt proof signed with EdDSA or ES256), and
// credential_metadata holding display (per locale: name, description, logo, colours) and
// claims labels. It returns nil when the type is not issued in format or format has no
// OpenID4VCI identifier (vc+jwt). The map is the caller's.
func (t *Type) OpenID4VCIConfiguration(format string) map[string]any {
	if !slices.Contains(t.Formats, format) {
		return nil
	}
	c := map[string]any{
		"format": format,
		"scope":  t.Name,
		"cryptographic_binding_methods_supported": strs(bindingMethods),
		"credential_signing_alg_values_supported": strs(signingAlgs),
		"proof_types_supported": map[string]any{
			"jwt": map[string]any{"proof_signing_alg_values_supported": strs(signingAlgs)},
		},
	}
	switch format {
	case FormatSDJWTVC:
		c["vct"] = t.VCT
	case FormatJWTVCJSON:
		c["credential_definition"] = map[string]any{"type": []any{"VerifiableCredential", t.Name}}
	case FormatLDPVC:
		c["credential_definition"] = map[string]any{
			"@context": []any{"https://www.w3.org/2018/credentials/v1"},
			"type":     []any{"VerifiableCredential", t.Name},
		}
		c["credential_signing_alg_values_supported"] = strs(ldpProofSuites)
	default:
		return nil
	}
	var display []any
	for _, d := range t.Display {
		e := map[string]any{"locale": d.Lang, "name": d.Name}
		if d.Description != "" {
			e["description"] = d.Description
		}
		if d.Logo != nil {
			e["logo"] = logoJSON(d.Logo)
		}
		if d.BackgroundColor != "" {
			e["background_color"] = d.BackgroundColor
		}
		if d.TextColor != "" {
			e["text_color"] = d.TextColor
		}
		display = append(display, e)
	}
	c["credential_metadata"] = map[string]any{
		"display": display,
		"claims": t.claimsMetadata(func(l ClaimLabel) map[string]any {
			return map[string]any{"locale": l.Lang, "name": l.Label}
		}, false),
	}
	return c
}

// claimsMetadata lists the labelled claims in file order, then the unlabelled top-level
// properties by name. withSD adds the SD-JWT VC "sd" member.
func (t *Type) claimsMetadata(label func(ClaimLabel) map[string]any, withSD bool) []any {
	var out []any
	labelled := map[string]bool{}
	entry := func(p []string, labels []ClaimLabel) {
		path := make([]any, len(p))
		for i, s := range p {
			path[i] = s
		}
		e := map[string]any{"path": path}
		if len(p) == 1 {
			e["mandatory"] = slices.Contains(t.Required, p[0])
			if withSD {
				e["sd"] = "never"
				if slices.Contains(t.DisclosableClaims, p[0]) {
					e["sd"] = "always"
				}
			}
		}
		if len(labels) > 0 {
			var ds []any
			for _, l := range labels {
				ds = append(ds, label(l))
			}
			e["display"] = ds
		}
		out = append(out, e)
	}
	for _, c := range t.Claims {
		labelled[strings.Join(c.Path, "\x00")] = true
		entry(c.Path, c.Display)
	}
	for _, p := range t.Properties {
		if !labelled[p] {
			entry([]string{p}, nil)
		}
	}
	return out
}

func (t *Type) display(lang string) *Display {
	for i := range t.Display {
		if t.Display[i].Lang == lang {
			return &t.Display[i]
		}
	}
	return nil
}

func logoJSON(l *Logo) map[string]any {
	m := map[string]any{"uri": l.URI}
	if l.AltText != "" {
		m["alt_text"] = l.AltText
	}
	return m
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
