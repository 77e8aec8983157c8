FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/orchestrator ./cmd/orchestrator

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 orchestrator \
    && mkdir /keys && chown orchestrator /keys
COPY --from=build /out/orchestrator /usr/local/bin/orchestrator
USER orchestrator
ENTRYPOINT ["/usr/local/bin/orchestrator"]
CMD ["serve"]
