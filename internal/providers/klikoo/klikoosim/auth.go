package klikoosim

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// The simulator verifies signatures with its own implementation of Klikoo's
// formulas (docs/simulators.md), written apart from the client's signer so
// that a mistake in one is caught by the other and by the test vectors both
// reproduce (package testvectors).

// simTimestampLayout parses Open-Api-Timestamp (fixed millisecond digits).
const simTimestampLayout = "2006-01-02T15:04:05.000-07:00"

// simTokenPayload is what the access-token signature must cover.
func simTokenPayload(clientID, ts string) string {
	return fmt.Sprintf("%s|%s", clientID, ts)
}

// simVerifyTokenSignature checks base64(SHA256withRSA(clientID|ts)).
func simVerifyTokenSignature(pub *rsa.PublicKey, clientID, ts, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) == 0 {
		return false
	}
	h := sha256.New()
	_, _ = io.WriteString(h, simTokenPayload(clientID, ts))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(nil), sig) == nil
}

// simRequestPayload is what every other call's signature must cover.
func simRequestPayload(method, path, token string, body []byte, ts string) string {
	return fmt.Sprintf("%s:%s:%s:%x:%s", strings.ToUpper(method), path, token, sha256.Sum256(body), ts)
}

// simRequestMAC is HMAC-SHA512(secret, payload).
func simRequestMAC(secret, payload string) []byte {
	m := hmac.New(sha512.New, []byte(secret))
	_, _ = io.WriteString(m, payload)
	return m.Sum(nil)
}

// simVerifyRequest checks a call's Open-Api-Signature over the exact body
// bytes received.
func simVerifyRequest(secret, method, path, token string, body []byte, ts, sigB64 string) bool {
	got, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return false
	}
	return hmac.Equal(got, simRequestMAC(secret, simRequestPayload(method, path, token, body, ts)))
}

// timely reports whether ts is a WIB Open-Api-Timestamp within MaxSkew of Now.
func (s *Simulator) timely(ts string) bool {
	if !strings.HasSuffix(ts, "+07:00") {
		return false
	}
	t, err := time.Parse(simTimestampLayout, ts)
	if err != nil {
		return false
	}
	d := s.cfg.Now().Sub(t)
	return d <= s.cfg.MaxSkew && d >= -s.cfg.MaxSkew
}

// handleToken serves POST /v1/open-api/access-token.
func (s *Simulator) handleToken(w http.ResponseWriter, r *http.Request) {
	const svc = "01"
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		reply(w, "400"+svc+"6510", "Invalid request body", nil)
		return
	}
	ts := r.Header.Get("Open-Api-Timestamp")
	if !s.timely(ts) {
		reply(w, "400"+svc+"6505", "Invalid timestamp", nil)
		return
	}
	var req struct {
		GrantType      string `json:"grant_type"`
		AdditionalInfo struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"additional_info"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.GrantType != "client_credentials" {
		reply(w, "400"+svc+"6510", "Invalid request body", nil)
		return
	}
	id, secret := req.AdditionalInfo.ClientID, req.AdditionalInfo.ClientSecret
	if id == "" || secret == "" {
		reply(w, "400"+svc+"6512", "Field client_id and client_secret are required", nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
		reply(w, "401"+svc+"6570", "Invalid client credentials", nil)
		return
	}
	if !simVerifyTokenSignature(s.cfg.PublicKey, id, ts, r.Header.Get("Open-Api-Signature")) {
		reply(w, "400"+svc+"6508", "Invalid signature", nil)
		return
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	s.mu.Lock()
	s.tokens[token] = s.cfg.Now().Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	reply(w, "200"+svc+"2000", "Sukses", map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int64(s.cfg.TokenTTL / time.Second),
	})
}

// tokenValid reports whether token was issued and has not expired or been
// revoked.
func (s *Simulator) tokenValid(token string) bool {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[token]
	if ok && !now.Before(exp) {
		delete(s.tokens, token)
		return false
	}
	return ok
}

// authed wraps an API handler with the checks of every call but the token
// request, in Klikoo's order: timestamp, token, signature. svc is the
// service digits of the codes it answers. The handler receives the exact
// body bytes that were verified.
func (s *Simulator) authed(svc string, h func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			reply(w, "400"+svc+"6510", "Invalid request body", nil)
			return
		}
		ts := r.Header.Get("Open-Api-Timestamp")
		if !s.timely(ts) {
			reply(w, "400"+svc+"6505", "Invalid timestamp", nil)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			reply(w, "401"+svc+"6500", "Invalid token", nil)
			return
		}
		if !s.tokenValid(token) {
			reply(w, "401"+svc+"6535", "Token is expired or unknown", nil)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, s.cfg.Prefix)
		if !simVerifyRequest(s.cfg.ClientSecret, r.Method, path, token, body, ts, r.Header.Get("Open-Api-Signature")) {
			reply(w, "400"+svc+"6508", "Invalid signature", nil)
			return
		}
		if r.Method == http.MethodPost {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				reply(w, "400"+svc+"6510", "Content-Type must be application/json", nil)
				return
			}
		}
		h(w, r, body)
	}
}
