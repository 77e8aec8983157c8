package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// wib is Asia/Jakarta (UTC+7, no daylight saving): the console shows every
// time in it, as operators read their day.
var wib = time.FixedZone("WIB", 7*60*60)

// pages holds each page's template: the layout with the page's blocks.
type pages struct{ byName map[string]*template.Template }

var funcs = template.FuncMap{
	"wib": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.In(wib).Format("2006-01-02 15:04:05")
		case *time.Time:
			if v == nil {
				return "—"
			}
			return v.In(wib).Format("2006-01-02 15:04:05")
		}
		return "—"
	},
	"inc":    func(i int) int { return i + 1 },
	"rp":     rupiah,
	"str":    str,
	"pretty": pretty,
	"ago": func(now, t time.Time) string {
		d := now.Sub(t).Round(time.Second)
		if d < 0 {
			return "in " + (-d).String()
		}
		return d.String() + " ago"
	},
}

// parsePages parses every page with the layout.
func parsePages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// view is what the layout renders around a page's data.
type view struct {
	Title    string
	Nav      string // the page's name, to mark its link
	Operator string // "" when signed out
	CSRF     string
	Problem  string // a refusal or error to show above the page
	Now      time.Time
	Data     any
}

// render writes page name with data, at status. s is nil on the sign-in page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, title string, data any, problem string) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.internal(w, r, s, fmt.Errorf("console: no page %q", name))
		return
	}
	v := view{Title: title, Nav: name, Problem: problem, Now: c.now(), Data: data}
	if s != nil {
		v.Operator, v.CSRF = s.Operator, s.CSRF
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		c.log.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail shows a message page at status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, message string) {
	c.render(w, r, status, "message", s, http.StatusText(status), nil, message)
}

// internal logs err and shows a page without its detail.
func (c *Console) internal(w http.ResponseWriter, r *http.Request, s *session, err error) {
	c.log.ErrorContext(r.Context(), "console: internal error", "path", r.URL.Path, "err", err)
	c.fail(w, r, s, http.StatusInternalServerError, "Something went wrong; the error is in the service's log.")
}

// isNotFound reports whether err is a query's "no rows".
func isNotFound(err error) bool { return errors.Is(store.NotFound(err), store.ErrNotFound) }

// rupiah formats an amount with dots between thousands, as Indonesians
// write it ("Rp 20.546"); nil is "—".
func rupiah(v any) string {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case *int64:
		if x == nil {
			return "—"
		}
		n = *x
	default:
		return "—"
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	if neg {
		return "Rp -" + b.String()
	}
	return "Rp " + b.String()
}

// str shows an optional value: "—" when nil or empty, else the value
// (a pointer's target).
func str(v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "—"
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return "—"
	}
	out := fmt.Sprint(rv.Interface())
	if out == "" {
		return "—"
	}
	return out
}

// pretty indents a JSON document after masking what looks like a secret
// (redact); anything else is shown masked as it is.
func pretty(v any) string {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	case *string:
		if x == nil {
			return ""
		}
		raw = []byte(*x)
	}
	raw = redact(raw)
	var out bytes.Buffer
	if json.Indent(&out, raw, "", "  ") == nil {
		return out.String()
	}
	return string(raw)
}
