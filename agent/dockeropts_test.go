package agent

import (
	"maps"
	"strings"
	"testing"

	"drover/agent/config"
)

// The docker plugin's stand_ins reach docker.Options, and a malformed one
// is refused with an error naming it.
func TestDockerOptionsStandIns(t *testing.T) {
	parse := func(t *testing.T, body string) *config.PluginConfig {
		t.Helper()
		cfg, err := config.Parse([]byte(`plugin "docker" {
  config {
`+body+`
  }
}
`), "docker.hcl")
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		return cfg.Plugins["docker"]
	}

	opts, err := dockerOptions(parse(t, `task_network = "drover-lab"
stand_ins = { "redis:3.2" = "drover-lab/redis:3.2", "redis:4.0" = "drover-lab/redis:4.0" }`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"redis:3.2": "drover-lab/redis:3.2", "redis:4.0": "drover-lab/redis:4.0"}
	if opts.TaskNetwork != "drover-lab" || !maps.Equal(opts.StandIns, want) {
		t.Errorf("options = %+v, want task network drover-lab and stand-ins %v", opts, want)
	}

	opts, err = dockerOptions(parse(t, `task_network = "x"`))
	if err != nil || opts.StandIns != nil {
		t.Errorf("without stand_ins: %+v, %v", opts, err)
	}
	if opts, err := dockerOptions(nil); err != nil || opts.TaskNetwork != "" || opts.StandIns != nil {
		t.Errorf("without the plugin: %+v, %v", opts, err)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"string", `stand_ins = "drover-lab/redis:3.2"`, "must be a map of image names to stand-in image names, not a string"},
		{"list", `stand_ins = ["redis:3.2"]`, "not a list"},
		{"number value", `stand_ins = { "redis:3.2" = 3 }`, `the stand-in of "redis:3.2" must be a string (an image name), not a number`},
		{"map value", `stand_ins = { "redis:3.2" = { a = "b" } }`, "not a map"},
		{"empty value", `stand_ins = { "redis:3.2" = "" }`, `the stand-in of "redis:3.2" is empty`},
		{"itself", `stand_ins = { "redis:3.2" = "redis:3.2" }`, "cannot be its own stand-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dockerOptions(parse(t, tc.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range []string{`plugin "docker": config stand_ins: `, tc.want, `stand_ins = { "redis:3.2" = "drover-lab/redis:3.2" }`} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A client whose docker plugin has a malformed stand_ins does not start.
func TestClientRefusesBadStandIns(t *testing.T) {
	cfg, err := config.Parse([]byte(`client {
  enabled = true
}
plugin "docker" {
  config {
    stand_ins = ["redis:3.2"]
  }
}
`), "bad.hcl")
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{config: cfg}
	if _, err := a.drivers(); err == nil || !strings.Contains(err.Error(), "stand_ins") {
		t.Errorf("drivers() with a bad stand_ins: %v", err)
	}
}
