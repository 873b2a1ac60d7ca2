package mobilebridge

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/wallet"
)

// Messages for the app in English and Simplified Chinese (issue #5): problem titles and
// notification texts follow the request's Accept-Language. Problem types never change with
// the language, so the app switches on them; details stay as the service wrote them.

// Languages the bridge speaks; the first is the default.
const (
	LangEN = "en"
	LangZH = "zh-CN"
)

// Languages lists the supported languages, the default first.
var Languages = []string{LangEN, LangZH}

// Language returns the language to answer c's request in, from its Accept-Language.
func Language(c echo.Context) string {
	return problem.Negotiate(c.Request().Header.Get("Accept-Language"), Languages...)
}

// zhTitles are the zh-CN titles of the problem types the bridge answers with, by name: the
// bridge's own and the built-in ones. A type missing here keeps its English title.
var zhTitles = map[string]string{
	// Built-in types (internal/problem).
	problem.NameMalformed:            "请求格式错误",
	problem.NameUnauthorized:         "未通过身份认证",
	problem.NameForbidden:            "无权执行此操作",
	problem.NameNotFound:             "未找到",
	problem.NameMethodNotAllowed:     "不支持该请求方法",
	problem.NameConflict:             "与当前状态冲突",
	problem.NameTooLarge:             "请求内容过大",
	problem.NameUnsupportedMediaType: "不支持的内容类型",
	problem.NameClientClosedRequest:  "客户端已关闭请求",
	problem.NameInternal:             "服务器内部错误",
	problem.NameUnavailable:          "服务暂时不可用",
	// Accounts, devices, DPoP (Rules).
	"dpop-required":          "需要绑定设备的 DPoP 访问令牌和 DPoP 证明",
	"dpop-proof-replayed":    "该 DPoP 证明已被使用过",
	"use-dpop-nonce":         "DPoP 证明必须携带服务器提供的随机数",
	"invalid-dpop-proof":     "DPoP 证明无效",
	"invalid-phone":          "手机号码无效",
	"code-too-soon":          "验证码刚刚已发送，请稍后再试",
	"code-expired":           "一次性验证码已过期",
	"code-attempts-exceeded": "一次性验证码错误次数过多",
	"invalid-code":           "一次性验证码错误或已使用",
	"identity-not-proven":    "无法核验身份",
	"invalid-device-key":     "设备密钥不可接受",
	"device-key-in-use":      "该设备密钥属于另一个账户",
	// Credentials and offers (Rules).
	"invalid-credential":        "证照未通过校验",
	"credential-not-trusted":    "证照未通过钱包的核验（签名、签发机关资质或状态）",
	"credential-not-bound":      "该证照绑定的是其他持有人",
	"unknown-claim":             "该证照没有此项信息",
	"credential-request-denied": "签发机关拒绝签发该证照",
	"tx-code-required":          "领取该证照需要输入交易码",
	"offer-failed":              "无法领取该证照",
	"offer-expired":             "证照领取邀请已过期",
	// Holder keys on the device (DeviceKeyRules).
	"holder-key-in-use":        "该持有人密钥属于另一个账户",
	"holder-key-is-device-key": "持有人密钥不能与设备密钥相同",
	"holder-key-on-device":     "该证照的持有人密钥保存在手机上",
	"holder-key-on-server":     "该证照的持有人密钥由钱包保管",
	"invalid-device-signature": "设备签名无效",
	"invalid-holder-key-proof": "持有人密钥证明无效",
	"signing-request-expired":  "签名请求已过期",
	"signing-request-used":     "签名请求已完成，不能重复使用",
	// Sharing online, OpenID4VP (ShareRules).
	"verifier-not-authentic": "请求的签名或验证方身份核验未通过",
	"cannot-satisfy-request": "钱包中没有可满足该请求的证照",
	"share-refused":          "验证方拒绝了提交的信息",
	"share-request-failed":   "无法使用该信息共享请求",
	// History, backup, restore (CitizenRules).
	"weak-passphrase":         "备份口令强度不足",
	"backup-passphrase-wrong": "口令无法打开此备份",
	"backup-tampered":         "备份文件已被篡改或损坏",
	"backup-malformed":        "该文件不是本服务器可读取的钱包备份",
	"restore-conflict":        "备份只能恢复到没有证照的钱包",
}

