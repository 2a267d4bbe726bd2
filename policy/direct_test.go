package policy

import (
	"testing"
)

// allow_direct: repository patterns on the GitHub host, and URL prefixes
// that end at a path boundary.
func TestDirectAllowed(t *testing.T) {
	p, err := Parse("pipguard.toml", []byte(`allow_direct = ["acme/tool", "corp/*", "https://files.example.com/wheels"]`))
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{
		"https://github.com/acme/tool.git":                    true,
		"https://github.com/ACME/Tool":                        true,
		"https://github.com/acme/tool-evil.git":               false,
		"https://github.com/corp/anything.git":                true,
		"https://evil.example/acme/tool.git":                  false,
		"https://files.example.com/wheels/x-1.0.whl":          true,
		"https://files.example.com/wheels-evil/x-1.0.whl":     false,
		"https://files.example.com.evil.example/wheels/x.whl": false,
		"https://github.com/acme/tool/../../evil/lib.git":     false,
		"https://files.example.com/wheels/../evil/x.whl":      false,
		"https://files.example.com/wheels/%2e%2e/evil/x.whl":  false,
	} {
		if got := p.DirectAllowed("github.com", u); got != want {
			t.Errorf("%s: %v, want %v", u, got, want)
		}
	}
}
