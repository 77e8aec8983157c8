package providers_test

import (
	"go/build"
	"slices"
	"testing"
)

// TestSimulatorsNeverImportTheirClient: a simulator is a second
// implementation of its provider's wire format, which is what makes the
// client's tests against it meaningful, so it must never import the client
// it tests.
func TestSimulatorsNeverImportTheirClient(t *testing.T) {
	t.Parallel()
	const module = "github.com/ppob-orchestrator/orchestrator/internal/providers/"
	for sim, client := range map[string]string{"klikoo/klikoosim": "klikoo", "snapcart/snapcartsim": "snapcart"} {
		p, err := build.ImportDir(sim, 0)
		if err != nil {
			t.Fatalf("read %s: %v", sim, err)
		}
		if !slices.Contains(p.Imports, module+"simkit") {
			t.Fatalf("%s: imports %v lack simkit; the check would pass vacuously", sim, p.Imports)
		}
		if slices.Contains(p.Imports, module+client) {
			t.Fatalf("%s imports its client %s", sim, module+client)
		}
	}
}
