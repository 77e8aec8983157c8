package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A process trusts a key it found enabled for API_KEY_CACHE_TTL, no longer:
// a key disabled in the database keeps working until then, and an unknown
// key is never cached.
func TestKeyCacheTrustsAKeyForItsTTLOnly(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, func(c *httpapi.Config) { c.KeyCacheTTL = 10 * time.Second })
	ctx := context.Background()
	want(t, e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil), http.StatusOK)
	if _, err := e.Pool.Exec(ctx, "UPDATE clients SET disabled_at = now() WHERE id = $1", e.A); err != nil {
		t.Fatal(err)
	}
	want(t, e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil), http.StatusOK)
	e.Clock.Advance(11 * time.Second)
	wantProblem(t, e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil), http.StatusUnauthorized, "unauthorized")
	e.Clock.Advance(-11 * time.Second)
	wantProblem(t, e.call(t, http.MethodGet, "/v1/products", e.KeyA, nil), http.StatusUnauthorized, "unauthorized")

	// Unknown, then created: the key works at once (no negative caching).
	key, hash, prefix, err := httpapi.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.call(t, http.MethodGet, "/v1/products", key, nil), http.StatusUnauthorized, "unauthorized")
	if _, err := e.Q.ClientInsert(ctx, store.ClientInsertParams{ID: uuid.New(), Name: "shop C", KeyHash: hash, KeyPrefix: prefix, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	want(t, e.call(t, http.MethodGet, "/v1/products", key, nil), http.StatusOK)
}

// Without the cache a disabled key stops working on the next request.
func TestKeyCacheOff(t *testing.T) {
	t.Parallel()
	e := setup(t, flowtest.Options{}, nil)
	want(t, e.call(t, http.MethodGet, "/v1/products", e.KeyB, nil), http.StatusOK)
	if _, err := e.Pool.Exec(context.Background(), "UPDATE clients SET disabled_at = now() WHERE id = $1", e.B); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.call(t, http.MethodGet, "/v1/products", e.KeyB, nil), http.StatusUnauthorized, "unauthorized")
}
