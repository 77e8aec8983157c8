// Package klikoo owns everything about Klikoo's Open API (B2B): a Client that
// speaks its wire format exactly (RSA-signed access tokens, HMAC-SHA512
// request signatures, WIB timestamps) and turns every answer into the shared
// providers outcomes through explicit code tables. Its simulator, an
// independent implementation of the same wire format, is the sub-package
// klikoosim (docs/simulators.md).
//
// Decisions where Klikoo's documentation is silent, made here and kept in
// agreement by the client and the simulator:
//
//   - The signed PATH is the request path after the base URL's path, WITHOUT
//     the query string (GET /v1/open-api/transactions?page=1… signs
//     "/v1/open-api/transactions").
//   - The history search sends from and to as RFC 3339 in WIB with seconds
//     ("2024-02-06T10:28:35+07:00"); the simulator treats "to" as inclusive of
//     its whole second.
//   - The history answer's data is {"page","limit","total","items":[…]}; the
//     client also accepts a bare array or the key "transactions".
//   - Amounts in answers may be JSON strings or JSON integers; both are parsed
//     strictly (providers.ParseRupiah), and a malformed amount makes the whole
//     answer unreadable (Outcome Unknown), never zero.
//   - transaction_id may be a JSON string or integer; the client keeps it as
//     a string.
package klikoo
