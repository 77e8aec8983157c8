package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table lists exactly the variables of Vars.
func TestREADMEListsEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range Vars {
		if !strings.Contains(readme, "| `"+v.Name+"` |") {
			t.Errorf("README's configuration table lacks %s", v.Name)
		}
	}
}
