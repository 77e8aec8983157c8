package docs

import (
	"reflect"
	"testing"
)

// GitHub's anchors, as its renderer makes them for the headings this
// repository has (and the edge cases around them).
func TestAnchor(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"3. Unknown is not failed":                            "3-unknown-is-not-failed",
		`12. A "no transaction made" answer is not a failure`: "12-a-no-transaction-made-answer-is-not-a-failure",
		"Confirm, cancel, resolve":                            "confirm-cancel-resolve",
		"Keep the metrics private: `METRICS_ADDR`":            "keep-the-metrics-private-metrics_addr",
		"The simulators' routing scenarios":                   "the-simulators-routing-scenarios",
		"Failover: when the next offer is tried":              "failover-when-the-next-offer-is-tried",
		"PurchasesNeedReviewGrowing":                          "purchasesneedreviewgrowing",
		"Reads — and writes":                                  "reads--and-writes",
		"A [linked](other.md#x) heading":                      "a-linked-heading",
		"`recon_stuck`: what is stuck":                        "recon_stuck-what-is-stuck",
	}
	for text, want := range cases {
		if got := Anchor(text); got != want {
			t.Errorf("Anchor(%q) = %q, want %q", text, got, want)
		}
	}
}

// Headings skip fenced code (a shell comment is not a heading), and a
// repeated heading gets GitHub's -1, -2 suffixes.
func TestHeadings(t *testing.T) {
	t.Parallel()
	md := "# Title\n\n## Setup\n\n```sh\n# not a heading\n## nor this\n```\n\n## Setup\n\n~~~\n## still code\n~~~\n### Setup ###\n    ## indented code is not read as a heading by us either\n"
	var got []string
	for _, h := range Headings(md) {
		got = append(got, h.Anchor)
	}
	want := []string{"title", "setup", "setup-1", "setup-2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("anchors %v, want %v", got, want)
	}
}

// Links: relative targets of inline links, images and reference
// definitions, outside code spans and fenced blocks; URLs with a scheme are
// not the repository's business.
func TestLinks(t *testing.T) {
	t.Parallel()
	md := "See [flow](flow.md#callbacks), ![shot](console/a.png \"A\") and [here](#top).\n" +
		"Not `[code](nowhere.md)`, not [web](https://example.com/x.md), not [mail](mailto:a@b).\n" +
		"```\n[in a block](gone.md)\n```\n" +
		"[ref]: ../README.md\n" +
		"A [`code` link](api.md) and [nested [brackets]](runbook.md#needs-review).\n" +
		"A link whose text [runs over\ntwo lines](flow.md#crash-and-restart).\n"
	want := []Link{
		{Path: "flow.md", Anchor: "callbacks", Line: 1},
		{Path: "console/a.png", Line: 1},
		{Path: "", Anchor: "top", Line: 1},
		{Path: "../README.md", Line: 6},
		{Path: "api.md", Line: 7},
		{Path: "runbook.md", Anchor: "needs-review", Line: 7},
		{Path: "flow.md", Anchor: "crash-and-restart", Line: 9},
	}
	if got := Links(md); !reflect.DeepEqual(got, want) {
		t.Fatalf("links\n got %+v\nwant %+v", got, want)
	}
}