// LocalizeProblem is the web.Localizer of the bridge: for a /bridge/ route it sets the
// problem's title (and the detail of a server fault) in the language of Accept-Language and
// answers with Content-Language. Other routes are left alone. The type and status never
// change.
func LocalizeProblem(c echo.Context, p *problem.Problem) {
	if !strings.HasPrefix(c.Request().URL.Path, "/bridge/") {
		return
	}
	lang := Language(c)
	c.Response().Header().Set("Content-Language", lang)
	if lang != LangZH {
		return
	}
	name, ok := strings.CutPrefix(p.Type, problem.TypeURI(""))
	if !ok {
		return
	}
	if t, ok := zhTitles[name]; ok {
		p.Title = t
	}
	if p.Status >= 500 && p.Detail == problem.Internal().Detail {
		p.Detail = "服务器内部错误"
	}
}

// Notice is an event's text for the app to show, in one language.
type Notice struct {
	Lang  string `json:"lang"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

// zhTypeNames are zh-CN names of well-known credential types, by the last segment of the vct.
var zhTypeNames = map[string]string{
	"DrivingLicence":    "驾驶证",
	"BusinessLicence":   "营业执照",
	"HealthCode":        "健康码",
	"ResidencePermit":   "居住证",
	"DegreeCertificate": "学位证书",
}

// typeName returns a credential type's short name: the vct's last segment, in Chinese when
// known.
func typeName(vct, lang string) string {
	name := vct
	if i := strings.LastIndexAny(name, ":/"); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = vct
	}
	if lang == LangZH {
		if zh, ok := zhTypeNames[name]; ok {
			return zh
		}
	}
	return name
}

// Describe returns the text of event ev in lang (LangEN or LangZH).
func Describe(ev wallet.Event, lang string) Notice {
	zh := lang == LangZH
	d := ev.Data
	typ := typeName(d.CredentialType, lang)
	pick := func(en, cn string) string {
		if zh {
			return cn
		}
		return en
	}
	n := Notice{Lang: LangEN}
	if zh {
		n.Lang = LangZH
	}
	switch ev.Type {
	case wallet.EventOffer:
		from := or(d.Issuer, pick("An issuer", "签发机关"))
		n.Title = pick("New credential offer", "新的证照可领取")
		n.Body = pick(from+" offers you a credential.", from+"向您发放了一份证照。")
	case wallet.EventRequest:
		who := or(d.Verifier, pick("A service", "某服务"))
		n.Title = pick("Request to share", "信息共享请求")
		n.Body = pick(who+" asks to see your credentials.", who+"请求查看您的证照信息。")
		if d.Purpose != "" {
			n.Body += pick(" Purpose: ", "用途：") + d.Purpose
		}
	case wallet.EventStatus:
		switch d.Status {
		case wallet.StatusRevoked:
			n.Title = pick("Credential revoked", "证照已被撤销")
			n.Body = pick("Your "+typ+" has been revoked by its issuer.", "您的"+typ+"已被签发机关撤销。")
		case wallet.StatusSuspended:
			n.Title = pick("Credential suspended", "证照已被暂停")
			n.Body = pick("Your "+typ+" has been suspended by its issuer.", "您的"+typ+"已被签发机关暂停使用。")
		case wallet.StatusValid:
			n.Title = pick("Credential valid again", "证照已恢复有效")
			n.Body = pick("Your "+typ+" is valid again.", "您的"+typ+"已恢复有效。")
		default:
			n.Title = pick("Credential status changed", "证照状态已变更")
			n.Body = pick("The status of your "+typ+" changed.", "您的"+typ+"状态已变更。")
		}
	case wallet.EventExpiring:
		date := ""
		if d.ExpiresAt != nil {
			date = d.ExpiresAt.UTC().Format("2006-01-02")
		}
		n.Title = pick("Credential expires soon", "证照即将到期")
		n.Body = pick("Your "+typ+" expires on "+date+".", "您的"+typ+"将于"+date+"到期。")
	default:
		n.Title = pick("Notification", "通知")
	}
	return n
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
