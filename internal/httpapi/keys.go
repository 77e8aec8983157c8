package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// APIKeyPrefix starts every API key, so a leaked key is recognizable (secret
// scanners, logs) and cannot be mistaken for the admin token.
const APIKeyPrefix = "ppob_"

// keyEncoding is lower-case base32 without padding: copy-paste safe, no
// characters a shell or URL treats specially.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKey returns a new client API key: APIKeyPrefix followed by 32 random
// bytes in lower-case base32 (57 characters in all). hash is what
// clients.key_hash stores (HashAPIKey(key)); prefix is the key's first 12
// characters, stored for display so an operator can tell keys apart. The key
// itself is shown once and never stored. err is non-nil only when the system's
// random source fails.
func NewAPIKey() (key string, hash []byte, prefix string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, "", fmt.Errorf("new api key: %w", err)
	}
	key = APIKeyPrefix + keyEncoding.EncodeToString(b[:])
	return key, HashAPIKey(key), key[:12], nil
}

// HashAPIKey returns the SHA-256 of key, as clients.key_hash stores it. A
// fast hash is enough: keys carry 256 random bits, nothing to brute-force.
// Surrounding spaces are ignored, as when the key comes from a header.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return sum[:]
}
