package config

import (
	"os"
	"strings"
	"testing"
)

// TestDocExamples parses every complete configuration (a YAML block with
// "version: 1") in docs/configuration.md, so that the examples users copy
// stay valid.
func TestDocExamples(t *testing.T) {
	isolate(t)
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		if !strings.Contains(body, "version: 1") {
			continue
		}
		n++
		if _, err := Parse("docs/configuration.md example", []byte(body)); err != nil {
			t.Errorf("example %d does not load: %v\n%s", n, err, body)
		}
	}
	if n < 2 {
		t.Errorf("found %d complete examples, want the NAS and the desktop ones", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		minimal,
		"version: 1\nconnections:\n  nas: {type: sftp, host: h, port: 22}\ntasks:\n  - {name: a, local: /a, remote: 'nas:x', windows: [{days: [mon], from: '22:00', to: '06:00'}], bwlimit: [{rate: 1M}]}\n",
		"version: 1\nx-a: &a {workers: 2}\ntasks:\n  - <<: [*a, {poll: 5m}]\n    name: b\n",
		"tasks: [[], {}, ~, 3]\nagent: [1]\nconnections: {a: ~, b: [1], c: {type: [x]}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a configuration that Validate refuses: %v", err)
		}
		for _, task := range c.Tasks {
			if _, err := c.Remote(task); err != nil {
				t.Fatalf("valid task with an unresolvable remote: %v", err)
			}
		}
	})
}
