package pylock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../../shared/fixtures/pep740/pylock"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture %s not present: %v", name, err)
	}
	return b
}

func noteCodes(l *Lock) []string {
	var c []string
	for _, n := range l.Notes() {
		c = append(c, n.Code)
	}
	return c
}

// TestReadFixtures reads every real lock in the shared fixtures, and checks
// the notes the fixtures' README implies.
func TestReadFixtures(t *testing.T) {
	tests := []struct {
		file     string
		packages int
		notes    []string
	}{
		{"spec-example.pylock.toml", 3, []string{"no-identities"}},
		{"pip-build-project.pylock.toml", 4, []string{"no-environments", "no-requires-python", "no-identities", "no-size"}},
		{"uv-kagizine.pylock.toml", 1, []string{"no-environments", "no-identities"}},
		{"pdm-demo.pylock.toml", 10, []string{"no-identities", "no-size"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			l, err := Read(tt.file, fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Packages) != tt.packages {
				t.Errorf("packages = %d, want %d", len(l.Packages), tt.packages)
			}
			if got := strings.Join(noteCodes(l), ","); got != strings.Join(tt.notes, ",") {
				t.Errorf("notes = %s, want %s\n%v", got, strings.Join(tt.notes, ","), l.Notes())
			}
		})
	}
}

func TestSpecExampleIdentities(t *testing.T) {
	l, err := Read("spec", fixture(t, "spec-example.pylock.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Packages[0].AttestationIdentities
	want := Identity{Kind: "GitHub", Repository: "python-attrs/attrs", Workflow: "pypi-package.yml", Environment: "release-pypi"}
	if len(ids) != 1 || ids[0].Kind != want.Kind || ids[0].Repository != want.Repository || ids[0].Workflow != want.Workflow || ids[0].Environment != want.Environment {
		t.Errorf("identities = %+v, want %+v", ids, want)
	}
	w := l.Packages[0].Wheels[0]
	if w.Size == nil || *w.Size != 63152 || w.UploadTime == nil || w.UploadTime.Year() != 2025 {
		t.Errorf("wheel = %+v", w)
	}
	// The pdm lock says its notes: none about identities here, but the
	// spec example has no identities on cattrs and numpy.
	found := false
	for _, n := range l.Notes() {
		if n.Code == "no-identities" {
			found = strings.Contains(n.Msg, "(cattrs, numpy)")
		}
	}
	if !found {
		t.Errorf("no-identities note should name cattrs and numpy only: %v", l.Notes())
	}
}
