package klikoo

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// tokenPath is the access-token endpoint.
const tokenPath = "/v1/open-api/access-token"

// tokenMargin is how long before its expiry a cached token is replaced.
const tokenMargin = 60 * time.Second

// tokenCache holds the shared access token. One fetch runs at a time; callers
// that find a fetch under way wait for it and use its token.
type tokenCache struct {
	fetching chan struct{} // a one-slot semaphore held during a fetch
	mu       sync.Mutex
	token    string
	validTo  time.Time // by the client's clock, already less the margin
}

func newTokenCache() tokenCache { return tokenCache{fetching: make(chan struct{}, 1)} }

// cached returns the cached token if it is valid at now and is not stale.
func (tc *tokenCache) cached(now time.Time, stale string) (string, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.token == "" || tc.token == stale || !now.Before(tc.validTo) {
		return "", false
	}
	return tc.token, true
}

func (tc *tokenCache) store(token string, validTo time.Time) {
	tc.mu.Lock()
	tc.token, tc.validTo = token, validTo
	tc.mu.Unlock()
}

// tokenBody is the access-token request body.
type tokenBody struct {
	GrantType      string         `json:"grant_type"`
	AdditionalInfo tokenAdditInfo `json:"additional_info"`
}

type tokenAdditInfo struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// accessToken returns a valid access token other than stale (the token an
// answer just refused), fetching one when needed. The fetch's exchange is
// appended to res.Calls. When no token can be had it returns false with res
// set to Rejected: the caller's own call is not sent, so nothing happened at
// Klikoo; the reason is the token answer's (clock_skew, bad_signature,
// bad_credentials…) or, for a network failure, timeout / connection_error.
func (c *Client) accessToken(ctx context.Context, stale string, res *providers.Result) (string, bool) {
	if tok, ok := c.tokens.cached(c.now(), stale); ok {
		return tok, true
	}
	select {
	case c.tokens.fetching <- struct{}{}:
	case <-ctx.Done():
		res.Outcome, res.Reason = providers.Rejected, transportReason(ctx.Err())
		res.Detail = "no access token: " + ctx.Err().Error()
		return "", false
	}
	defer func() { <-c.tokens.fetching }()
	// Another caller may have fetched while we waited.
	if tok, ok := c.tokens.cached(c.now(), stale); ok {
		return tok, true
	}
	tok, validTo, v, a := c.fetchToken(ctx, res)
	if !v.OK {
		res.Outcome, res.Reason = providers.Rejected, v.Reason
		res.Detail = "no access token: " + a.detail()
		return "", false
	}
	c.tokens.store(tok, validTo)
	return tok, true
}

// fetchToken makes the access-token exchange. v.OK is false when no token
// came back.
func (c *Client) fetchToken(ctx context.Context, res *providers.Result) (token string, validTo time.Time, v verdict, a answer) {
	body := tokenBody{GrantType: "client_credentials", AdditionalInfo: tokenAdditInfo{ClientID: c.clientID, ClientSecret: c.secret}}
	raw, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, vUnknown(providers.ReasonInvalidRequest), answer{err: fmt.Errorf("encode access-token request: %w", err)}
	}
	body.AdditionalInfo.ClientSecret = redacted
	audit, _ := json.Marshal(body)
	sent := c.now()
	a = c.send(ctx, request{op: opToken, method: "POST", path: tokenPath, body: raw, auditBody: audit, table: readCodes}, "", res)
	token, ttl, v := readToken(a)
	if !v.OK {
		return "", time.Time{}, v, a
	}
	return token, sent.Add(ttl), v, a
}

// readToken reads an access-token answer: the token and how long to cache it
// (expires_in less tokenMargin; half of expires_in when that is 2 minutes or
// less; one minute when expires_in is absent or not positive).
func readToken(a answer) (token string, ttl time.Duration, v verdict) {
	v = a.verdict(readCodes)
	if !v.OK {
		if v.Outcome == providers.Succeeded || v.Refresh {
			v = vRejected(providers.ReasonTokenInvalid)
		}
		return "", 0, v
	}
	unreadable := verdict{Outcome: providers.Unknown, Reason: providers.ReasonUnreadableAnswer}
	f, err := decodeFields(a.env.Data)
	if err != nil {
		return "", 0, unreadable
	}
	token, err = f.text("access_token")
	if err != nil || token == "" {
		return "", 0, unreadable
	}
	typ, err := f.text("token_type")
	if err != nil || (typ != "" && typ != "Bearer" && typ != "bearer") {
		return "", 0, unreadable
	}
	secs, present, err := f.money("expires_in") // a non-negative whole number
	if err != nil {
		return "", 0, unreadable
	}
	if secs > 86400 {
		secs = 86400 // never trust a token for more than a day
	}
	life := time.Duration(secs) * time.Second
	switch {
	case !present || secs == 0:
		ttl = time.Minute
	case life <= 2*tokenMargin:
		ttl = life / 2
	default:
		ttl = life - tokenMargin
	}
	return token, ttl, v
}
