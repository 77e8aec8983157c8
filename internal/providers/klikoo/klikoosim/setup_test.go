package klikoosim

import (
	"crypto/rsa"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo/testvectors"
)

// testVectors returns the signature test vectors the client's tests
// reproduce too.
func testVectors(t testing.TB) testvectors.Vectors {
	t.Helper()
	v, err := testvectors.Load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// vectorPublicKey is the vectors' public key: the simulator needs only the
// public half, as Klikoo does.
func vectorPublicKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	pub, err := testVectors(t).RSAPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
