package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/statuslist"
)

// The W3C Bitstring Status List "message" purpose: entries of statusSize bits whose value the
// entry's statusMessage names. The issuer gives ldp_vc credentials one such entry (two bits:
// 0x0 valid, 0x1 revoked, 0x2 suspended), because a VCDM 1.1 JSON-LD credentialStatus holds a
// single entry. internal/statuslist models one-bit purposes only, so the verifier reads the
// multi-bit entry here; the list's JWS is verified with go-jose and its bits decoded by
// statuslist.DecodeList.

const purposeMessage = "message"

// messageEntry is a BitstringStatusListEntry of purpose message.
type messageEntry struct {
	uri      string
	idx      int
	size     int
	messages map[uint64]string // status value → message
}

// parseMessageEntry reads v as a message entry; ok is false when v is not of purpose message
// (then statuslist.ParseBitstringEntry applies).
func parseMessageEntry(v any) (e messageEntry, ok bool, err error) {
	m, _ := v.(map[string]any)
	if p, _ := m["statusPurpose"].(string); p != purposeMessage {
		return e, false, nil
	}
	if t, _ := m["type"].(string); t != "BitstringStatusListEntry" {
		return e, true, errors.New("type is not BitstringStatusListEntry")
	}
	e.uri, _ = m["statusListCredential"].(string)
	idx, _ := m["statusListIndex"].(string)
	size := fmt.Sprint(m["statusSize"])
	n, err1 := strconv.Atoi(idx)
	sz, err2 := strconv.Atoi(size)
	switch {
	case e.uri == "":
		return e, true, errors.New("no statusListCredential")
	case err1 != nil || n < 0 || strconv.Itoa(n) != idx:
		return e, true, fmt.Errorf("statusListIndex %q is not a canonical decimal", idx)
	case err2 != nil || sz < 1 || sz > 8:
		return e, true, fmt.Errorf("statusSize %s is not 1 to 8", size)
	}
	e.idx, e.size, e.messages = n, sz, map[uint64]string{}
	list, _ := m["statusMessage"].([]any)
	if len(list) != 1<<sz {
		return e, true, fmt.Errorf("statusMessage has %d entries, want %d", len(list), 1<<sz)
	}
	for _, x := range list {
		sm, _ := x.(map[string]any)
		st, _ := sm["status"].(string)
		msg, _ := sm["message"].(string)
		val, err := strconv.ParseUint(strings.TrimPrefix(st, "0x"), 16, 8)
		if !strings.HasPrefix(st, "0x") || err != nil || val >= 1<<sz || msg == "" {
			return e, true, fmt.Errorf("statusMessage entry %v is malformed", x)
		}
		e.messages[val] = msg
	}
	return e, true, nil
}

// messageStatus checks a message entry against its list, signed by iss; the failure reason,
// or "" when the entry's value is 0 (the first statusMessage, "valid" for our issuers).
func (s *Service) messageStatus(ctx context.Context, e messageEntry, iss string, now time.Time) (string, error) {
	tok, reason, err := s.fetchList(ctx, e.uri)
	if reason != "" || err != nil {
		return reason, err
	}
	ck := newListKey(e.uri, iss, string(tok))
	vl, cached := s.lists.get(ck, now)
	if !cached || vl.bits == nil || vl.purpose != purposeMessage {
		key, err := s.listKey(ctx, string(tok), iss)
		if err != nil {
			if !isVerificationFailure(err) {
				return "", err
			}
			return "status list unavailable: " + err.Error(), nil
		}
		if vl.bits, vl.id, err = verifyMessageList(string(tok), key, now); err != nil {
			return "status list unavailable: " + err.Error(), nil
		}
		vl.purpose = purposeMessage
		s.lists.put(ck, vl, now, time.Time{})
	}
	if vl.id != e.uri {
		return fmt.Sprintf("status list unavailable: %s serves the list %s", e.uri, vl.id), nil
	}
	var val uint64
	for k := range e.size {
		bit, err := vl.bits.Get(e.idx*e.size + k)
		if err != nil {
			return "status list unavailable: " + err.Error(), nil
		}
		val <<= 1
		if bit {
			val |= 1
		}
	}
	if val == 0 {
		return "", nil
	}
	return fmt.Sprintf("%s (status 0x%x, entry %d of %s)", e.messages[val], val, e.idx, e.uri), nil
}

// verifyMessageList verifies a BitstringStatusListCredential of purpose message, secured as a
// vc+jwt, with key and returns its bits and id.
func verifyMessageList(tok string, key *jose.JSONWebKey, now time.Time) (*statuslist.Bitstring, string, error) {
	jws, err := jose.ParseSigned(tok, statuslist.Algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", fmt.Errorf("not a signed status list: %v", err)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders["typ"].(string); strings.TrimPrefix(typ, "application/") != "vc+jwt" {
		return nil, "", fmt.Errorf("status list typ %q is not vc+jwt", typ)
	}
	if _, crit := h.ExtraHeaders["crit"]; crit {
		return nil, "", errors.New("status list has critical headers")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, "", fmt.Errorf("status list signature: %v", err)
	}
	var c struct {
		ID         string   `json:"id"`
		Type       []string `json:"type"`
		ValidFrom  string   `json:"validFrom"`
		ValidUntil string   `json:"validUntil"`
		Subject    struct {
			Type          string `json:"type"`
			StatusPurpose string `json:"statusPurpose"`
			EncodedList   string `json:"encodedList"`
		} `json:"credentialSubject"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		return nil, "", fmt.Errorf("status list payload: %v", err)
	}
	switch {
	case c.ID == "" || c.Subject.Type != "BitstringStatusList" || c.Subject.StatusPurpose != purposeMessage:
		return nil, "", errors.New("not a BitstringStatusList of purpose message")
	case !containsString(c.Type, "BitstringStatusListCredential"):
		return nil, "", errors.New("not a BitstringStatusListCredential")
	}
	if c.ValidUntil != "" {
		until, err := time.Parse(time.RFC3339, c.ValidUntil)
		if err != nil || !now.Before(until) {
			return nil, "", fmt.Errorf("status list expired or malformed validUntil %q", c.ValidUntil)
		}
	}
	b, err := statuslist.DecodeList(c.Subject.EncodedList, 8*MaxStatusListEntries)
	if err != nil {
		return nil, "", err
	}
	return b, c.ID, nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
