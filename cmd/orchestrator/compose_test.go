package main

import (
	"context"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ppob-orchestrator/orchestrator/internal/config"
)

// commandNames are the subcommands the usage text lists.
func commandNames() map[string]bool {
	names := map[string]bool{}
	_, list, _ := strings.Cut(usage, "commands:\n")
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+)\b`).FindAllStringSubmatch(list, -1) {
		names[m[1]] = true
	}
	return names
}

// docker-compose.yml, loaded with the compose specification's own loader
// (no Docker engine needed), runs what this binary can run: every service
// built from this repository runs a real subcommand with variables the
// configuration knows and accepts; the addresses agree (the API's port is
// the one published and the one callbacks go to, the providers' URLs name
// the simulators' service and ports, the database the postgres service);
// the Klikoo key is written and read on one shared volume; and the metrics
// port is never published.
func TestComposeFileRunsThisBinary(t *testing.T) {
	t.Parallel()
	file, err := filepath.Abs("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithName("orchestrator"), cli.WithWorkingDirectory(filepath.Dir(file)))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("the compose specification's loader refuses docker-compose.yml: %v", err)
	}
	known := map[string]bool{}
	for _, v := range config.Vars {
		known[v.Name] = true
	}
	commands := commandNames()
	if !commands["serve"] || !commands["migrate"] || len(commands) < 10 {
		t.Fatalf("could not read the commands from the usage text: %v", commands)
	}

	ours := map[string]types.ServiceConfig{} // built from this repository
	for name, s := range project.Services {
		if s.Build != nil && s.Build.Context == filepath.Dir(file) {
			ours[name] = s
		}
	}
	for _, want := range []string{"keygen", "migrate", "catalog", "sim", "orchestrator"} {
		if _, ok := ours[want]; !ok {
			t.Fatalf("no service %q built from this repository (services: %v)", want, project.ServiceNames())
		}
	}
	env := func(s types.ServiceConfig) map[string]string {
		out := map[string]string{}
		for k, v := range s.Environment {
			if v != nil {
				out[k] = *v
			}
		}
		return out
	}
	for name, s := range ours {
		if len(s.Command) == 0 || !commands[s.Command[0]] {
			t.Errorf("service %s runs %q, not a subcommand of orchestrator", name, s.Command)
		}
		vars := env(s)
		for k := range vars {
			if !known[k] {
				t.Errorf("service %s sets %s, which the configuration does not know", name, k)
			}
		}
		if _, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok }); err != nil {
			t.Errorf("service %s: the configuration refuses its environment: %v", name, err)
		}
	}

	// Addresses.
	port := func(addr string) string {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%q is not host:port", addr)
		}
		return p
	}
	hostPort := func(raw string) (string, string) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%q is not a URL", raw)
		}
		return u.Hostname(), u.Port()
	}
	api, sim := env(ours["orchestrator"]), env(ours["sim"])
	published := map[string]bool{}
	for _, p := range ours["orchestrator"].Ports {
		published[itoa(p.Target)] = true
	}
	if !published[port(api["HTTP_ADDR"])] {
		t.Errorf("the orchestrator publishes %v, not HTTP_ADDR's port %s", ours["orchestrator"].Ports, port(api["HTTP_ADDR"]))
	}
	if m := api["METRICS_ADDR"]; m == "" || published[port(m)] {
		t.Errorf("METRICS_ADDR %q is unset or its port is published: metrics must stay private", m)
	}
	for _, c := range []struct{ url, service, addr string }{
		{api["KLIKOO_BASE_URL"], "sim", sim["SIM_KLIKOO_ADDR"]},
		{api["SNAPCART_BASE_URL"], "sim", sim["SIM_SNAPCART_ADDR"]},
		{sim["CALLBACK_BASE_URL"], "orchestrator", api["HTTP_ADDR"]},
	} {
		if h, p := hostPort(c.url); h != c.service || p != port(c.addr) {
			t.Errorf("%s points at %s:%s, want service %s on %s", c.url, h, p, c.service, c.addr)
		}
	}
	if h, p := hostPort(api["DATABASE_URL"]); h != "postgres" || p != "5432" || project.Services["postgres"].Image == "" {
		t.Errorf("DATABASE_URL points at %s:%s, want the postgres service on 5432", h, p)
	}

	// The key keygen writes is where sim and serve read it, on one volume.
	keyDir := path.Dir(ours["keygen"].Command[len(ours["keygen"].Command)-1])
	volumeAt := func(s types.ServiceConfig, dir string) string {
		for _, v := range s.Volumes {
			if v.Target == dir {
				return v.Source
			}
		}
		return ""
	}
	written := volumeAt(ours["keygen"], keyDir)
	for _, name := range []string{"sim", "orchestrator"} {
		keyFile := env(ours[name])["KLIKOO_PRIVATE_KEY_FILE"]
		if written == "" || path.Dir(keyFile) != keyDir || volumeAt(ours[name], keyDir) != written {
			t.Errorf("%s reads %s, not on the volume keygen writes %s to", name, keyFile, keyDir)
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
