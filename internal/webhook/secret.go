package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// secretPrefix begins every endpoint secret (the Standard Webhooks format).
const secretPrefix = "whsec_"

// secretBytes is the length of an endpoint's signing key.
const secretBytes = 32

// newSecret returns a fresh signing key and the secret a client is shown:
// whsec_ followed by the key in standard base64.
func newSecret() (key []byte, secret string, err error) {
	key = make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("new webhook secret: %w", err)
	}
	return key, secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// ParseSecretKey decodes WEBHOOK_SECRET_KEY: 32 bytes in standard base64.
func ParseSecretKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, errors.New("must be 32 bytes in standard base64 (e.g. `openssl rand -base64 32`)")
	}
	return key, nil
}

// NewSecretKey returns a fresh WEBHOOK_SECRET_KEY value, for `dev`.
func NewSecretKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// sealer encrypts endpoint keys with AES-256-GCM. The endpoint's id is the
// additional data, so a sealed key copied to another endpoint's row does not
// open. It is safe for concurrent use.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("webhook: the secret key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns nonce || ciphertext of key for the endpoint.
func (s *sealer) seal(endpoint uuid.UUID, key []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret of endpoint %s: %w", endpoint, err)
	}
	return s.aead.Seal(nonce, nonce, key, endpoint[:]), nil
}

// open returns the key sealed for the endpoint.
func (s *sealer) open(endpoint uuid.UUID, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("open secret of endpoint %s: too short", endpoint)
	}
	key, err := s.aead.Open(nil, sealed[:n], sealed[n:], endpoint[:])
	if err != nil {
		return nil, fmt.Errorf("open secret of endpoint %s (is WEBHOOK_SECRET_KEY the one it was sealed with?): %w", endpoint, err)
	}
	return key, nil
}
