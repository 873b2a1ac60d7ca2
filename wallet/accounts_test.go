package wallet

import "testing"

func TestValidResidentID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"11010519491231002X", true},
		{"11010519491231002x", true},
		{"110105194912310021", false}, // wrong check digit
		{"1101051949123100", false},
		{"11010519491231002XX", false},
		{"A1010519491231002X", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidResidentID(tt.id); got != tt.want {
			t.Errorf("ValidResidentID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+8613800138000", "+8613800138000"},
		{" +86 138-0013-8000 ", "+8613800138000"},
		{"13800138000", ""},
		{"+0123456789", ""},
		{"+86abc", ""},
		{"+123456", ""},
		{"+1234567890123456", ""},
	}
	for _, tt := range tests {
		got, err := normalizePhone(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("normalizePhone(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("normalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
