package simkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Faults are random fault rates for chaos runs and latency for benchmarks.
// Rates are probabilities in [0, 1] applied to every provider call (never to
// /_sim/ routes). A fault happens either before the call is processed (nothing
// happened at the provider) or after it (the provider acted, the answer is
// lost), each with half the probability, because both happen in real life.
type Faults struct {
	TimeoutRate     float64 `json:"timeout_rate"`      // hold the request, then drop the connection
	ResetRate       float64 `json:"reset_rate"`        // close the connection without an answer
	ServerErrorRate float64 `json:"server_error_rate"` // answer HTTP 500 with a non-provider body
	// GarbageRate answers what no provider should but a broken one can: an
	// HTTP status above 599 and a body whose codes and messages hold NUL
	// bytes and invalid UTF-8 (invariant 5 of docs/invariants.md: no answer
	// may make an audit insert, and with it a step, fail).
	GarbageRate float64 `json:"garbage_rate"`
	LatencyMS   int     `json:"latency_ms"` // added to every call
	JitterMS    int     `json:"jitter_ms"`  // uniform ± around LatencyMS
	// HoldMS is how long a timeout fault holds the request (default 15000).
	HoldMS int `json:"hold_ms"`
}

// Validate checks the rates and durations, naming the bad field.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"timeout_rate": f.TimeoutRate, "reset_rate": f.ResetRate, "server_error_rate": f.ServerErrorRate, "garbage_rate": f.GarbageRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s: must be between 0 and 1, got %v", name, r)
		}
	}
	if f.TimeoutRate+f.ResetRate+f.ServerErrorRate+f.GarbageRate > 1 {
		return fmt.Errorf("timeout_rate + reset_rate + server_error_rate + garbage_rate: must not exceed 1")
	}
	for name, v := range map[string]int{"latency_ms": f.LatencyMS, "jitter_ms": f.JitterMS, "hold_ms": f.HoldMS} {
		if v < 0 || v > 600_000 {
			return fmt.Errorf("%s: must be between 0 and 600000, got %d", name, v)
		}
	}
	if f.JitterMS > f.LatencyMS {
		return fmt.Errorf("jitter_ms: must not exceed latency_ms")
	}
	return nil
}

// Injector applies Faults around a provider handler. It is safe for
// concurrent use; the zero value injects nothing.
type Injector struct {
	mu     sync.Mutex
	faults Faults
}

// Set replaces the fault configuration.
func (in *Injector) Set(f Faults) {
	in.mu.Lock()
	in.faults = f
	in.mu.Unlock()
}

// Get returns the fault configuration.
func (in *Injector) Get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.faults
}

// Wrap returns next with faults injected.
func (in *Injector) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			next.ServeHTTP(w, r)
			return
		}
		f := in.Get()
		if d := latency(f); d > 0 {
			Sleep(r, d)
		}
		roll := rand.Float64()
		var fault string
		switch {
		case roll < f.TimeoutRate:
			fault = "timeout"
		case roll < f.TimeoutRate+f.ResetRate:
			fault = "reset"
		case roll < f.TimeoutRate+f.ResetRate+f.ServerErrorRate:
			fault = "5xx"
		case roll < f.TimeoutRate+f.ResetRate+f.ServerErrorRate+f.GarbageRate:
			fault = "garbage"
		default:
			next.ServeHTTP(w, r)
			return
		}
		if rand.IntN(2) == 0 {
			// After: the provider processes the call, the answer is lost.
			rec := httptest.NewRecorder()
			body, _ := readAll(r)
			r2 := r.Clone(r.Context())
			r2.Body = readCloser(body)
			next.ServeHTTP(rec, r2)
		}
		switch fault {
		case "timeout":
			hold := time.Duration(f.HoldMS) * time.Millisecond
			if hold == 0 {
				hold = 15 * time.Second
			}
			Sleep(r, hold)
			Drop(w)
		case "reset":
			Drop(w)
		case "garbage":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(GarbageStatus)
			_, _ = w.Write([]byte(GarbageBody))
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<html><body>502 upstream error (simulated fault)</body></html>"))
		}
	})
}

// GarbageStatus and GarbageBody are the garbage fault's answer: a status
// Go's HTTP client accepts (three digits) but no provider sends, and a
// JSON body with the code and message keys of both providers, their values
// holding NUL bytes (\u0000) and invalid UTF-8 (raw 0xff 0xfe).
const (
	GarbageStatus = 799
	GarbageBody   = "{\"response_code\":\"\\u0000\\u0000\",\"response_message\":\"\xff\xfe\\u0000\"," +
		"\"status_code\":\"\\u0000\",\"status_message\":\"\xff\\u0000\"," +
		"\"data\":{\"status\":\"\\u0000\xff\",\"transaction_status\":\"\\u0000\",\"biller_code\":\"\\u0000\",\"biller_message\":\"\xfe\"}}"
)

func latency(f Faults) time.Duration {
	ms := f.LatencyMS
	if f.JitterMS > 0 {
		ms += rand.IntN(2*f.JitterMS+1) - f.JitterMS
	}
	return time.Duration(ms) * time.Millisecond
}

// Sleep waits for d or until the client goes away.
func Sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// Drop closes the client's connection without an answer (a connection reset
// or, after a hold, a timeout as the client sees it).
func Drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// WriteJSON writes v as a JSON answer with the given HTTP status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func readCloser(b []byte) nopCloser { return nopCloser{bytes.NewReader(b)} }
