// Package contracttest holds an HTTP API to its OpenAPI 3.1 document in
// tests: Handler wraps the handler under test so that every request it
// serves and every answer it gives is validated (libopenapi-validator). An
// answer the document does not describe — an undeclared status, content
// type, header or body shape — fails the test; so does a request the
// document forbids that the API nevertheless accepted (answered below 400).
// A request the document forbids and the API refused is what a refusal
// should be. A path or method the document does not describe may only be
// answered with an error problem (the document's Problem schema).
//
// It is imported by tests only.
package contracttest
