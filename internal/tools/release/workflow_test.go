package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	On struct {
		Push struct {
			Tags []string `yaml:"tags"`
		} `yaml:"push"`
	} `yaml:"on"`
	Jobs map[string]struct {
		Permissions map[string]string `yaml:"permissions"`
		Steps       []step            `yaml:"steps"`
	} `yaml:"jobs"`
}

type step struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

func (s step) action() string { a, _, _ := strings.Cut(s.Uses, "@"); return a }

func readWorkflow(t *testing.T) []step {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("release.yml: %v", err)
	}
	if !slices.Contains(w.On.Push.Tags, "v*") {
		t.Errorf("release.yml runs on pushed tags %v, want v*", w.On.Push.Tags)
	}
	if len(w.Jobs) != 1 {
		t.Fatalf("release.yml has %d jobs, want one that builds, attests and publishes", len(w.Jobs))
	}
	for name, j := range w.Jobs {
		for perm, want := range map[string]string{"contents": "write", "id-token": "write", "attestations": "write"} {
			if j.Permissions[perm] != want {
				t.Errorf("job %s has permission %s: %q, want %q", name, perm, j.Permissions[perm], want)
			}
		}
		return j.Steps
	}
	return nil
}

// runs says whether a step's script has a line that is exactly cmd.
func runs(s step, cmd string) bool {
	for _, line := range strings.Split(s.Run, "\n") {
		if strings.TrimSpace(line) == cmd {
			return true
		}
	}
	return false
}

// TestWorkflowAttestsEveryBinary: the release workflow builds with make
// release, whose release target runs this tool into dist/; then it attests
// the build provenance of every binary the tool builds, and each binary's
// SBOM, before it publishes them all with SHA256SUMS. A platform added to
// the tool and not to the workflow (or the other way round) fails here.
func TestWorkflowAttestsEveryBinary(t *testing.T) {
	steps := readWorkflow(t)

	makefile, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if recipe := makeRecipe(string(makefile), "release"); !slices.Equal(recipe, []string{"go run ./internal/tools/release -out dist"}) {
		t.Errorf("make release runs %q, want the release tool into dist/", recipe)
	}

	build, provenance, publish := -1, -1, -1
	var binaries []string
	sboms := map[string]string{}
	var sbomSteps []int
	for i, s := range steps {
		switch {
		case runs(s, "make release"):
			build = i
		case s.action() == "actions/attest-build-provenance":
			provenance = i
			for _, f := range strings.FieldsFunc(s.With["subject-path"], func(r rune) bool { return r == '\n' || r == ',' }) {
				binaries = append(binaries, strings.TrimSpace(f))
			}
		case s.action() == "actions/attest-sbom":
			sboms[s.With["subject-path"]] = s.With["sbom-path"]
			sbomSteps = append(sbomSteps, i)
		case strings.Contains(s.Run, "gh release create"):
			publish = i
		}
	}
	if build < 0 || provenance < 0 || publish < 0 || len(sbomSteps) == 0 {
		t.Fatalf("release.yml needs a make release step (%d), build provenance (%d), SBOM attestations (%v) and gh release create (%d)", build, provenance, sbomSteps, publish)
	}
	if !(build < provenance && provenance < publish && build < sbomSteps[0] && sbomSteps[len(sbomSteps)-1] < publish) {
		t.Errorf("release.yml must build, then attest, then publish")
	}

	var wantBinaries []string
	wantSBOMs := map[string]string{}
	wantAssets := []string{"SHA256SUMS"}
	for _, p := range platforms {
		wantBinaries = append(wantBinaries, "dist/"+p.binary())
		wantSBOMs["dist/"+p.binary()] = "dist/" + p.sbom()
		wantAssets = append(wantAssets, p.binary(), p.sbom())
	}
	slices.Sort(binaries)
	slices.Sort(wantBinaries)
	if !slices.Equal(binaries, wantBinaries) {
		t.Errorf("release.yml attests the provenance of %v, the release builds %v", binaries, wantBinaries)
	}
	if len(sboms) != len(sbomSteps) {
		t.Errorf("release.yml attests the SBOM of one binary twice: %v", sboms)
	}
	for bin, sbom := range wantSBOMs {
		if sboms[bin] != sbom {
			t.Errorf("release.yml attests %s with SBOM %q, want %s", bin, sboms[bin], sbom)
		}
		delete(sboms, bin)
	}
	for bin := range sboms {
		t.Errorf("release.yml attests the SBOM of %s, which the release does not build", bin)
	}

	// gh release create TAG [flags] FILE...: every asset is uploaded.
	var files []string
	for _, f := range strings.Fields(steps[publish].Run) {
		if strings.HasPrefix(f, "dist/") {
			files = append(files, f)
		}
	}
	for _, asset := range wantAssets {
		matched := false
		for _, f := range files {
			if ok, _ := filepath.Match(f, "dist/"+asset); ok {
				matched = true
			}
		}
		if !matched {
			t.Errorf("gh release create uploads %v, not %s", files, asset)
		}
	}
}

// TestWorkflowPinsActions: every step that uses an action names a version,
// and no other actions than these run with the job's write permissions.
func TestWorkflowPinsActions(t *testing.T) {
	allowed := []string{"actions/checkout", "actions/setup-go", "actions/attest-build-provenance", "actions/attest-sbom"}
	for _, s := range readWorkflow(t) {
		if s.Uses == "" {
			continue
		}
		_, ref, _ := strings.Cut(s.Uses, "@")
		if ref == "" || ref == "main" || ref == "master" {
			t.Errorf("step %q uses %q: pin a release (a commit SHA with the tag in a comment)", s.Name, s.Uses)
		}
		if !slices.Contains(allowed, s.action()) {
			t.Errorf("step %q uses %s, which is not one of %v", s.Name, s.action(), allowed)
		}
		if s.action() == "actions/setup-go" && s.With["go-version-file"] != "go.mod" {
			t.Errorf("setup-go takes Go from %q, want go.mod (the version TestReproducible builds with)", s.With["go-version-file"])
		}
		if s.action() == "actions/checkout" && s.With["persist-credentials"] != "false" {
			t.Errorf("checkout keeps the token in .git/config; set persist-credentials: false")
		}
	}
}

// makeRecipe returns the commands of target in a Makefile.
func makeRecipe(makefile, target string) []string {
	var recipe []string
	in := false
	for _, line := range strings.Split(makefile, "\n") {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			recipe = append(recipe, strings.TrimSpace(line))
		case in:
			return recipe
		}
	}
	return recipe
}
