// Command withpg runs a command with TEST_DATABASE_URL pointing at a
// PostgreSQL server: the one TEST_DATABASE_URL already names, else
// 127.0.0.1:5432 as user postgres, else a throwaway cluster it starts from the
// installed binaries and stops afterwards. `make test` runs `go test` under it.
//
//	go run ./internal/tools/withpg -- go test -race ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ppob-orchestrator/orchestrator/internal/pgcluster"
)

const localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string) (int, error) {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return 2, errors.New("usage: withpg -- COMMAND [ARGS...]")
	}
	url := os.Getenv("TEST_DATABASE_URL")
	switch {
	case url != "":
		if err := ping(ctx, url); err != nil {
			return 2, fmt.Errorf("TEST_DATABASE_URL: cannot connect: %w", err)
		}
		fmt.Fprintln(os.Stderr, "withpg: using TEST_DATABASE_URL")
	case ping(ctx, localURL) == nil:
		url = localURL
		fmt.Fprintln(os.Stderr, "withpg: using PostgreSQL at 127.0.0.1:5432")
	default:
		dir, err := os.MkdirTemp("", "orchestrator-testpg-")
		if err != nil {
			return 2, err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "withpg: no server at 127.0.0.1:5432; starting a throwaway cluster in", dir)
		cluster, err := pgcluster.Start(ctx, dir+"/data")
		if err != nil {
			return 2, err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				fmt.Fprintln(os.Stderr, "withpg:", err)
			}
		}()
		url = cluster.URL()
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "TEST_DATABASE_URL="+url)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), nil
		}
		return 2, err
	}
	return 0, nil
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}
