package docs

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Heading is one ATX heading (`## Text`) of a Markdown file, outside code
// blocks: its level, its text as written, and its anchor as GitHub makes
// it (duplicates numbered -1, -2, … in order).
type Heading struct {
	Level  int
	Text   string
	Anchor string
	Line   int
}

// Link is one relative link target of a Markdown file, outside code: the
// path part (empty for a link within the file) and the anchor after '#'
// (without it; empty for none).
type Link struct {
	Path   string
	Anchor string
	Line   int
}

var (
	headingRe = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*(?:[ \t]#+[ \t]*)?$`)
	fenceRe   = regexp.MustCompile("^ {0,3}(```+|~~~+)")
	// An inline link or image: [text](target "title"). The text may hold
	// code spans and one level of brackets.
	inlineLinkRe = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	refDefRe     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$`)
	htmlTagRe    = regexp.MustCompile(`<[^>]*>`)
	linkTextRe   = regexp.MustCompile(`!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)`)
	schemeRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// Anchor is the fragment GitHub gives a heading's text: the text as
// rendered (links as their text, code spans as their content, no HTML
// tags), lower-cased, with every character that is not a letter, a digit, a
// space, '-' or '_' dropped, and each space made a '-'. Duplicates are
// Headings' business.
func Anchor(text string) string {
	text = linkTextRe.ReplaceAllString(text, "$1")
	text = htmlTagRe.ReplaceAllString(text, "")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lines calls fn with each line of md outside fenced code blocks (number
// from 1).
func lines(md string, fn func(n int, line string)) {
	fence := ""
	for i, line := range strings.Split(md, "\n") {
		if m := fenceRe.FindStringSubmatch(line); m != nil {
			marker := m[1][:1]
			switch {
			case fence == "":
				fence = m[1]
				continue
			case strings.HasPrefix(m[1], fence) && strings.Trim(line, " "+marker) == "":
				fence = ""
				continue
			}
		}
		if fence == "" {
			fn(i+1, line)
		}
	}
}

// Headings lists md's ATX headings in order, with GitHub's anchors.
func Headings(md string) []Heading {
	var out []Heading
	seen := map[string]int{}
	lines(md, func(n int, line string) {
		m := headingRe.FindStringSubmatch(line)
		if m == nil {
			return
		}
		a := Anchor(m[2])
		if k, dup := seen[a]; dup {
			seen[a] = k + 1
			a += "-" + strconv.Itoa(k+1)
		} else {
			seen[a] = 0
		}
		out = append(out, Heading{Level: len(m[1]), Text: m[2], Anchor: a, Line: n})
	})
	return out
}

// Anchors returns the set of md's heading anchors.
func Anchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, h := range Headings(md) {
		out[h.Anchor] = true
	}
	return out
}

// Links lists md's relative link targets outside code (fenced blocks and
// code spans): inline links and images, whose text may run over several
// lines, and reference definitions. Targets with a scheme (https:, mailto:)
// are left out: they are not in the repository.
func Links(md string) []Link {
	// The prose: md with its fenced blocks and code spans blanked, line for
	// line, so that offsets still give line numbers.
	prose := make([]string, strings.Count(md, "\n")+1)
	lines(md, func(n int, line string) { prose[n-1] = stripCodeSpans(line) })
	text := strings.Join(prose, "\n")
	var out []Link
	add := func(n int, target string) {
		if target == "" || schemeRe.MatchString(target) || strings.HasPrefix(target, "//") {
			return
		}
		path, anchor, _ := strings.Cut(target, "#")
		out = append(out, Link{Path: path, Anchor: anchor, Line: n})
	}
	for _, m := range inlineLinkRe.FindAllStringSubmatchIndex(text, -1) {
		add(strings.Count(text[:m[2]], "\n")+1, text[m[2]:m[3]])
	}
	for i, line := range prose {
		if m := refDefRe.FindStringSubmatch(line); m != nil {
			add(i+1, m[1])
		}
	}
	slices.SortStableFunc(out, func(a, b Link) int { return a.Line - b.Line })
	return out
}

// stripCodeSpans removes md's code spans from one line: a run of backticks
// up to the next run of the same length. An unmatched run stays as text.
func stripCodeSpans(line string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(line, '`')
		if i < 0 {
			b.WriteString(line)
			return b.String()
		}
		n := i
		for n < len(line) && line[n] == '`' {
			n++
		}
		run := line[i:n]
		end := -1
		for j := n; j < len(line); {
			k := strings.IndexByte(line[j:], '`')
			if k < 0 {
				break
			}
			k += j
			m := k
			for m < len(line) && line[m] == '`' {
				m++
			}
			if m-k == len(run) {
				end = m
				break
			}
			j = m
		}
		if end < 0 {
			b.WriteString(line[:n])
			line = line[n:]
			continue
		}
		b.WriteString(line[:i])
		line = line[end:]
	}
}
