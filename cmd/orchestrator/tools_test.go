package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/httpapi"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/klikoo"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

func envWith(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// keygen writes a PKCS#8 key the Klikoo client accepts, prints its public
// key, and never overwrites an existing file.
func TestKeygen(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "klikoo.pem")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keygen", "--out", file}, envWith(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := klikoo.ParsePrivateKeyPEM(pemBytes); err != nil {
		t.Fatalf("the key keygen wrote is not usable: %v", err)
	}
	if !strings.Contains(out.String(), "BEGIN PUBLIC KEY") || strings.Contains(out.String(), "PRIVATE KEY-----") {
		t.Fatalf("keygen printed %q; want the public key only", out.String())
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if err := run(context.Background(), []string{"keygen", "--out", file}, envWith(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(file)
	if !bytes.Equal(again, pemBytes) {
		t.Fatal("keygen overwrote an existing key")
	}
	if err := run(context.Background(), []string{"keygen"}, envWith(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Fatalf("keygen without --out: %v", err)
	}
}

// catalog demo seeds every simulator product; clients create prints a key
// whose hash, and only its hash, is stored.
func TestCatalogDemoAndClientsCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabase(t)
	env := envWith(map[string]string{"DATABASE_URL": url})
	if err := run(ctx, []string{"catalog", "demo"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	q := store.New(pool)
	products, err := q.ProductList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{} // a routed product is one entry per offer
	for _, e := range sandbox.Catalog() {
		codes[e.Code] = true
	}
	if len(products) != len(codes) {
		t.Fatalf("catalog demo seeded %d products, the simulators sell %d", len(products), len(codes))
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"clients", "create", "--name", "shop"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`ppob_[a-z0-9]+`).FindString(out.String())
	if key == "" {
		t.Fatalf("no API key printed: %q", out.String())
	}
	c, err := q.ClientGetByKeyHash(ctx, httpapi.HashAPIKey(key))
	if err != nil || c.Name != "shop" {
		t.Fatalf("client for the printed key: %+v %v", c, err)
	}
	if bytes.Contains(c.KeyHash, []byte(key)) || strings.Contains(c.KeyPrefix, key) {
		t.Fatal("the key itself is stored")
	}
	for _, args := range [][]string{{"clients"}, {"clients", "create"}, {"clients", "create", "--name", " "}, {"catalog", "all"}} {
		if err := run(ctx, args, env, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
