package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// runKeygen writes a new RSA-2048 key in PKCS#8 PEM (what
// KLIKOO_PRIVATE_KEY_FILE holds) and prints its public key, which a partner
// registers with Klikoo. It refuses to overwrite an existing file.
func runKeygen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "", "file to write the private key to (must not exist)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if *out == "" {
		return errors.New("keygen: --out is required")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			fmt.Fprintf(stdout, "keygen: %s exists; keeping it\n", *out)
			return nil
		}
		return fmt.Errorf("keygen: --out: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key written to %s; register this public key with Klikoo:\n", *out)
	return pem.Encode(stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: pub})
}
