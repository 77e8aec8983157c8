package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// WebhookID is the webhook-id of a message: msg_ and its id. It is the same
// on every attempt, the client's idempotency key.
func WebhookID(message uuid.UUID) string { return "msg_" + message.String() }

// ParseWebhookID returns the message id of a webhook-id; ok is false for
// anything else.
func ParseWebhookID(s string) (uuid.UUID, bool) {
	rest, found := strings.CutPrefix(s, "msg_")
	if !found {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil && len(rest) == 36
}

// signature is the webhook-signature header of one attempt: for each key,
// "v1," and the standard base64 of HMAC-SHA256 over
// "{webhook-id}.{webhook-timestamp}.{body}", separated by spaces.
func signature(keys [][]byte, id string, timestamp int64, body []byte) string {
	signed := make([]byte, 0, len(id)+len(body)+24)
	signed = append(signed, id...)
	signed = append(signed, '.')
	signed = strconv.AppendInt(signed, timestamp, 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write(signed)
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, " ")
}
