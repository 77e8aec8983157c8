package console

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// masked replaces a value the console will not show.
const masked = "[redacted]"

// secretKeys are the names (lower case, in part) of fields whose values the
// console never shows. Provider bodies are stored redacted already (each
// provider package removes its credentials before anything is stored);
// this is the second lock on the same door, for whatever a provider or a
// future field adds.
var secretKeys = []string{
	"secret", "password", "signature", "api_key", "apikey", "api-key", "authorization",
	"private_key", "privatekey", "access_token", "refresh_token", "session", "csrf", "whsec",
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// secretText finds "key: value" and "key=value" pairs with a secret-looking
// key in text that is not JSON (headers, form bodies, error messages).
var secretText = regexp.MustCompile(`(?i)((?:secret|password|signature|api[_-]?key|authorization|private[_-]?key|access[_-]?token|whsec)[A-Za-z_-]*["']?\s*[:=]\s*["']?)(?:Bearer\s+)?[^\s"'&,;}]+`)

// bareSecret finds a webhook signing secret (whsec_…) or a Standard
// Webhooks signature (v1, and the base64 of an HMAC-SHA256) anywhere in a
// text: an endpoint that echoes its request in its answer would otherwise
// show them in an attempt's stored answer.
var bareSecret = regexp.MustCompile(`whsec_[A-Za-z0-9+/=_-]+|v1,[A-Za-z0-9+/]{43}=`)

// redact masks the values of secret-looking fields of a JSON document, or
// secret-looking pairs of any other text, and any bare signing secret or
// signature.
func redact(raw []byte) []byte {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		var v any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if dec.Decode(&v) == nil && !dec.More() {
			if out, err := json.Marshal(maskJSON(v)); err == nil {
				return out
			}
		}
	}
	return bareSecret.ReplaceAll(secretText.ReplaceAll(raw, []byte("${1}"+masked)), []byte(masked))
}

func maskJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretKey(k) {
				x[k] = masked
				continue
			}
			x[k] = maskJSON(val)
		}
	case []any:
		for i := range x {
			x[i] = maskJSON(x[i])
		}
	case string:
		if strings.HasPrefix(x, "whsec_") || strings.HasPrefix(x, apiKeyPrefix) {
			return masked
		}
		return bareSecret.ReplaceAllString(x, masked)
	}
	return v
}
