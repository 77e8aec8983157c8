// Package dbtest gives each test its own fresh, migrated PostgreSQL database
// in milliseconds: the migrations run once into a template database whose
// name carries a hash of the migrations, and every test gets a
// `CREATE DATABASE … TEMPLATE` copy, dropped when the test ends. Cloning is
// serialized with an advisory lock, because `go test ./...` runs packages in
// parallel processes against one server.
//
// The server is TEST_DATABASE_URL, else 127.0.0.1:5432 as user postgres
// (`make test` sets TEST_DATABASE_URL, starting a server when there is none).
package dbtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
	"github.com/ppob-orchestrator/orchestrator/migrations"
)

// lockKey is the advisory lock serializing template builds and clones.
const lockKey = 0x6f726368 // "orch"

// keepTemplates is how many templates of other migrations survive the build
// of a new one.
const keepTemplates = 8

// ServerURL returns the URL of the test server's maintenance database.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// NewDatabase creates a fresh migrated database for t, dropped at cleanup,
// and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		t.Fatalf("dbtest: prepare template database on %s: %v\n"+
			"Run the tests with `make test`, which finds or starts PostgreSQL, or set TEST_DATABASE_URL.",
			redact(ServerURL()), templateErr)
	}
	name := "orch_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	err := withAdmin(ctx, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return err
		}
		defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck
		_, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateName))
		return err
	})
	if err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := withAdmin(ctx, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
			return err
		})
		if err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(ServerURL(), name)
}

// NewPool creates a fresh migrated database for t and returns a pool on it,
// closed at cleanup.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewDatabase(t))
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewEmptyDatabase creates a fresh database with no schema at all, for
// migration tests, dropped at cleanup, and returns its URL.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	name := "orch_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	err := withAdmin(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+name)
		return err
	})
	if err != nil {
		t.Fatalf("dbtest: create database on %s: %v", redact(ServerURL()), err)
	}
	t.Cleanup(func() {
		_ = withAdmin(context.Background(), func(conn *pgx.Conn) error {
			_, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		})
	})
	return withDatabase(ServerURL(), name)
}

// ensureTemplate builds the template database for the current migrations
// unless it exists, and drops templates of older migrations but the
// newest keepTemplates.
func ensureTemplate(ctx context.Context) (string, error) {
	hash, err := migrationsHash()
	if err != nil {
		return "", err
	}
	// The migrations make the audit tables' months from the current one in
	// Asia/Jakarta: a template of last month lacks the newest month the
	// service keeps ahead, and every service a test starts would make it,
	// with DDL that locks purchases. So a template is a month's.
	name := "orch_tmpl_" + hash + "_" + time.Now().In(time.FixedZone("WIB", 7*3600)).Format("200601")
	err = withAdmin(ctx, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return err
		}
		defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		// Drop old templates, but not the newest few: several checkouts
		// (branches with other migrations) may test on one server at once,
		// and each must keep its own.
		rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'orch_tmpl_%' ORDER BY oid DESC OFFSET $1", keepTemplates)
		if err != nil {
			return err
		}
		old, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, o := range old {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+o+" WITH (FORCE)"); err != nil {
				return err
			}
		}
		// Build under a scratch name and rename when complete, so a crash
		// mid-build never leaves a half-migrated template behind.
		build := "orch_build_" + hash
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+build); err != nil {
			return err
		}
		if err := migrateUp(ctx, withDatabase(ServerURL(), build)); err != nil {
			return fmt.Errorf("migrate template: %w", err)
		}
		_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", build, name))
		return err
	})
	return name, err
}

// migrateUp migrates dbURL; the "pgx" database/sql driver is registered by
// the migrations package's import of pgx's stdlib.
func migrateUp(ctx context.Context, dbURL string) error {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// migrationsHash hashes every migration file and the River version.
func migrationsHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "river=%d\n", migrations.RiverVersion)
	err := fs.WalkDir(migrations.SQL, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.SQL, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

func withAdmin(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(conn)
}

func withDatabase(serverURL, name string) string {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme == "" {
		// A keyword/value connection string.
		return serverURL + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// StartCluster starts a cluster of the test's own with start
// (pgcluster.Start or one of its durable variants) in a temporary
// directory, and stops it when the test ends: for a test that stops its
// server, or needs server settings the shared test server does not have.
func StartCluster(t testing.TB, start func(context.Context, string) (*pgcluster.Cluster, error)) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := start(ctx, filepath.Join(t.TempDir(), "pgdata"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Stop(stopCtx)
	})
	return c
}
