package klikoosim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"sync"
	"testing"
)

// vectors is the signature test vectors the client's tests reproduce too
// (../testdata/klikoo-signatures.json): a throwaway key, fixed inputs, the
// expected strings to sign and signatures, computed outside this project.
type vectors struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AccessToken  string `json:"access_token"`
	Timestamp    string `json:"timestamp"`
	PublicKey    string `json:"public_key_pem"`
	TokenRequest struct {
		StringToSign string `json:"string_to_sign"`
		Signature    string `json:"signature"`
	} `json:"access_token_request"`
	Requests []struct {
		Name         string `json:"name"`
		Method       string `json:"method"`
		Path         string `json:"path"`
		Body         string `json:"body"`
		StringToSign string `json:"string_to_sign"`
		Signature    string `json:"signature"`
	} `json:"requests"`
}

var loadVectors = sync.OnceValues(func() (vectors, error) {
	var v vectors
	raw, err := os.ReadFile("../testdata/klikoo-signatures.json")
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(raw, &v)
})

func testVectors(t testing.TB) vectors {
	t.Helper()
	v, err := loadVectors()
	if err != nil {
		t.Fatalf("load vectors: %v", err)
	}
	return v
}

// vectorPublicKey parses the vectors' public key: the simulator needs only
// the public half, as Klikoo does.
func vectorPublicKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	block, _ := pem.Decode([]byte(testVectors(t).PublicKey))
	if block == nil {
		t.Fatalf("public key: no PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T", k)
	}
	return pub
}
