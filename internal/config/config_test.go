package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.ProviderTimeout != 10*time.Second || c.JobTimeout != 30*time.Second ||
		c.RescueAfter != 45*time.Second || c.StatusDeadline != 24*time.Hour || c.PaymentRepeatMinAge != 5*time.Minute ||
		c.InquiryTTL != 10*time.Minute || c.PriceMaxAge != time.Hour || c.DuplicateWindow != 2*time.Minute ||
		c.RateLimitPerClient != 50 || c.KlikooBalanceAlertBelow != 1_000_000 || c.SnapcartBalanceAlertBelow != 1_000_000 ||
		c.SimKlikooAddr != "127.0.0.1:8081" || c.SimSnapcartAddr != "127.0.0.1:8082" ||
		c.Workers != 500 || c.StepFetchInterval != 20*time.Millisecond || c.FetchCooldown != 100*time.Millisecond ||
		c.JobRetention != time.Hour {
		t.Fatalf("defaults differ from docs/configuration.md: %+v", c)
	}
}

// Every bad value stops the program with an error naming the variable.
func TestBadValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"HTTP_ADDR": "8080"}, "HTTP_ADDR"},
		{map[string]string{"PROVIDER_TIMEOUT": "ten"}, "PROVIDER_TIMEOUT"},
		{map[string]string{"JOB_TIMEOUT": "-1s"}, "JOB_TIMEOUT"},
		{map[string]string{"PROVIDER_TIMEOUT": "40s"}, "PROVIDER_TIMEOUT"},
		{map[string]string{"JOB_TIMEOUT": "50s"}, "JOB_TIMEOUT"},
		{map[string]string{"RESCUE_AFTER": "2h"}, "RESCUE_AFTER"},
		{map[string]string{"STATUS_DEADLINE": "1m"}, "PAYMENT_REPEAT_MIN_AGE"},
		{map[string]string{"RATE_LIMIT_PER_CLIENT": "0"}, "RATE_LIMIT_PER_CLIENT"},
		{map[string]string{"RATE_LIMIT_PER_CLIENT": "1.5"}, "RATE_LIMIT_PER_CLIENT"},
		{map[string]string{"KLIKOO_BALANCE_ALERT_BELOW": "-5"}, "KLIKOO_BALANCE_ALERT_BELOW"},
		{map[string]string{"KLIKOO_BASE_URL": "ftp://x"}, "KLIKOO_BASE_URL"},
		{map[string]string{"SNAPCART_BASE_URL": "not a url"}, "SNAPCART_BASE_URL"},
		{map[string]string{"CALLBACK_BASE_URL": "http://"}, "CALLBACK_BASE_URL"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"DB_MAX_CONNS": "1"}, "DB_MAX_CONNS"},
		{map[string]string{"WORKERS": "0"}, "WORKERS"},
		{map[string]string{"WORKERS": "10001"}, "WORKERS"},
		{map[string]string{"STEP_FETCH_INTERVAL": "0s"}, "STEP_FETCH_INTERVAL"},
		{map[string]string{"STEP_FETCH_INTERVAL": "500us"}, "STEP_FETCH_INTERVAL"},
		{map[string]string{"STEP_FETCH_INTERVAL": "2s"}, "STEP_FETCH_INTERVAL"},
		{map[string]string{"STEP_FETCH_INTERVAL": "often"}, "STEP_FETCH_INTERVAL"},
		{map[string]string{"FETCH_COOLDOWN": "-1ms"}, "FETCH_COOLDOWN"},
		{map[string]string{"FETCH_COOLDOWN": "5s"}, "FETCH_COOLDOWN"},
		{map[string]string{"JOB_RETENTION": "30s"}, "JOB_RETENTION"},
		{map[string]string{"JOB_RETENTION": "721h"}, "JOB_RETENTION"},
		{map[string]string{"JOB_RETENTION": "a day"}, "JOB_RETENTION"},
		{map[string]string{"API_DB_MAX_CONNS": "0"}, "API_DB_MAX_CONNS"},
		{map[string]string{"API_KEY_CACHE_TTL": "-1s"}, "API_KEY_CACHE_TTL"},
		{map[string]string{"API_KEY_CACHE_TTL": "1h"}, "API_KEY_CACHE_TTL"},
		{map[string]string{"API_KEY_CACHE_TTL": "soon"}, "API_KEY_CACHE_TTL"},
		{map[string]string{"LOOKUP_BACKOFF": "5s,,1m"}, "LOOKUP_BACKOFF"},
		{map[string]string{"LOOKUP_BACKOFF": "5s,-1s"}, "LOOKUP_BACKOFF"},
		{map[string]string{"CONSOLE_ADDR": "9090"}, "CONSOLE_ADDR"},
		{map[string]string{"CONSOLE_SESSION_TTL": "1m"}, "CONSOLE_SESSION_TTL"},
		{map[string]string{"CONSOLE_SESSION_TTL": "30d"}, "CONSOLE_SESSION_TTL"},
		{map[string]string{"CONSOLE_OPERATORS": "ana"}, "CONSOLE_OPERATORS"},
		{map[string]string{"CONSOLE_OPERATORS": "ana:abc"}, "CONSOLE_OPERATORS"},
		{map[string]string{"CONSOLE_OPERATORS": "a na:" + strings.Repeat("ab", 32)}, "CONSOLE_OPERATORS"},
		{map[string]string{"CONSOLE_OPERATORS": "ana:" + strings.Repeat("ab", 32) + ",ana:" + strings.Repeat("cd", 32)}, "CONSOLE_OPERATORS"},
		{map[string]string{"METRICS_ADDR": "9090"}, "METRICS_ADDR"},
		{map[string]string{"METRICS_ADDR": "127.0.0.1:8080"}, "METRICS_ADDR"},
		{map[string]string{"METRICS_ADDR": "127.0.0.1:9090", "CONSOLE_ADDR": "127.0.0.1:9090"}, "METRICS_ADDR"},
		{map[string]string{"METRICS_PPROF": "yes"}, "METRICS_PPROF"},
		{map[string]string{"METRICS_PPROF": "true"}, "METRICS_PPROF"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"WEBHOOK_TIMEOUT": "0s"}, "WEBHOOK_TIMEOUT"},
		{map[string]string{"WEBHOOK_TIMEOUT": "30s"}, "WEBHOOK_TIMEOUT"}, // not shorter than JOB_TIMEOUT
		{map[string]string{"WEBHOOK_WORKERS": "0"}, "WEBHOOK_WORKERS"},
		{map[string]string{"WEBHOOK_SECRET_KEY": "c2hvcnQ="}, "WEBHOOK_SECRET_KEY"},
		{map[string]string{"WEBHOOK_SECRET_KEY": "not base64!"}, "WEBHOOK_SECRET_KEY"},
		{map[string]string{"WEBHOOK_RETENTION": "forever"}, "WEBHOOK_RETENTION"},
		{map[string]string{"WEBHOOK_ALLOW_INSECURE": "yes please"}, "WEBHOOK_ALLOW_INSECURE"},
		{map[string]string{"WEBHOOK_ALLOW_PRIVATE": "2"}, "WEBHOOK_ALLOW_PRIVATE"},
		{map[string]string{"WEBHOOK_RETRY_SCHEDULE": "5s,0s"}, "WEBHOOK_RETRY_SCHEDULE"},
	}
	for _, tc := range cases {
		_, err := Load(env(tc.env))
		if err == nil {
			t.Fatalf("%v: accepted", tc.env)
		}
		if !strings.Contains(err.Error(), tc.name) {
			t.Fatalf("%v: error %q does not name %s", tc.env, err, tc.name)
		}
	}
}

