package console

import (
	"net/http"
	"net/url"
	"strings"
)

// contentSecurityPolicy is docs/console.md's policy: scripts and styles
// from the console's own files only, no inline script or style, no
// framing, forms posting only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// jobsPolicy is River UI's: the console's, except that its React
// components inject style elements at run time, which need inline styles.
// Scripts stay the console's own files only: River UI's one inline script
// is a JSON data block, which runs nothing.
const jobsPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every console response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		policy := contentSecurityPolicy
		if strings.HasPrefix(r.URL.Path, JobsPrefix+"/") {
			policy = jobsPolicy
		}
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses, with 403, every request that is not a GET or HEAD
// unless the browser says it came from this origin: Sec-Fetch-Site
// same-origin, or (a browser that does not send it) an Origin naming this
// host. A request with neither is refused too. This is what protects River
// UI's own POSTs, which carry no CSRF token.
func (c *Console) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || fromSameOrigin(r) {
			next.ServeHTTP(w, r)
			return
		}
		c.log.WarnContext(r.Context(), "console: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "remote_addr", remoteAddr(r))
		if r.URL.Path == "/console/signin" {
			c.audit(r.Context(), "(unknown)", remoteAddr(r), "failed", "cross_origin")
		}
		c.fail(w, r, nil, http.StatusForbidden, "This request did not come from the console's own pages.")
	})
}

// fromSameOrigin reports whether the browser marked r as sent by a page of
// this origin. The Origin's host is compared with the request's Host (a
// proxy terminating TLS makes the scheme unreliable).
func fromSameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}
