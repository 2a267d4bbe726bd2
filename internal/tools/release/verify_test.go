package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// verifyOwnRelease publishes the release in dist on a local GitHub the way
// .github/workflows/release.yml does (every file as an asset; one build
// provenance attestation naming every binary, as attest-build-provenance
// makes for a list of paths; one SPDX attestation per binary with its SBOM
// as the predicate), then runs the release's own binary, bin, with the
// README's command: pipguard verify --repo --tag --asset. It must verify
// the binary, and refuse it once the asset is replaced.
func verifyOwnRelease(t *testing.T, bin, dist string) {
	dir := t.TempDir()
	gh := githubtest.New(t)
	signer, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	root, err := signer.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	rootFile, ca := filepath.Join(dir, "trusted-root.json"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(rootFile, root, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := gh.WriteCA(ca); err != nil {
		t.Fatal(err)
	}

	const tag, workflow = "v1.2.3", ".github/workflows/release.yml"
	r := gh.AddRepo("acme", "pipguard")
	r.Git.Git("tag", "-a", "-m", "pipguard "+tag, tag)
	commit := r.Git.Git("rev-parse", tag+"^{commit}")

	rel := &githubtest.Release{Tag: tag}
	var binaries []*githubtest.Asset
	for _, name := range dirNames(t, dist) {
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		a := &githubtest.Asset{Name: name, Data: data}
		rel.Assets = append(rel.Assets, a)
		if strings.HasPrefix(name, "pipguard_") && !strings.HasSuffix(name, ".spdx.json") {
			binaries = append(binaries, a)
		}
	}
	gh.AddRelease(r, rel)

	// The workflow's identity on a tag push, as githubtest.Publish signs.
	ref := "refs/tags/" + tag
	id := sigstoretest.GitHubActions(r.FullName(), workflow, ref, commit)
	id.SourceRepositoryURI = "https://" + gh.Host() + "/" + r.FullName()
	id.SourceRepositoryIdentifier = fmt.Sprint(r.ID)
	id.BuildSignerURI = "https://" + gh.Host() + "/" + r.FullName() + "/" + workflow + "@" + ref
	id.SAN = id.BuildSignerURI
	attest := func(st sigstoretest.Statement, assets ...*githubtest.Asset) {
		var digests []string
		for _, a := range assets {
			st.Subjects = append(st.Subjects, sigstoretest.Subject{Name: a.Name, Digest: map[string]string{"sha256": strings.TrimPrefix(a.Digest(), "sha256:")}})
			digests = append(digests, a.Digest())
		}
		b, err := signer.Attest(id, st)
		if err != nil {
			t.Fatal(err)
		}
		gh.AddAttestation(r, &githubtest.Attestation{Digests: digests, PredicateType: st.PredicateType, Bundle: b, Initiator: "user"})
	}
	attest(sigstoretest.Statement{PredicateType: "https://slsa.dev/provenance/v1", Predicate: map[string]any{
		"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"ref": ref, "repository": "https://github.com/" + r.FullName(), "path": workflow}}}}},
		binaries...)
	for _, a := range binaries {
		var sbom map[string]any
		data, err := os.ReadFile(filepath.Join(dist, a.Name+".spdx.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &sbom); err != nil {
			t.Fatal(err)
		}
		attest(sigstoretest.Statement{PredicateType: "https://spdx.dev/Document/v2.3", Predicate: sbom}, a)
	}

	asset := filepath.Base(bin)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append(args, "--github-url", gh.URL(), "--trusted-root", rootFile, "--no-cache")...)
		cmd.Env = []string{"SSL_CERT_FILE=" + ca, "HOME=" + dir, "PATH=" + os.Getenv("PATH"), "GH_TOKEN=", "GITHUB_TOKEN="}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	var self *githubtest.Asset
	for _, a := range binaries {
		if a.Name == asset {
			self = a
		}
	}
	if self == nil {
		t.Fatalf("%s is not in %s", asset, dist)
	}
	// The README's two commands: the release's asset, and a downloaded file.
	verify := func() (string, string, int) {
		return run("verify", "--repo", r.FullName(), "--tag", tag, "--asset", asset, "--signer-workflow", workflow, "--require-sbom", "-v")
	}
	stdout, stderr, code := run("verify", filepath.Join(dist, asset), "--repo", r.FullName(), "--signer-workflow", workflow, "--source-ref", ref)
	if code != 0 || !strings.HasPrefix(stdout, "verified "+asset+" ("+self.Digest()+")") {
		t.Errorf("pipguard verify ./%s: exit %d\n%s%s", asset, code, stdout, stderr)
	}

	stdout, stderr, code = verify()
	if code != 0 || !strings.Contains(stdout, "verified "+asset+" "+self.Digest()) || !strings.Contains(stdout, "verified 1 asset(s) of acme/pipguard "+tag) {
		t.Fatalf("pipguard verify --asset %s: exit %d\n%s%s", asset, code, stdout, stderr)
	}
	t.Logf("pipguard verify --asset %s:\n%s", asset, stdout)

	// A replaced binary: SHA256SUMS and the attestations no longer match.
	replaced := &githubtest.Release{Tag: tag}
	for _, a := range rel.Assets {
		if a == self {
			a = &githubtest.Asset{Name: a.Name, Data: append([]byte(nil), a.Data...)}
			a.Data[len(a.Data)-1] ^= 1
		}
		replaced.Assets = append(replaced.Assets, a)
	}
	gh.AddRelease(r, replaced)
	stdout, stderr, code = verify()
	if code != 4 || !strings.Contains(stdout+stderr, "SHA256SUMS lists "+asset) {
		t.Errorf("pipguard verify of a replaced %s: exit %d, want 4 naming SHA256SUMS\n%s%s", asset, code, stdout, stderr)
	}
}
