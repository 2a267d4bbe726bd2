package pylock

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func i64(n int64) *int64 { return &n }

// pipguardLock is what the orchestrator builds from an install: index
// wheels with their identities, a guarded release asset as an archive, a
// git requirement as vcs.
func pipguardLock() *Lock {
	up := time.Date(2025, 1, 25, 11, 30, 10, 164985000, time.UTC)
	l := &Lock{
		LockVersion:    "1.0",
		CreatedBy:      "pipguard",
		RequiresPython: "==3.12.*",
		Environments:   []string{`sys_platform == "linux" and platform_machine == "x86_64" and python_full_version == "3.12.3"`},
		Packages: []Package{
			{
				Name: "numpy", Version: "2.2.3", Index: "https://pypi.org/simple", RequiresPython: ">=3.10",
				Wheels: []File{{
					Name: "numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
					URL:  "https://files.pythonhosted.org/packages/39/04/numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
					Size: i64(16116679), UploadTime: &up,
					Hashes: map[string]string{"sha256": "3b787adbf04b0db1967798dba8da1af07e387908ed1553a0d6e74c084d1ceafe"},
				}},
			},
			{
				Name: "attrs", Version: "25.1.0", Index: "https://pypi.org/simple", Marker: `python_version >= "3.8"`,
				Wheels: []File{{
					Name: "attrs-25.1.0-py3-none-any.whl",
					URL:  "https://files.pythonhosted.org/packages/fc/30/attrs-25.1.0-py3-none-any.whl",
					Size: i64(63152), UploadTime: &up,
					Hashes: map[string]string{"sha256": sha},
				}},
				AttestationIdentities: []Identity{{Kind: "GitHub", Repository: "python-attrs/attrs", Workflow: "pypi-package.yml", Environment: "release-pypi"}},
			},
			{
				Name: "gitlab-oidc-project", Version: "0.0.3", Index: "https://pypi.org/simple",
				Sdist: &File{
					URL:    "https://files.pythonhosted.org/packages/gitlab_oidc_project-0.0.3.tar.gz",
					Size:   i64(5679),
					Hashes: map[string]string{"sha256": "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8"},
				},
				AttestationIdentities: []Identity{{Kind: "GitLab", Repository: "facutuesca/gitlab-oidc-project", WorkflowFilepath: ".gitlab-ci.yml"}},
			},
			{
				Name: "fastapi-paseto", Version: "1.3.1",
				Archive: &Archive{
					URL:    "https://github.com/Raze-Systems/fastapi-paseto/releases/download/v1.3.1/fastapi_paseto-1.3.1-py3-none-any.whl",
					Size:   i64(20480),
					Hashes: map[string]string{"sha256": strings.Repeat("ab", 32)},
				},
			},
			{
				Name: "pkg", Version: "2.0",
				VCS: &VCS{Type: "git", URL: "https://github.com/o/r.git", RequestedRevision: "v2.0", CommitID: strings.Repeat("0123456789", 4)},
			},
		},
	}
	l.Packages[3].SetPipguard(Record{
		Repository: "https://github.com/Raze-Systems/fastapi-paseto", RepositoryID: 812345678, Tag: "v1.3.1",
		Commit: strings.Repeat("f", 40), SignerWorkflow: ".github/workflows/release.yml", SourceRef: "refs/tags/v1.3.1",
		Verified: []string{"sha256", "size", "release-attestation"},
	})
	return l
}

func TestWriteRoundTrip(t *testing.T) {
	l := pipguardLock()
	out, err := Write(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read("written", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	again, err := Write(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Errorf("Write is not stable:\n%s\n---\n%s", out, again)
	}
	// Packages come back sorted by name, with every field.
	var names []string
	for _, p := range back.Packages {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "attrs fastapi-paseto gitlab-oidc-project numpy pkg" {
		t.Errorf("order %s", got)
	}
	byName := map[string]Package{}
	for _, p := range l.Packages {
		byName[p.Name] = p
	}
	for _, p := range back.Packages {
		want := byName[p.Name]
		if want.Tool != nil {
			// Tool tables come back with TOML's types ([]any, int64).
			gr, err := p.Pipguard()
			if err != nil {
				t.Fatal(err)
			}
			wr, _ := want.Pipguard()
			if !reflect.DeepEqual(gr, wr) {
				t.Errorf("%s: record %+v, want %+v", p.Name, gr, wr)
			}
			p.Tool, want.Tool = nil, nil
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", p.Name, p, want)
		}
	}
	if n := len(back.Notes()); n != 1 || back.Notes()[0].Code != "no-identities" {
		t.Errorf("notes %v", back.Notes())
	}
	for _, s := range []string{"[[packages.attestation-identities]]", "[packages.tool.pipguard]", `workflow_filepath = ".gitlab-ci.yml"`, "upload-time = 2025-01-25T11:30:10.164985Z"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("missing %q in\n%s", s, out)
		}
	}
}

func TestWriteRefusesCredentials(t *testing.T) {
	for _, u := range []string{"https://__token__:pypi-AgEI@upload.example/simple", "https://ghp_secret@files.example/a.whl", "https://files.example/a.whl?token=ghp_secret"} {
		l := pipguardLock()
		l.Packages[0].Index = u
		l.Packages[1].Wheels[0].URL = u
		_, err := Write(l)
		if !errors.Is(err, ErrCredential) {
			t.Errorf("%s: error %v, want ErrCredential", u, err)
		}
		if err != nil && (strings.Contains(err.Error(), "ghp_secret") || strings.Contains(err.Error(), "AgEI")) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
	l := pipguardLock()
	l.Packages[0].Wheels[0].URL = "http://files.example/numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
	if _, err := Write(l); !errors.Is(err, ErrInvalid) {
		t.Errorf("plain http: %v", err)
	}
}

// TestWriteDiff: pip 26's Pylock.from_dict accepts what Write writes and
// its select picks the same files in every test environment.
func TestWriteDiff(t *testing.T) {
	docs := map[string][]byte{}
	out, err := Write(pipguardLock())
	if err != nil {
		t.Fatal(err)
	}
	docs["pipguard"] = out
	// Every fixture, re-written by pipguard.
	for name, b := range fixtureDocs(t) {
		l, err := Read(name, b)
		if err != nil {
			t.Fatal(err)
		}
		w, err := Write(l)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs["rewritten/"+name] = w
	}
	n := runSelectDiff(t, selectCases(docs, [][2][]string{{nil, nil}}))
	t.Logf("written locks: %d cases agree", n)
}
