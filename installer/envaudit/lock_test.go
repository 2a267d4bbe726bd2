package envaudit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/pep610"
)

// probe is the interpreter's environment as pip's vendored packaging
// gives it.
func probe(t *testing.T, py string) pylock.Environment {
	t.Helper()
	out, err := exec.Command(py, "-I", "-c", `import json
from pip._vendor.packaging.markers import default_environment
from pip._vendor.packaging.tags import sys_tags
print(json.dumps({"Markers": default_environment(), "Tags": [str(t) for t in sys_tags()]}))`).Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	var env pylock.Environment
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatal(err)
	}
	return env
}

func pipInstall(t *testing.T, py string, args ...string) {
	t.Helper()
	cmd := exec.Command(py, append([]string{"-m", "pip", "install", "-q", "--no-index", "--no-deps", "--disable-pip-version-check"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip install %v: %v\n%s", args, err, out)
	}
}

// wheelFile writes p's wheel into dir.
func wheelFile(t *testing.T, dir string, p pkgtest.Project) (path string, data []byte) {
	t.Helper()
	data = p.Wheel()
	path = filepath.Join(dir, p.WheelName())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// lockOf is a lock of exactly these wheels, written by pylock.Write and
// read back as pipguard audit reads it.
func lockOf(t *testing.T, dir string, wheels map[string][]byte, projects []pkgtest.Project) *pylock.Lock {
	t.Helper()
	l := &pylock.Lock{LockVersion: "1.0", CreatedBy: "pipguard", RequiresPython: ">=3.8"}
	for _, p := range projects {
		data := wheels[p.Name]
		sum := sha256.Sum256(data)
		size := int64(len(data))
		l.Packages = append(l.Packages, pylock.Package{
			Name: pylock.Normalize(p.Name), Version: p.Version, Index: "https://pypi.example/simple",
			Wheels:                []pylock.File{{Name: p.WheelName(), URL: "https://files.example/" + p.WheelName(), Size: &size, Hashes: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
			AttestationIdentities: []pylock.Identity{{Kind: "GitHub", Repository: "acme/" + p.Name, Workflow: "release.yml"}},
		})
	}
	text, err := pylock.Write(l)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pylock.toml")
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	read, err := pylock.Read(file, text)
	if err != nil {
		t.Fatal(err)
	}
	return read
}

func rulesByDist(rep *Report) map[string][]string {
	got := map[string][]string{}
	for _, f := range rep.Findings {
		got[f.Dist] = append(got[f.Dist], f.Rule)
	}
	for _, r := range got {
		sort.Strings(r)
	}
	return got
}

// TestAuditLock installs a set with real pip, locks it with pylock.Write
// and audits the environment against the lock: clean; then a distribution
// the lock does not name, one it names missing, one at another version,
// one whose installed file was changed and one installed from other bytes
// each give their finding.
func TestAuditLock(t *testing.T) {
	py := pkgtest.NewVenv(t)
	site := pkgtest.SitePackages(py)
	env := probe(t, py)
	dir := t.TempDir()
	projects := []pkgtest.Project{{Name: "alpha", Version: "1.0"}, {Name: "beta", Version: "2.0"}, {Name: "gamma", Version: "0.3"}, {Name: "delta", Version: "4.0.0"}}
	wheels := map[string][]byte{}
	var paths []string
	for _, p := range projects {
		path, data := wheelFile(t, dir, p)
		wheels[p.Name], paths = data, append(paths, path)
	}
	pipInstall(t, py, paths...)
	lock := lockOf(t, dir, wheels, projects)
	o := Options{GitHubHost: "github.com", AllowDirect: func(u string) bool { return strings.HasPrefix(u, "file://") },
		Lock: &Lock{File: filepath.Join(dir, "pylock.toml"), Lock: lock, Env: env}}

	rep, err := auditVenv([]string{site}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Fatalf("the locked environment has findings: %+v", rep.Findings)
	}
	if rep.Lock != o.Lock.File {
		t.Errorf("report's lock = %q", rep.Lock)
	}

	// Without the lock, the same environment with more in it: still clean.
	omega, _ := wheelFile(t, dir, pkgtest.Project{Name: "omega", Version: "9.9"})
	beta21, _ := wheelFile(t, dir, pkgtest.Project{Name: "beta", Version: "2.1"})
	// alpha 1.0 again, but other bytes than the locked wheel's.
	other, _ := wheelFile(t, t.TempDir(), pkgtest.Project{Name: "alpha", Version: "1.0", Files: map[string]string{"alpha_extra.py": "X = 1\n"}})
	pipInstall(t, py, omega, beta21)
	pipInstall(t, py, "--force-reinstall", other)
	if out, err := exec.Command(py, "-m", "pip", "uninstall", "-q", "-y", "gamma").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mod := filepath.Join(site, "delta", "__init__.py")
	if err := os.WriteFile(mod, []byte("VERSION = 'evil'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := auditVenv([]string{site}, Options{GitHubHost: "github.com", AllowDirect: o.AllowDirect}); err != nil || len(rep.Findings) != 1 {
		t.Fatalf("without the lock: %v %+v", err, rep)
	}

	rep, err = auditVenv([]string{site}, o)
	if err != nil {
		t.Fatal(err)
	}
	got := rulesByDist(rep)
	want := map[string][]string{
		"omega": {"lock-extra"},
		"gamma": {"lock-missing"},
		"beta":  {"lock-version"},
		"delta": {"files-changed"},
		"alpha": {"lock-hash"},
	}
	for d, w := range want {
		if strings.Join(got[d], ",") != strings.Join(w, ",") {
			t.Errorf("%s: rules %v, want %v", d, got[d], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("findings for %v, want only %v", got, want)
	}
	for _, f := range rep.Findings {
		if f.Severity != Error {
			t.Errorf("%s: severity %s", f.Rule, f.Severity)
		}
		t.Logf("%s %s %s: %s", f.Dist, f.Version, f.Rule, f.Message)
	}

	// audit_severity overrides a lock rule's severity.
	o.Severity = map[string]Severity{"lock-extra": Warning}
	rep, err = auditVenv([]string{site}, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == "lock-extra" && f.Severity != Warning {
			t.Errorf("lock-extra severity %s, want the policy's warning", f.Severity)
		}
	}
}

// TestAuditLockTools: pip, setuptools and wheel may be installed beside a
// lock that does not name them; a lock that names one decides for it.
func TestAuditLockTools(t *testing.T) {
	site := t.TempDir()
	dist(t, site, "pip", "23.2.1", "", nil)
	dist(t, site, "setuptools", "65.5.0", "", nil)
	dist(t, site, "app", "1.0", "", nil)
	env := pylock.Environment{Markers: map[string]string{"python_full_version": "3.11.7", "python_version": "3.11", "sys_platform": "linux", "os_name": "posix",
		"implementation_name": "cpython", "implementation_version": "3.11.7", "platform_machine": "x86_64", "platform_release": "", "platform_system": "Linux",
		"platform_version": "", "platform_python_implementation": "CPython"}, Tags: []string{"py3-none-any"}}
	sha := strings.Repeat("ab", 32)
	lockText := func(extra string) *pylock.Lock {
		top := ""
		if strings.HasPrefix(extra, "environments") {
			top, extra = extra, ""
		}
		doc := `lock-version = "1.0"
created-by = "test"
` + top + `
[[packages]]
name = "app"
version = "1.0"
wheels = [{url = "https://files.example/app-1.0-py3-none-any.whl", hashes = {sha256 = "` + sha + `"}}]
` + extra
		l, err := pylock.Read("pylock.toml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	rep, err := auditVenv([]string{site}, Options{Prefixes: []string{filepath.Dir(site)}, Lock: &Lock{File: "pylock.toml", Lock: lockText(""), Env: env}})
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("%v %+v", err, rep.Findings)
	}
	// The lock names pip, for Windows only: here it is extra.
	rep, err = auditVenv([]string{site}, Options{Prefixes: []string{filepath.Dir(site)}, Lock: &Lock{File: "pylock.toml", Lock: lockText(`
[[packages]]
name = "pip"
version = "23.2.1"
marker = "sys_platform == 'win32'"
wheels = [{url = "https://files.example/pip-23.2.1-py3-none-any.whl", hashes = {sha256 = "` + sha + `"}}]
`), Env: env}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rulesByDist(rep); len(got) != 1 || strings.Join(got["pip"], ",") != "lock-extra" {
		t.Errorf("findings %v, want pip's lock-extra", got)
	}
	// pipguard's receipt says another wheel was installed: lock-hash, even
	// where direct_url.json agrees with the lock.
	other := strings.Repeat("cd", 32)
	dist(t, site, "app", "1.0", `{"url": "https://files.example/app-1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "`+sha+`"}}}`,
		&pep610.Receipt{Repository: "https://github.com/acme/app", Commit: strings.Repeat("0", 40), From: "release", SHA256: sha, WheelSHA256: other, Asset: "app-1.0-py3-none-any.whl"})
	rep, err = auditVenv([]string{site}, Options{Prefixes: []string{filepath.Dir(site)}, GitHubHost: "github.com", Lock: &Lock{File: "pylock.toml", Lock: lockText(""), Env: env}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != "lock-hash" || !strings.Contains(rep.Findings[0].Message, "got sha256:"+other+" (pipguard's receipt)") {
		t.Errorf("findings %+v, want the receipt's lock-hash", rep.Findings)
	}
	// A lock for another environment: one finding, nothing compared.
	rep, err = auditVenv([]string{site}, Options{Prefixes: []string{filepath.Dir(site)}, Lock: &Lock{File: "pylock.toml", Lock: lockText("environments = [\"sys_platform == 'win32'\"]\n"), Env: env}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != "lock-environment" || !strings.Contains(rep.Findings[0].Message, "no environments marker matches") {
		t.Errorf("findings %+v, want one lock-environment", rep.Findings)
	}
}

// auditVenv is Audit of a test virtual environment, without the
// pth-executes finding of setuptools' distutils-precedence.pth, which every
// environment with setuptools has.
func auditVenv(sites []string, o Options) (*Report, error) {
	rep, err := Audit(sites, o)
	if rep != nil {
		var fs []Finding
		for _, f := range rep.Findings {
			if !(f.Rule == "pth-executes" && f.Dist == "setuptools" && filepath.Base(f.Path) == "distutils-precedence.pth") {
				fs = append(fs, f)
			}
		}
		rep.Findings = fs
	}
	return rep, err
}
