package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The table of docs/configuration.md lists exactly the variables of Vars, in
// their order, with their defaults (backticks aside): a variable added to
// Load without its row, a row for a variable that is gone, or a default
// changed on one side fails here.
func TestConfigurationDocListsEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| .* \\| (.*) \\|$").FindAllStringSubmatch(string(b), -1)
	plain := func(s string) string { return strings.ReplaceAll(s, "`", "") }
	for i := 0; i < max(len(rows), len(Vars)); i++ {
		switch {
		case i >= len(rows):
			t.Errorf("docs/configuration.md's table lacks %s", Vars[i].Name)
		case i >= len(Vars):
			t.Errorf("docs/configuration.md lists %s, which Load does not read", rows[i][1])
		case rows[i][1] != Vars[i].Name:
			t.Errorf("row %d of docs/configuration.md is %s, want %s (the order of Vars)", i+1, rows[i][1], Vars[i].Name)
		case plain(rows[i][2]) != plain(Vars[i].Default):
			t.Errorf("docs/configuration.md gives %s the default %q, Vars %q", Vars[i].Name, rows[i][2], Vars[i].Default)
		}
	}
}
