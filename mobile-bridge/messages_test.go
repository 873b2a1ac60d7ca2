package mobilebridge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/wallet"
)

// TestEveryBridgeProblemHasAChineseTitle: the app gets every problem the bridge can answer
// with in both languages.
func TestEveryBridgeProblemHasAChineseTitle(t *testing.T) {
	m := problem.NewMapper(Rules, DeviceKeyRules, CitizenRules, ShareRules)
	for _, r := range m.Types() {
		if zh, ok := zhTitles[r.Name]; !ok || zh == "" || zh == r.Title {
			t.Errorf("problem %q (%q) has no zh-CN title", r.Name, r.Title)
		}
	}
}

func TestLocalizeProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, acceptLanguage string
		in                         problem.Problem
		wantTitle, wantDetail      string
		wantLang                   string
	}{
		{"english by default", "/bridge/v1/backup", "", problem.Problem{Type: "/problems/weak-passphrase", Title: "The backup passphrase is too weak", Status: 400, Detail: "d"},
			"The backup passphrase is too weak", "d", "en"},
		{"chinese", "/bridge/v1/backup", "zh-CN", problem.Problem{Type: "/problems/weak-passphrase", Title: "The backup passphrase is too weak", Status: 400, Detail: "d"},
			"备份口令强度不足", "d", "zh-CN"},
		{"q-values", "/bridge/v1/me", "zh;q=0.2, en;q=0.9", problem.Problem{Type: "/problems/not-found", Title: "Not found", Status: 404},
			"Not found", "", "en"},
		{"internal error detail", "/bridge/v1/me", "zh-Hans-CN", *problem.Internal(), "服务器内部错误", "服务器内部错误", "zh-CN"},
		{"unknown type keeps its title", "/bridge/v1/me", "zh-CN", problem.Problem{Type: "/problems/some-new-type", Title: "Some new type", Status: 400},
			"Some new type", "", "zh-CN"},
		{"about:blank", "/bridge/v1/me", "zh-CN", problem.Problem{Type: "about:blank", Title: "Teapot", Status: 418}, "Teapot", "", "zh-CN"},
		{"not a bridge route", "/issuer/v1/credentials", "zh-CN", problem.Problem{Type: "/problems/not-found", Title: "Not found", Status: 404},
			"Not found", "", ""},
	}
	e := echo.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.acceptLanguage != "" {
				req.Header.Set("Accept-Language", tt.acceptLanguage)
			}
			rec := httptest.NewRecorder()
			p := tt.in
			LocalizeProblem(e.NewContext(req, rec), &p)
			if p.Title != tt.wantTitle || p.Detail != tt.wantDetail || p.Type != tt.in.Type || p.Status != tt.in.Status {
				t.Errorf("got %+v", p)
			}
			if got := rec.Header().Get("Content-Language"); got != tt.wantLang {
				t.Errorf("Content-Language %q, want %q", got, tt.wantLang)
			}
		})
	}
}

func TestDescribeEvents(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC)
	dl := wallet.EventData{CredentialID: "wc_1", CredentialType: "urn:ezheng:vct:DrivingLicence"}
	with := func(d wallet.EventData, f func(*wallet.EventData)) wallet.EventData { f(&d); return d }
	tests := []struct {
		name string
		ev   wallet.Event
		lang string
		want Notice
	}{
		{"offer en", wallet.Event{Type: wallet.EventOffer, Data: wallet.EventData{Issuer: "Public Security Bureau"}}, LangEN,
			Notice{LangEN, "New credential offer", "Public Security Bureau offers you a credential."}},
		{"offer zh", wallet.Event{Type: wallet.EventOffer, Data: wallet.EventData{Issuer: "公安局"}}, LangZH,
			Notice{LangZH, "新的证照可领取", "公安局向您发放了一份证照。"}},
		{"request zh", wallet.Event{Type: wallet.EventRequest, Data: wallet.EventData{Verifier: "示例银行", Purpose: "开户"}}, LangZH,
			Notice{LangZH, "信息共享请求", "示例银行请求查看您的证照信息。用途：开户"}},
		{"revoked en", wallet.Event{Type: wallet.EventStatus, Data: with(dl, func(d *wallet.EventData) { d.Status = wallet.StatusRevoked })}, LangEN,
			Notice{LangEN, "Credential revoked", "Your DrivingLicence has been revoked by its issuer."}},
		{"suspended zh", wallet.Event{Type: wallet.EventStatus, Data: with(dl, func(d *wallet.EventData) { d.Status = wallet.StatusSuspended })}, LangZH,
			Notice{LangZH, "证照已被暂停", "您的驾驶证已被签发机关暂停使用。"}},
		{"valid again zh", wallet.Event{Type: wallet.EventStatus, Data: with(dl, func(d *wallet.EventData) { d.Status = wallet.StatusValid })}, LangZH,
			Notice{LangZH, "证照已恢复有效", "您的驾驶证已恢复有效。"}},
		{"expiring en", wallet.Event{Type: wallet.EventExpiring, Data: with(dl, func(d *wallet.EventData) { d.ExpiresAt = &exp })}, LangEN,
			Notice{LangEN, "Credential expires soon", "Your DrivingLicence expires on 2026-12-21."}},
		{"unknown type zh", wallet.Event{Type: "urn:x:unknown", Data: wallet.EventData{CredentialType: "urn:x:Other"}}, LangZH,
			Notice{LangZH, "通知", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Describe(tt.ev, tt.lang); got != tt.want {
				t.Errorf("Describe = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := typeName("urn:ezheng:vct:SomethingNew", LangZH); !strings.EqualFold(got, "SomethingNew") {
		t.Errorf("typeName = %q", got)
	}
}
