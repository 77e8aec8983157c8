package httpapi

import (
	"sync"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// keyCacheMax bounds the key cache; when full it starts over empty. A
// reseller has a handful of apps, so it is never full in practice.
const keyCacheMax = 10_000

// keyCache remembers, for ttl, which client an API key's SHA-256 belongs
// to: every request otherwise costs a database transaction before its real
// work (docs/performance.md). Only keys found enabled are kept, never an
// unknown one, and never the key itself. A key disabled in the database
// keeps working on a process that cached it for at most ttl. A nil
// *keyCache (ttl zero) caches nothing. It is safe for concurrent use.
type keyCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[32]byte]keyCacheEntry
}

type keyCacheEntry struct {
	client  store.Client
	expires time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	if ttl <= 0 {
		return nil
	}
	return &keyCache{ttl: ttl, entries: map[[32]byte]keyCacheEntry{}}
}

// get returns the client cached for the key hash at now, if fresh.
func (k *keyCache) get(hash []byte, now time.Time) (store.Client, bool) {
	if k == nil || len(hash) != 32 {
		return store.Client{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.entries[[32]byte(hash)]
	if !ok || !now.Before(e.expires) {
		delete(k.entries, [32]byte(hash))
		return store.Client{}, false
	}
	return e.client, true
}

// put caches the client of the key hash from now.
func (k *keyCache) put(hash []byte, cl store.Client, now time.Time) {
	if k == nil || len(hash) != 32 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.entries) >= keyCacheMax {
		k.entries = map[[32]byte]keyCacheEntry{}
	}
	k.entries[[32]byte(hash)] = keyCacheEntry{client: cl, expires: now.Add(k.ttl)}
}
