package webhook

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// receiverFromDocs returns the whole receiver of docs/webhooks.md: the Go
// block that starts with its "Save as" line.
func receiverFromDocs(t *testing.T) string {
	t.Helper()
	md, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, found := strings.Cut(string(md), "```go\n// Save as /tmp/receiver/main.go")
	src, _, closed := strings.Cut(rest, "\n```")
	if !found || !closed {
		t.Fatal("docs/webhooks.md has no Go block starting with its receiver's \"Save as\" line")
	}
	return "// Save as /tmp/receiver/main.go" + src + "\n"
}

// The receiver the docs give a client, built as they say and run on a free
// port, verifies a message signed as the sender signs it and refuses one
// whose body was changed on the way.
func TestReceiverOfTheDocsVerifiesOurSignature(t *testing.T) {
	src := receiverFromDocs(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if !strings.Contains(src, `"127.0.0.1:9999"`) {
		t.Fatal("the receiver no longer listens on 127.0.0.1:9999, as the docs' dev command expects")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, []byte(strings.Replace(src, "127.0.0.1:9999", addr, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "receiver")
	build := exec.Command("go", "build", "-o", bin, main)
	build.Dir = dir // outside this module, as a client builds it
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the docs' receiver does not build: %v\n%s", err, out)
	}
	key, secret, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(logs)

	send := func(body, signedBody []byte) string {
		t.Helper()
		id := WebhookID(uuid.New())
		ts := time.Now().Unix()
		var res *http.Response
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/hook", bytes.NewReader(body))
			req.Header.Set("webhook-id", id)
			req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
			req.Header.Set("webhook-signature", signature([][]byte{key}, id, ts, signedBody))
			if res, err = http.DefaultClient.Do(req); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("the receiver does not answer: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("the receiver answered %d, want 204", res.StatusCode)
		}
		if !lines.Scan() {
			t.Fatalf("the receiver logged nothing: %v", lines.Err())
		}
		if line := lines.Text(); strings.Contains(line, id) {
			return line
		}
		t.Fatalf("the receiver's log line does not name %s", id)
		return ""
	}
	body := []byte(`{"type":"purchase.succeeded","data":{"purchase":{"id":"x"}}}`)
	if line := send(body, body); !strings.Contains(line, "verified=true") {
		t.Errorf("a message signed as the sender signs it: %q, want verified=true", line)
	}
	changed := []byte(`{"type":"purchase.failed","data":{"purchase":{"id":"x"}}}`)
	if line := send(changed, body); !strings.Contains(line, "verified=false") {
		t.Errorf("a message whose body was changed: %q, want verified=false", line)
	}
}
