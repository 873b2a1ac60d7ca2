package problem

import "testing"

func TestNegotiate(t *testing.T) {
	t.Parallel()
	supported := []string{"en", "zh-CN"}
	tests := []struct {
		name, header, want string
	}{
		{"no header", "", "en"},
		{"english", "en-US,en;q=0.9", "en"},
		{"chinese", "zh-CN", "zh-CN"},
		{"chinese lower case", "zh-cn", "zh-CN"},
		{"primary subtag", "zh", "zh-CN"},
		{"script subtag", "zh-Hans-CN,zh;q=0.9", "zh-CN"},
		{"q-values override order", "en;q=0.5, zh-CN;q=0.8", "zh-CN"},
		{"equal q keeps header order", "zh-CN;q=0.7, en;q=0.7", "zh-CN"},
		{"q=0 excludes", "zh-CN;q=0, en;q=0.1", "en"},
		{"only excluded", "zh-CN;q=0", "en"},
		{"unsupported then chinese", "fr-FR, de;q=0.9, zh-TW;q=0.5", "zh-CN"},
		{"unsupported only", "fr, de", "en"},
		{"wildcard", "fr, *;q=0.5", "en"},
		{"malformed q is excluded", "zh-CN;q=abc, en;q=0.2", "en"},
		{"garbage", ";;,,=", "en"},
		{"spaces", "  zh-CN ; q=1.0 ", "zh-CN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Negotiate(tt.header, supported...); got != tt.want {
				t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}
