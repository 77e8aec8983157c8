// Package testvectors holds the test vectors of Klikoo's two signatures
// (klikoo-signatures.json): a throwaway RSA key, fixed inputs, and the
// strings to sign and signatures expected of them, computed with OpenSSL and
// Python's hmac, apart from this project's code. The client's tests and the
// simulator's (klikoosim) both reproduce them, so neither side can drift from
// Klikoo's formulas along with the other. Only tests import this package.
package testvectors

import (
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

//go:embed klikoo-signatures.json
var raw []byte

// Vectors are the fixed inputs and the expected results.
type Vectors struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AccessToken  string `json:"access_token"`
	// Timestamp is the Open-Api-Timestamp every vector was signed at.
	Timestamp string `json:"timestamp"`
	// PrivateKey is the throwaway RSA key as PKCS#8 PEM; PublicKey its
	// public half as PKIX PEM.
	PrivateKey   string `json:"private_key_pkcs8_pem"`
	PublicKey    string `json:"public_key_pem"`
	TokenRequest struct {
		StringToSign string `json:"string_to_sign"`
		Signature    string `json:"signature"`
	} `json:"access_token_request"`
	Requests []Request `json:"requests"`
}

// Request is one signed call of the vectors.
type Request struct {
	Name         string `json:"name"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Body         string `json:"body"`
	StringToSign string `json:"string_to_sign"`
	Signature    string `json:"signature"`
}

// Load returns the vectors, decoded afresh on every call.
func Load() (Vectors, error) {
	var v Vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("klikoo signature vectors: %w", err)
	}
	return v, nil
}

// RSAPublicKey parses PublicKey on its own, so that a verifier under test
// does not lean on the private key.
func (v Vectors) RSAPublicKey() (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(v.PublicKey))
	if block == nil {
		return nil, errors.New("klikoo signature vectors: public key: no PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("klikoo signature vectors: public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("klikoo signature vectors: public key is %T, want RSA", k)
	}
	return pub, nil
}