// The metrics listener and tracing are off unless asked for, and read when set.
func TestMetricsAndTracing(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" || c.MetricsPprof || c.OTLPEndpoint != "" {
		t.Fatalf("metrics listener, pprof or tracing on by default: %+v", c)
	}
	c, err = Load(env(map[string]string{"METRICS_ADDR": "127.0.0.1:9090", "METRICS_PPROF": "true",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:9090" || !c.MetricsPprof || c.OTLPEndpoint != "http://collector:4318" {
		t.Fatalf("not read: %+v", c)
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"DATABASE_URL": "postgres://x/y"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Require("DATABASE_URL"); err != nil {
		t.Fatal(err)
	}
	if err := c.Require("DATABASE_URL", "ADMIN_TOKEN"); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
		t.Fatalf("missing ADMIN_TOKEN: %v", err)
	}
	c.AdminToken = "short"
	if err := c.Require("ADMIN_TOKEN"); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
		t.Fatalf("short ADMIN_TOKEN: %v", err)
	}
}

func TestVarsDocumentEveryVariable(t *testing.T) {
	t.Parallel()
	read := map[string]bool{}
	_, _ = Load(func(k string) (string, bool) { read[k] = true; return "", false })
	documented := map[string]bool{}
	for _, v := range Vars {
		documented[v.Name] = true
	}
	for k := range read {
		if !documented[k] {
			t.Errorf("%s is read but not in Vars", k)
		}
	}
}

