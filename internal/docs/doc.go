// Package docs keeps the repository standing alone: whoever clones it has
// only what is in it. It reads Markdown the way GitHub renders it (headings
// and their anchors, links, code that is not prose), and its tests check
// that no file names a path outside the repository, that every link of the
// Markdown files reaches an existing file and heading, and that every
// citation of docs/x.md#y or of an invariant by number resolves.
//
// It owns no documentation itself: that is docs/ (docs/README.md is the
// index).
package docs
