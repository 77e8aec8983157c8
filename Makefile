# The README's commands. Tools are pinned and run with `go run …@version`, so
# nothing needs to be installed beyond Go (and PostgreSQL's binaries or a server).
SQLC        := go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1
STATICCHECK := go run honnef.co/go/tools/cmd/staticcheck@v0.8.2
WITHPG      := go run ./internal/tools/withpg --

.PHONY: test lint generate check-generated check-alerts run chaos chaos-large bench

## test: every test, against a real PostgreSQL (TEST_DATABASE_URL, else 127.0.0.1:5432, else a throwaway cluster), and the alert rules
test: check-alerts
	go mod download
	$(WITHPG) go test -race -count=1 -timeout 15m ./...

## lint: gofmt, go vet and staticcheck
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...

## generate: regenerate the sqlc code from migrations/ and internal/store/queries/
generate:
	$(SQLC) generate

## check-generated: fail when the committed sqlc code differs from what sqlc generates
check-generated:
	$(SQLC) diff

## check-alerts: promtool checks the Prometheus alert rules and runs their tests (deploy/prometheus);
## without promtool it says so and skips, except in CI (CI set), where it fails
check-alerts:
	@if ! command -v promtool >/dev/null 2>&1; then \
		if [ -n "$$CI" ]; then echo "check-alerts: promtool is missing (Debian: apt-get install prometheus)"; exit 1; fi; \
		echo "check-alerts: SKIPPED, promtool is not installed (Debian: apt-get install prometheus)"; exit 0; \
	fi; \
	promtool check rules deploy/prometheus/alerts.yml && promtool test rules deploy/prometheus/alerts_test.yml

## run: the product on this machine
run:
	go run ./cmd/orchestrator dev

## chaos: the chaos test at its small size (also part of make test)
chaos:
	go run ./cmd/orchestrator chaos

## chaos-large: the chaos test at full size (5,000 purchases, 20 kills)
chaos-large:
	go run ./cmd/orchestrator chaos --purchases 5000 --kills 20

## bench: the throughput benchmark
bench:
	go run ./cmd/orchestrator bench
