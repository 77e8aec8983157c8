package docs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// root is the repository's root, seen from this package.
const root = "../.."

// file is one file of the repository: its slash-separated path from the
// root and its text.
type file struct {
	Path, Text string
}

// scanned reports whether the checks read the file at p: the repository's
// source, SQL, documentation and configuration.
func scanned(p string) bool {
	switch path.Base(p) {
	case "Makefile", "Dockerfile", ".gitignore":
		return true
	}
	if p == ".ci/run" {
		return true
	}
	switch path.Ext(p) {
	case ".go", ".sql", ".md", ".yaml", ".yml", ".json", ".html", ".css":
		return true
	}
	return false
}

// repoFiles returns the scanned files of the repository: those git tracks
// and those it would (new, not ignored); outside a git checkout (an unpacked
// archive), every scanned file under the root but hidden directories other
// than .ci. The tests share one reading.
func repoFiles(t *testing.T) []file {
	t.Helper()
	files, err := readRepo()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var readRepo = sync.OnceValues(func() ([]file, error) {
	var paths []string
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		for p := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
			paths = append(paths, p)
		}
	} else {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() && rel != "." && strings.HasPrefix(d.Name(), ".") && rel != ".ci" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				paths = append(paths, rel)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	var files []file
	for _, p := range paths {
		if !scanned(p) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			return nil, err
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		files = append(files, file{Path: p, Text: string(b)})
	}
	if len(files) < 100 {
		return nil, fmt.Errorf("read %d files under %s: not the repository?", len(files), root)
	}
	return files, nil
})

// exists reports whether the slash path p (from the root) is a file or
// directory of the repository.
func exists(p string) bool {
	_, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
	return err == nil
}

// inside resolves target, relative to the directory of the file at from,
// and reports the path from the root and whether it stays in the
// repository.
func inside(from, target string) (string, bool) {
	p := path.Join(path.Dir(from), target)
	return p, p != ".." && !strings.HasPrefix(p, "../")
}

// lineOf returns the line number of byte offset i of text.
func lineOf(text string, i int) int { return strings.Count(text[:i], "\n") + 1 }

var (
	urlRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>()\x60]*`)
	// Places outside any clone: the private contract the project was built
	// from, someone's home directory, the workspace it was written in.
	outsideRe = regexp.MustCompile(`(?:(?:\.\./)+shared(?:/|\b)|\bshared/(?:spec|seeds|vectors)\b|(?:^|[\s"'(\x60=:,;])(?:/work|/home|/Users|/root|~)/)[^\s"'()\x60]*`)
	// A relative path that climbs: ../ at its start, not inside a word or
	// another path.
	climbRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])((?:\.\./)+[A-Za-z0-9_.-][A-Za-z0-9_./-]*|(?:\.\./)+)`)
	// A Markdown file named in text, with an optional anchor.
	mdRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])([A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md)(?:#([A-Za-z0-9_-]*))?(?:[^A-Za-z0-9_-]|$)`)
	// An invariant cited by number: "invariant 3", "invariants 2, 3 and 12".
	invariantRe = regexp.MustCompile(`(?i)\binvariants?\s+(\d+(?:\s*(?:,|and|or|–)\s*\d+)*)`)
	numberRe    = regexp.MustCompile(`\d+`)
)

// No file names a place outside the repository: no path into the contract
// the project was written from (a "shared" directory beside the clone, its
// spec, seeds and vectors), no home or workspace directory, and no relative
// path that climbs out of the
// repository from where it is written (in a Go file, relative to its
// package's directory, which is where `go test` reads files from; in
// Markdown, to the file's directory, as links are). URLs are left out:
// public pages are not paths of a clone. System paths a program uses
// (/usr/lib/postgresql, /tmp) are not references to content and stay.
func TestNoFileNamesAPathOutside(t *testing.T) {
	t.Parallel()
	for _, f := range repoFiles(t) {
		for _, p := range outsidePaths(f) {
			t.Errorf("%s:%d names %q, outside the repository: cite docs/… instead", f.Path, p.line, p.text)
		}
	}
}

// found is a piece of text at a line.
type found struct {
	line int
	text string
}

// outsidePaths returns the places f names outside the repository.
func outsidePaths(f file) []found {
	text := urlRe.ReplaceAllStringFunc(f.Text, func(s string) string { return strings.Repeat(" ", len(s)) })
	var out []found
	for _, m := range outsideRe.FindAllStringIndex(text, -1) {
		out = append(out, found{lineOf(text, m[0]), strings.TrimSpace(text[m[0]:m[1]])})
	}
	for _, m := range climbRe.FindAllStringSubmatchIndex(text, -1) {
		target := text[m[2]:m[3]]
		if _, ok := inside(f.Path, target); !ok {
			out = append(out, found{lineOf(text, m[2]), target})
		}
	}
	return out
}

