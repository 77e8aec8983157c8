package simkit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"
)

// The garbage fault answers a status above 599 that Go's client accepts,
// with codes and messages holding NUL bytes and invalid UTF-8 — half the
// time after the provider processed the call, as every fault.
func TestGarbageFault(t *testing.T) {
	t.Parallel()
	var processed atomic.Int32
	in := &Injector{}
	in.Set(Faults{GarbageRate: 1})
	srv := httptest.NewServer(in.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		processed.Add(1)
		WriteJSON(w, http.StatusOK, map[string]string{"response_code": "200022000"})
	})))
	t.Cleanup(srv.Close)
	const calls = 40
	for range calls {
		res, err := http.Post(srv.URL+"/v1/open-api/products/buy", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatalf("Go's client must accept the garbage answer: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != GarbageStatus || res.StatusCode <= 599 {
			t.Fatalf("status %d, want %d", res.StatusCode, GarbageStatus)
		}
		if utf8.Valid(body) {
			t.Fatalf("the garbage body is valid UTF-8: %q", body)
		}
		var codes struct {
			ResponseCode string `json:"response_code"`
			StatusCode   string `json:"status_code"`
		}
		if err := json.Unmarshal(body, &codes); err != nil {
			t.Fatalf("the garbage body is not JSON a client reads codes from: %v", err)
		}
		if !strings.Contains(codes.ResponseCode, "\x00") || !strings.Contains(codes.StatusCode, "\x00") {
			t.Fatalf("codes %q %q hold no NUL byte", codes.ResponseCode, codes.StatusCode)
		}
	}
	if n := processed.Load(); n == 0 || n == calls {
		t.Errorf("the provider processed %d of %d garbage-answered calls, want some before and some after", n, calls)
	}
	res, err := http.Get(srv.URL + "/_sim/ledger")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("a control route got a fault: %d", res.StatusCode)
	}
}

func TestFaultsValidateGarbageRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    Faults
		want string
	}{
		{Faults{GarbageRate: 1.5}, "garbage_rate"},
		{Faults{GarbageRate: -0.1}, "garbage_rate"},
		{Faults{GarbageRate: 0.6, ResetRate: 0.6}, "garbage_rate: must not exceed 1"},
	} {
		if err := c.f.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.f, err, c.want)
		}
	}
	if err := (Faults{GarbageRate: 0.5, TimeoutRate: 0.5}).Validate(); err != nil {
		t.Errorf("valid faults refused: %v", err)
	}
}
