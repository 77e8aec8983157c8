package contracttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// maxCapture bounds how much of a request or an answer is kept for
// validation; the API refuses bodies over 64 KiB.
const maxCapture = 1 << 20

// Checker validates exchanges against one document. It is safe for
// concurrent use.
type Checker struct {
	model   *v3.Document
	v       validator.Validator
	problem *base.Schema
	schemas schema_validation.SchemaValidator
	mu      sync.Mutex // the validator's schema caches are filled lazily
}

var checkers sync.Map // sha256 of a document → *Checker, or error

// For returns the Checker of doc, an OpenAPI 3.1 document, parsed once per
// test binary. The error says why doc cannot serve: unreadable, not valid
// OpenAPI, or without components.schemas.Problem.
func For(doc []byte) (*Checker, error) {
	key := sha256.Sum256(doc)
	if c, ok := checkers.Load(key); ok {
		return unpack(c)
	}
	c, err := newChecker(doc)
	var v any = c
	if err != nil {
		v = err
	}
	actual, _ := checkers.LoadOrStore(key, v)
	return unpack(actual)
}

func unpack(v any) (*Checker, error) {
	if err, ok := v.(error); ok {
		return nil, err
	}
	return v.(*Checker), nil
}

func newChecker(doc []byte) (*Checker, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("openapi document model: %w", err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %s", describe(verrs))
	}
	c := &Checker{model: &m.Model, v: v, schemas: schema_validation.NewSchemaValidator()}
	if comp := m.Model.Components; comp != nil && comp.Schemas != nil {
		if p := comp.Schemas.GetOrZero("Problem"); p != nil {
			c.problem = p.Schema()
		}
	}
	if c.problem == nil {
		return nil, fmt.Errorf("the document has no components.schemas.Problem")
	}
	return c, nil
}

// Handler returns h wrapped so that every exchange it serves is validated;
// report receives each disagreement, as one line, from whichever goroutine
// serves the request, once the answer is complete.
func (c *Checker) Handler(h http.Handler, report func(violation string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := &capturedBody{rc: r.Body}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = in
		} else {
			in.done = true
		}
		out := &capturedAnswer{ResponseWriter: w, beforeAnswer: in.drain}
		h.ServeHTTP(out, r)
		out.finish()
		for _, problem := range c.check(r, in, out) {
			report(fmt.Sprintf("contract: %s %s → %d: %s", r.Method, r.URL.RequestURI(), out.status, problem))
		}
	})
}

// Handler is For(doc).Handler(h, t.Errorf): for a test whose requests all
// end before it does. It fails t at once if doc cannot serve.
func Handler(t testing.TB, doc []byte, h http.Handler) http.Handler {
	t.Helper()
	c, err := For(doc)
	if err != nil {
		t.Fatal(err)
	}
	return c.Handler(h, func(v string) { t.Error(v) })
}

// check returns what is wrong with one exchange.
func (c *Checker) check(r *http.Request, in *capturedBody, out *capturedAnswer) []string {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(in.buf.Bytes()))
	res := &http.Response{
		StatusCode: out.status, Header: out.header, Request: req,
		Body: io.NopCloser(bytes.NewReader(out.body.Bytes())),
	}
	pathItem, _, _ := paths.FindPath(req, c.model, nil)
	if pathItem == nil || helpers.ExtractOperation(req, pathItem) == nil {
		return c.checkUndescribed(res, out)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var problems []string
	if ok, errs := c.v.ValidateHttpResponse(req, res); !ok {
		problems = append(problems, "the answer is not what the document describes: "+describe(errs)+excerpt(out.body.Bytes()))
	}
	if out.status < 400 {
		req.Body = io.NopCloser(bytes.NewReader(in.buf.Bytes()))
		switch ok, errs := c.v.ValidateHttpRequestSync(req); {
		case !in.done:
			problems = append(problems, "the API accepted a request whose body it never received whole")
		case !ok:
			problems = append(problems, "the API accepted a request the document forbids: "+describe(errs))
		}
	}
	return problems
}

// checkUndescribed: a path or method the document does not describe may
// only be refused, with a problem document.
func (c *Checker) checkUndescribed(res *http.Response, out *capturedAnswer) []string {
	if res.StatusCode < 400 {
		return []string{"the document describes no such operation, yet the API answered it"}
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		return []string{fmt.Sprintf("an undescribed route answered Content-Type %q, not a problem", ct)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok, errs := c.schemas.ValidateSchemaBytes(c.problem, out.body.Bytes()); !ok {
		return []string{"an undescribed route's answer is not a Problem: " + describe(errs) + excerpt(out.body.Bytes())}
	}
	return nil
}

// describe renders validation errors with their schema failures.
func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" {
			b.WriteString(" (" + e.Reason + ")")
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s: %s]", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

func excerpt(body []byte) string {
	if len(body) > 300 {
		body = body[:300]
	}
	return fmt.Sprintf("; body %q", body)
}

// capturedBody keeps what the handler reads of a request body.
type capturedBody struct {
	rc   io.ReadCloser
	buf  bytes.Buffer
	done bool // read to its end
	mu   sync.Mutex
}

func (b *capturedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.rc.Read(p)
	if b.buf.Len() < maxCapture {
		b.buf.Write(p[:n])
	}
	if err == io.EOF {
		b.done = true
	}
	return n, err
}

func (b *capturedBody) Close() error { return b.rc.Close() }

// drain reads what the handler left of the body, up to what net/http would
// itself discard before answering (256 KiB), so the request can be
// validated whole. A body that fails (a client that never finished) stays
// incomplete.
func (b *capturedBody) drain() {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(b, 256<<10))
}

// capturedAnswer keeps the status, headers and body of an answer while
// passing them on.
type capturedAnswer struct {
	http.ResponseWriter
	beforeAnswer func()
	status       int
	header       http.Header
	body         bytes.Buffer
}

func (a *capturedAnswer) WriteHeader(code int) {
	if a.header == nil {
		a.beforeAnswer()
		a.status, a.header = code, a.ResponseWriter.Header().Clone()
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *capturedAnswer) Write(p []byte) (int, error) {
	if a.header == nil {
		a.WriteHeader(http.StatusOK)
	}
	if a.body.Len() < maxCapture {
		a.body.Write(p)
	}
	return a.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer.
func (a *capturedAnswer) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// finish records an answer the handler never wrote: an empty 200.
func (a *capturedAnswer) finish() {
	if a.header == nil {
		a.beforeAnswer()
		a.status, a.header = http.StatusOK, a.ResponseWriter.Header().Clone()
	}
}
