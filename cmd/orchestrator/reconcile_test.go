package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/snapcart"
)

// reconcileWith runs `orchestrator reconcile ARGS` against databaseURL.
func reconcileWith(t *testing.T, databaseURL string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": databaseURL}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = runReconcile(context.Background(), cfg, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// `reconcile` exits 0 on a clean database, 1 once something needs attention
// (here a callback that matched no purchase), and reports bad flags and a
// missing DATABASE_URL as errors naming them (exit 2).
func TestReconcileExitCodes(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{NoStart: true})
	url := b.Pool.Config().ConnString()

	out, _, err := reconcileWith(t, url)
	if err != nil {
		t.Fatalf("clean database: %v\n%s", err, out)
	}
	if !strings.Contains(out, "clean: nothing needs attention") {
		t.Fatalf("clean table:\n%s", out)
	}
	out, _, err = reconcileWith(t, url, "--format", "json", "--since", "7d")
	var report struct {
		NeedsAttention *bool `json:"needs_attention"`
	}
	if err != nil || json.Unmarshal([]byte(out), &report) != nil || report.NeedsAttention == nil || *report.NeedsAttention {
		t.Fatalf("clean json: err %v\n%s", err, out)
	}

	action, err := b.Svc.HandleCallback(context.Background(), snapcart.Name, []byte("not a callback"), "")
	if err != nil || action != flow.CallbackUnreadable {
		t.Fatalf("callback: %q %v", action, err)
	}
	out, stderr, err := reconcileWith(t, url)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("with an unmatched callback: err %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(out, "NEEDS ATTENTION") || !strings.Contains(out, "unreadable") || !strings.Contains(stderr, "needs attention") {
		t.Fatalf("attention output:\n%s\nstderr: %s", out, stderr)
	}
	// A window that starts after the callback: nothing to report.
	tomorrow := time.Now().Add(48 * time.Hour).Format(time.RFC3339)
	if _, _, err := reconcileWith(t, url, "--since", tomorrow); err != nil {
		t.Fatalf("--since %s: %v", tomorrow, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday"}, "--since"},
		{[]string{"--format", "xml"}, "--format"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"extra"}, "extra"},
	} {
		_, _, err := reconcileWith(t, url, c.args...)
		if err == nil || errors.As(err, &exit) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("reconcile %v: err %v, want an error naming %s", c.args, err, c.want)
		}
	}
	if _, _, err := reconcileWith(t, ""); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("without DATABASE_URL: %v", err)
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.AddDate(0, 0, -7),
		"2025-03-01":                time.Date(2025, 2, 28, 17, 0, 0, 0, time.UTC), // midnight in Jakarta
		"2025-03-01T08:00:00+07:00": time.Date(2025, 3, 1, 1, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1h", "soon", "3w", "2025-13-01"} {
		if _, err := parseSince(in, now); err == nil {
			t.Errorf("parseSince(%q) accepted", in)
		}
	}
}
