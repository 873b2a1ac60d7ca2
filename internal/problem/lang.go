package problem

import (
	"strconv"
	"strings"
)

// Negotiate picks the language to answer in from an Accept-Language header (RFC 9110 §12.5.4)
// among supported (language tags such as "en", "zh-CN"; the first is the default). Ranges are
// tried by quality, highest first, ties in header order; q=0 excludes. A range matches a
// supported tag equal to it or starting with it and "-" ("zh" matches "zh-CN"), or a
// supported tag that it starts with ("zh-Hans-CN" and "zh-cn" match "zh-CN" through the
// primary subtag "zh"); "*" matches the default. Comparison ignores case. A malformed or
// empty header, or one matching nothing, gives the default.
func Negotiate(acceptLanguage string, supported ...string) string {
	if len(supported) == 0 {
		return ""
	}
	type rng struct {
		tag string
		q   float64
	}
	var ranges []rng
	for i, part := range strings.Split(acceptLanguage, ",") {
		if i >= 32 { // a header this long is not worth reading further
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		if q > 0 {
			ranges = append(ranges, rng{tag, q})
		}
	}
	// A stable insertion sort by quality keeps header order among equals.
	for i := 1; i < len(ranges); i++ {
		for j := i; j > 0 && ranges[j].q > ranges[j-1].q; j-- {
			ranges[j], ranges[j-1] = ranges[j-1], ranges[j]
		}
	}
	for _, r := range ranges {
		if r.tag == "*" {
			return supported[0]
		}
		for _, s := range supported {
			ls := strings.ToLower(s)
			if ls == r.tag || strings.HasPrefix(ls, r.tag+"-") {
				return s
			}
		}
		primary, _, _ := strings.Cut(r.tag, "-")
		for _, s := range supported {
			sp, _, _ := strings.Cut(strings.ToLower(s), "-")
			if sp == primary {
				return s
			}
		}
	}
	return supported[0]
}
