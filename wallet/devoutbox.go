package wallet

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// OutboxMessage is a one-time code the DevOutbox "sent".
type OutboxMessage struct {
	To     string    `json:"to"`
	Code   string    `json:"code"`
	SentAt time.Time `json:"sent_at"`
}

// DevOutbox is the CodeSender of a demo server: instead of sending an SMS it logs the code
// and keeps the last messages in memory, where the bridge's dev endpoint
// (GET /bridge/v1/dev/outbox?phone=…, mounted only on a demo server) shows them. Never use it
// in production: it hands codes to whoever asks. It is safe for concurrent use.
type DevOutbox struct {
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	msgs []OutboxMessage
}

// devOutboxSize bounds the messages kept.
const devOutboxSize = 100

// NewDevOutbox returns an empty outbox logging to log (discarded when nil).
func NewDevOutbox(log *slog.Logger, now func() time.Time) *DevOutbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &DevOutbox{log: log, now: now}
}

// SendCode implements CodeSender.
func (o *DevOutbox) SendCode(ctx context.Context, phone, code string) error {
	o.log.InfoContext(ctx, "dev outbox: one-time code (demo server only; a real one sends an SMS)", "to", phone, "code", code)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, OutboxMessage{To: phone, Code: code, SentAt: o.now().UTC().Truncate(time.Second)})
	if len(o.msgs) > devOutboxSize {
		o.msgs = o.msgs[len(o.msgs)-devOutboxSize:]
	}
	return nil
}

// Messages returns the messages sent to phone, newest first.
func (o *DevOutbox) Messages(phone string) []OutboxMessage {
	p, err := normalizePhone(phone)
	if err != nil {
		return []OutboxMessage{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []OutboxMessage{}
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if o.msgs[i].To == p {
			out = append(out, o.msgs[i])
		}
	}
	return out
}