// CONSOLE_OPERATORS holds names with their tokens' SHA-256; unset, the
// console has no operators (ADMIN_TOKEN signs in) and sessions last 12h.
func TestConsoleVariables(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsoleAddr != "" || c.ConsoleOperators != nil || c.ConsoleSessionTTL != 12*time.Hour {
		t.Fatalf("console defaults: %q %v %s", c.ConsoleAddr, c.ConsoleOperators, c.ConsoleSessionTTL)
	}
	c, err = Load(env(map[string]string{
		"CONSOLE_ADDR":        "127.0.0.1:9090",
		"CONSOLE_OPERATORS":   "ana:" + strings.Repeat("ab", 32) + ", budi.s:" + strings.Repeat("0F", 32),
		"CONSOLE_SESSION_TTL": "8h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsoleAddr != "127.0.0.1:9090" || c.ConsoleSessionTTL != 8*time.Hour || len(c.ConsoleOperators) != 2 {
		t.Fatalf("console settings: %+v", c)
	}
	if op := c.ConsoleOperators[1]; op.Name != "budi.s" || op.TokenHash[0] != 0x0f || op.TokenHash[31] != 0x0f {
		t.Fatalf("second operator: %+v", op)
	}
}

// The webhook variables' defaults are docs/webhooks.md's, and a key is
// read as 32 bytes without ever being repeated in an error.
func TestWebhookVariables(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookTimeout != 15*time.Second || c.WebhookWorkers != 50 || c.WebhookSecretKey != nil ||
		c.WebhookRetention != 720*time.Hour || c.WebhookAllowInsecure || c.WebhookAllowPrivate ||
		len(c.WebhookRetrySchedule) != 9 || c.WebhookRetrySchedule[0] != 5*time.Second || c.WebhookRetrySchedule[8] != 24*time.Hour {
		t.Fatalf("webhook defaults: %+v", c)
	}
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	c, err = Load(env(map[string]string{"WEBHOOK_SECRET_KEY": key, "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_ALLOW_INSECURE": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.WebhookSecretKey) != 32 || c.WebhookSecretKey[31] != 31 || !c.WebhookAllowPrivate || !c.WebhookAllowInsecure {
		t.Fatalf("webhook settings not read: %+v", c)
	}
	bad := key[:20] + "!" + key[21:]
	if _, err := Load(env(map[string]string{"WEBHOOK_SECRET_KEY": bad})); err == nil || strings.Contains(err.Error(), bad) {
		t.Fatalf("a bad key is refused without being repeated: %v", err)
	}
}