// Every Markdown file a file names exists in the repository, where the name
// is read from: beside the naming file (a link in docs/), or from the root
// (docs/flow.md in a Go comment). A bare "flow.md" in a Go comment is the
// contract's page, which a clone does not have. An anchor after it
// (docs/flow.md#callbacks) must be a heading of that file, by GitHub's
// rules.
func TestEveryNamedMarkdownFileExists(t *testing.T) {
	t.Parallel()
	anchors := anchorCache{}
	for _, f := range repoFiles(t) {
		if strings.HasPrefix(f.Path, "internal/docs/") {
			continue // this package's examples name files that need not exist
		}
		text := urlRe.ReplaceAllStringFunc(f.Text, func(s string) string { return strings.Repeat(" ", len(s)) })
		for _, m := range mdRe.FindAllStringSubmatchIndex(text, -1) {
			name, line := text[m[2]:m[3]], lineOf(text, m[2])
			p, ok := resolve(f.Path, name)
			if !ok {
				t.Errorf("%s:%d names %s, which is not in the repository", f.Path, line, name)
				continue
			}
			if m[4] >= 0 && m[5] > m[4] {
				if a := text[m[4]:m[5]]; !anchors.has(t, p, a) {
					t.Errorf("%s:%d cites %s#%s: %s has no such heading", f.Path, line, name, a, p)
				}
			}
		}
	}
}

// resolve finds the Markdown file name, named in the file at from: beside
// it, else from the root.
func resolve(from, name string) (string, bool) {
	if p, ok := inside(from, name); ok && exists(p) {
		return p, true
	}
	if p := path.Clean(name); !strings.HasPrefix(p, "../") && exists(p) {
		return p, true
	}
	return "", false
}

// anchorCache holds the heading anchors of Markdown files by path.
type anchorCache map[string]map[string]bool

func (c anchorCache) has(t *testing.T, p, anchor string) bool {
	t.Helper()
	a, ok := c[p]
	if !ok {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		a = Anchors(string(b))
		c[p] = a
	}
	return a[anchor]
}

// Every relative link of every Markdown file (docs/, the README) reaches a
// file or directory of the repository, and every #anchor a heading of its
// target (or of the same file).
func TestMarkdownLinksResolve(t *testing.T) {
	t.Parallel()
	anchors := anchorCache{}
	n := 0
	for _, f := range repoFiles(t) {
		if path.Ext(f.Path) != ".md" {
			continue
		}
		for _, l := range Links(f.Text) {
			n++
			target := f.Path
			if l.Path != "" {
				p, ok := inside(f.Path, l.Path)
				if !ok || !exists(p) {
					t.Errorf("%s:%d links to %s, which is not in the repository", f.Path, l.Line, l.Path)
					continue
				}
				target = p
			}
			if l.Anchor == "" {
				continue
			}
			if path.Ext(target) != ".md" || !anchors.has(t, target, l.Anchor) {
				t.Errorf("%s:%d links to %s#%s: no such heading in %s", f.Path, l.Line, l.Path, l.Anchor, target)
			}
		}
	}
	if n < 50 {
		t.Fatalf("read %d links in the Markdown files: the parser is broken", n)
	}
}

// Invariants are cited by number ("invariant 3") in code, SQL and docs;
// docs/invariants.md defines each one under a heading "N. …". Every number
// cited is one of them, they run 1, 2, 3, … without a gap, and every
// directory that cites them names docs/invariants.md in one of its files.
func TestCitedInvariantsAreDefined(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(root, "docs", "invariants.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[int]bool{}
	for _, h := range Headings(string(b)) {
		if h.Level != 2 {
			continue
		}
		if num, _, ok := strings.Cut(h.Text, ". "); ok {
			if k, err := strconv.Atoi(num); err == nil {
				defined[k] = true
			}
		}
	}
	for k := 1; k <= len(defined); k++ {
		if !defined[k] {
			t.Fatalf("docs/invariants.md defines %v: invariant %d is missing", keys(defined), k)
		}
	}
	if len(defined) < 12 {
		t.Fatalf("docs/invariants.md defines %d invariants, want the twelve", len(defined))
	}
	citing := map[string]string{} // directory → a file of it that cites an invariant
	naming := map[string]bool{}   // directories with a file naming docs/invariants.md
	for _, f := range repoFiles(t) {
		dir := path.Dir(f.Path)
		if strings.Contains(f.Text, "docs/invariants.md") || (dir == "docs" && strings.Contains(f.Text, "(invariants.md")) {
			naming[dir] = true
		}
		for _, m := range invariantRe.FindAllStringSubmatchIndex(f.Text, -1) {
			citing[dir] = f.Path
			for _, num := range numberRe.FindAllString(f.Text[m[2]:m[3]], -1) {
				if k, _ := strconv.Atoi(num); !defined[k] {
					t.Errorf("%s:%d cites invariant %s; docs/invariants.md has no heading \"%s. …\"", f.Path, lineOf(f.Text, m[0]), num, num)
				}
			}
		}
	}
	// A reader of a package that cites invariants by number learns from
	// the package itself where they are defined (its doc.go, say).
	for dir, example := range citing {
		if !naming[dir] && !strings.HasPrefix(dir, "internal/docs") {
			t.Errorf("%s cites invariants by number (%s), but no file of %s names docs/invariants.md", dir, example, dir)
		}
	}
}

func keys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
