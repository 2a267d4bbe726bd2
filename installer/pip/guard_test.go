package pip

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/gittest"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// forEachPip runs f on a fresh environment of every pip the driver
// supports that this machine has (pkgtest.Pips): the machine's python3,
// Python 3.13's pip 24 and Debian's pip 23.0.
func forEachPip(t *testing.T, f func(t *testing.T, python string)) {
	for _, p := range pkgtest.Pips() {
		t.Run(p.Name, func(t *testing.T) {
			if p.Base == "" {
				t.Skip(p.Missing)
			}
			f(t, pkgtest.NewVenvWith(t, p))
		})
	}
}

// isolatePip keeps the machine's pip configuration and cache out of a test.
func isolatePip(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PIP_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("PIP_CONFIG_FILE", os.DevNull)
	t.Setenv("PIP_CACHE_DIR", t.TempDir())
}

func startSession(t *testing.T, o Options) (*Session, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	o.Output = out
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Info(); err != nil {
		t.Fatal(err)
	}
	return s, out
}

func fileURL(path string) string { return "file://" + path }

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sumFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum(b)
}

func gitRepo(t *testing.T, dir string, p pkgtest.Project) string {
	t.Helper()
	if err := p.WriteSource(dir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "evil"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// No build backend runs during the resolution for a direct reference
// nothing verified: a dependency "evil @ git+file://...", an sdist URL on
// the index, a local sdist, a local source directory, and one required by a
// file pipguard allowed. Each is refused before pip fetches it, with the
// chain that required it, and the build hook's witness never exists.
func TestRefusesLinksNothingVerified(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		witness := filepath.Join(dir, "witness")
		hook := fmt.Sprintf("open(%q, 'a').write('built\\n')", witness)
		evil := pkgtest.Project{Name: "evil", Version: "0.1", BuildHook: hook}
		evil2 := pkgtest.Project{Name: "evil2", Version: "0.1", BuildHook: hook}

		repo := filepath.Join(dir, "evil-git")
		commit := gitRepo(t, repo, evil)
		gitFileURL := "git+" + fileURL(repo) + "@" + commit
		gitRoot := filepath.Join(dir, "git")
		if out, err := exec.Command("git", "clone", "-q", "--bare", repo, filepath.Join(gitRoot, "evil.git")).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		srv := gittest.Serve(t, gitRoot)
		gitURL := "git+" + srv.URL + "/evil.git@" + commit
		sdist := filepath.Join(dir, evil.SdistName())
		os.WriteFile(sdist, evil.Sdist(), 0o644)
		sdist2 := filepath.Join(dir, evil2.SdistName())
		os.WriteFile(sdist2, evil2.Sdist(), 0o644)
		src := filepath.Join(dir, "evil-src")
		if err := evil.WriteSource(src); err != nil {
			t.Fatal(err)
		}

		ix := pkgtest.NewIndex(t)
		ix.AddSdist(evil)
		ix.Add(pkgtest.Project{Name: "demo", Version: "1.0", Requires: []string{"evil @ " + gitURL, "evil2 @ " + fileURL(sdist2)}})
		ix.Add(pkgtest.Project{Name: "demo-gitfile", Version: "1.0", Requires: []string{"evil @ " + gitFileURL}})
		indexSdist := ix.URL + "/files/" + evil.SdistName()

		allowed := pkgtest.Project{Name: "allowed", Version: "1.0", Requires: []string{"evil @ " + fileURL(sdist)}}
		allowedWheel := filepath.Join(dir, allowed.WheelName())
		os.WriteFile(allowedWheel, allowed.Wheel(), 0o644)
		plain := pkgtest.Project{Name: "plain", Version: "1.0"}
		plainWheel := filepath.Join(dir, plain.WheelName())
		os.WriteFile(plainWheel, plain.Wheel(), 0o644)

		reqs := filepath.Join(dir, "requirements.txt")
		line1 := "-r " + reqs + " (line 1)"
		type want struct {
			url, requirer string // requirer "" for the requirements file's own line
		}
		cases := []struct {
			name  string
			line  string
			allow []string
			want  []want
		}{
			{"git and sdist dependencies of an index wheel", "demo==1.0", nil,
				[]want{{gitURL, "demo 1.0"}, {fileURL(sdist2), "demo 1.0"}}},
			{"git+file dependency of an index wheel", "demo-gitfile==1.0", nil, []want{{gitFileURL, "demo-gitfile 1.0"}}},
			{"sdist URL on the index", "evil @ " + indexSdist, nil, []want{{indexSdist, ""}}},
			{"local sdist", sdist, nil, []want{{fileURL(sdist), ""}}},
			{"local source directory", src, nil, []want{{fileURL(src), ""}}},
			{"dependency of an allowed file", "allowed @ " + fileURL(allowedWheel), []string{fileURL(allowedWheel)},
				[]want{{fileURL(sdist), "allowed 1.0"}}},
			{"a file nothing allowed", "plain @ " + fileURL(plainWheel), []string{fileURL(allowedWheel)}, []want{{fileURL(plainWheel), ""}}},
		}
		for _, separate := range []bool{false, true} {
			mode := "in-process"
			if separate {
				mode = "separate"
			}
			t.Run(mode, func(t *testing.T) {
				s, out := startSession(t, Options{Python: python, Separate: separate})
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) {
						os.WriteFile(reqs, []byte(c.line+"\n"), 0o644)
						_, err := s.InstallWith(dir, InstallRequest{DryRun: true, ReqFile: reqs, AllowLinks: c.allow,
							Args: []string{"--index-url", ix.SimpleURL(), "--only-binary", ":all:"}})
						var le *LinkError
						var pe *Error
						if strings.HasPrefix(c.line, "demo-gitfile") && errors.As(err, &pe) && strings.Contains(pe.Tail, "Invalid URL: git+file:") {
							// pip 23's packaging (21.3) refuses a git+file
							// URL without a host in metadata: nothing ran.
						} else if !errors.As(err, &le) {
							t.Fatalf("err = %v\n%s", err, out.String())
						}
						if s.Mode != mode {
							t.Errorf("mode %q", s.Mode)
						}
						if le == nil {
							return
						}
						if len(le.Links) != len(c.want) {
							t.Errorf("refused %+v, want %+v", le.Links, c.want)
						}
						for _, w := range c.want {
							// (newer packaging writes git+file:///p as git+file:/p)
							i := slices.IndexFunc(le.Links, func(l RefusedLink) bool {
								return l.URL == w.url || l.URL == strings.Replace(w.url, ":///", ":/", 1)
							})
							if i < 0 {
								t.Errorf("%s not refused: %+v", w.url, le.Links)
								continue
							}
							chain := le.Links[i].Chain
							if w.requirer == "" {
								if !slices.Equal(chain, []string{line1}) {
									t.Errorf("%s: chain %q", w.url, chain)
								}
							} else if len(chain) != 2 || !strings.HasPrefix(chain[0], w.requirer+" requires '") || !strings.Contains(strings.Replace(chain[0], ":///", ":/", 1), strings.Replace(w.url, ":///", ":/", 1)) || chain[1] != line1 {
								t.Errorf("%s: chain %q", w.url, chain)
							}
						}
						if _, err := os.Stat(witness); err == nil {
							t.Fatalf("a build backend ran during the resolution")
						}
						if n := len(srv.Requests()); n != 0 {
							t.Fatalf("the git server was asked %d times", n)
						}
					})
				}
				if n := ix.Downloads(evil.SdistName()); n != 0 {
					t.Errorf("the index sdist was downloaded %d times", n)
				}
				t.Run("an allowed file link passes", func(t *testing.T) {
					os.WriteFile(reqs, []byte("plain @ "+fileURL(plainWheel)+"\n"), 0o644)
					rep, err := s.InstallWith(dir, InstallRequest{DryRun: true, ReqFile: reqs, AllowLinks: []string{fileURL(plainWheel) + "#sha256=" + sum(plain.Wheel())},
						Args: []string{"--index-url", ix.SimpleURL(), "--only-binary", ":all:"}})
					if err != nil {
						t.Fatalf("%v\n%s", err, out.String())
					}
					if len(rep.Install) != 1 || rep.Install[0].Metadata.Name != "plain" || !rep.Install[0].IsDirect {
						t.Errorf("%+v", rep.Install)
					}
				})
			})
		}
	})
}

// --python, in any of its forms, would make pip run itself again under
// another interpreter, without the guards: the driver refuses it before pip
// runs, and the in-process pip cannot re-execute even if asked.
func TestPythonOptionIsRefused(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		witness := filepath.Join(dir, "witness")
		other := filepath.Join(dir, "other-python")
		os.WriteFile(other, []byte("#!/bin/sh\necho ran >> "+witness+"\n"), 0o755)
		reqs := filepath.Join(dir, "requirements.txt")
		os.WriteFile(reqs, nil, 0o644)
		global := filepath.Join(dir, "global.conf")
		os.WriteFile(global, []byte("[global]\npython = "+other+"\n"), 0o644)
		install := filepath.Join(dir, "install.conf")
		os.WriteFile(install, []byte("[install]\npython = "+other+"\n"), 0o644)
		for _, c := range []struct {
			name string
			env  []string
			args []string
		}{
			{"PIP_PYTHON", []string{"PIP_PYTHON=" + other}, nil},
			{"[global] in pip.conf", []string{"PIP_CONFIG_FILE=" + global}, nil},
			{"[install] in pip.conf", []string{"PIP_CONFIG_FILE=" + install}, nil},
			{"argument", nil, []string{"--python=" + other}},
		} {
			t.Run(c.name, func(t *testing.T) {
				for _, kv := range c.env {
					k, v, _ := strings.Cut(kv, "=")
					t.Setenv(k, v)
				}
				s, out := startSession(t, Options{Python: python})
				_, err := s.Install(dir, true, reqs, append([]string{"--no-index", "--only-binary", ":all:"}, c.args...)...)
				var oe *OptionsError
				if !errors.As(err, &oe) || !strings.Contains(err.Error(), "--python") {
					t.Errorf("err = %v\n%s", err, out.String())
				}
				if _, err := os.Stat(witness); err == nil {
					t.Fatal("pip ran the other interpreter")
				}
			})
		}
		t.Run("in process", func(t *testing.T) {
			// The driver's guards in place, pip's own main is asked for
			// --python directly (as if the options check had missed it).
			code := `import sys
ns = {"__name__": "pipguard_driver"}
exec(compile(sys.stdin.read(), "driver.py", "exec"), ns)
ns["install_guards"]()
from pip._internal.cli.main import main
print("status", ns["run_in_process"](main, ["--python", sys.argv[1], "list"]))
`
			cmd := exec.Command(python, "-I", "-c", code, other)
			cmd.Stdin = strings.NewReader(driver)
			cmd.Env = Env(os.Environ())
			got, _ := cmd.CombinedOutput()
			if !strings.Contains(string(got), "status 1") || !strings.Contains(string(got), "another interpreter") {
				t.Errorf("%s", got)
			}
			if _, err := os.Stat(witness); err == nil {
				t.Fatal("pip ran the other interpreter")
			}
		})
	})
}

// A dry run keeps every file its report lists, byte for byte what the index
// served; a later local install uses only them, with the index gone.
func TestKeepsTheBytes(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		ix := pkgtest.NewIndex(t)
		demo := pkgtest.Project{Name: "demo", Version: "1.0", Requires: []string{"dep>=1"}}
		// (pip 23.0 compares a PEP 658 name unnormalized: "Dep" is not
		// "dep" to it.)
		dep := pkgtest.Project{Name: "dep", Version: "1.5"}
		ix.Add(demo)
		ix.Add(dep)
		local := pkgtest.Project{Name: "local-thing", Version: "2.0"}
		localWheel := filepath.Join(dir, local.WheelName())
		os.WriteFile(localWheel, local.Wheel(), 0o644)
		wheels := map[string][]byte{"demo": demo.Wheel(), "dep": dep.Wheel(), "local-thing": local.Wheel()}

		reqs := filepath.Join(dir, "requirements.txt")
		os.WriteFile(reqs, []byte("demo==1.0\nlocal-thing @ "+fileURL(localWheel)+"\n"), 0o644)
		keep := filepath.Join(dir, "keep")
		s, out := startSession(t, Options{Python: python})
		rep, err := s.InstallWith(dir, InstallRequest{DryRun: true, ReqFile: reqs, KeepDir: keep, AllowLinks: []string{fileURL(localWheel)},
			Args: []string{"--index-url", ix.SimpleURL(), "--only-binary", ":all:"}})
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if len(rep.Install) != 3 || len(rep.Kept) != 3 {
			t.Fatalf("install %d, kept %+v", len(rep.Install), rep.Kept)
		}
		for _, it := range rep.Install {
			i := slices.IndexFunc(rep.Kept, func(k Kept) bool {
				return k.Name == it.Metadata.Name && k.Version == it.Metadata.Version && k.URL == it.DownloadInfo.URL
			})
			if i < 0 {
				t.Errorf("no kept file for %s %s %s: %+v", it.Metadata.Name, it.Metadata.Version, it.DownloadInfo.URL, rep.Kept)
				continue
			}
			k := rep.Kept[i]
			if filepath.Dir(k.Path) != keep {
				t.Errorf("%s kept outside %s", k.Path, keep)
			}
			if got, want := sumFile(t, k.Path), sum(wheels[k.Name]); got != want {
				t.Errorf("%s: sha256 %s, the wheel's is %s", k.Path, got, want)
			}
		}

		ix.Close()
		os.WriteFile(reqs, []byte("demo==1.0\nlocal-thing==2.0\n"), 0o644)
		if _, err := s.InstallLocal(dir, reqs, []string{keep}, "--only-binary", ":all:"); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		got, err := exec.Command(python, "-c", "import demo, dep, local_thing; print(demo.VERSION, dep.VERSION, local_thing.VERSION)").CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != "1.0 1.5 2.0" {
			t.Errorf("%v: %s", err, got)
		}
	})
}

// A pip that resolves from metadata alone and does not download during a
// dry run (newer pips) still leaves every file kept: the driver downloads
// it through pip's own downloader. Here pip's own completion of the
// metadata-only requirements is turned off to stand for such a pip.
func TestKeepDownloadsWhatPipDidNot(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		ix := pkgtest.NewIndex(t)
		demo := pkgtest.Project{Name: "demo", Version: "1.0", Requires: []string{"dep"}}
		dep := pkgtest.Project{Name: "dep", Version: "1.0"}
		ix.Add(demo)
		ix.Add(dep)
		keep := filepath.Join(dir, "keep")
		os.MkdirAll(keep, 0o755)
		code := `import json, sys
ns = {"__name__": "pipguard_driver"}
exec(compile(sys.stdin.read(), "driver.py", "exec"), ns)
ns["install_guards"]()
from pip._internal.operations.prepare import RequirementPreparer
for name in ("prepare_linked_requirements_more", "finalize_linked_requirements"):
    if hasattr(RequirementPreparer, name):
        setattr(RequirementPreparer, name, lambda self, reqs, *a, **k: None)
from pip._internal.cli.main import main
status, st = ns["run_guarded"](main, {"args": ["install", "--dry-run", "-q", "--index-url", sys.argv[1], "--only-binary", ":all:", "demo==1.0"],
    "expect": {"allow_source_builds": False}, "keep_dir": sys.argv[2]})
print("KEPT " + json.dumps(st.kept))
`
		cmd := exec.Command(python, "-I", "-c", code, ix.SimpleURL(), keep)
		cmd.Stdin = strings.NewReader(driver)
		cmd.Env = Env(os.Environ())
		got, _ := cmd.CombinedOutput()
		_, line, ok := strings.Cut(string(got), "KEPT ")
		var kept []Kept
		if !ok || json.Unmarshal([]byte(strings.TrimSpace(line)), &kept) != nil || len(kept) != 2 {
			t.Fatalf("%s", got)
		}
		for _, k := range kept {
			p := map[string]pkgtest.Project{"demo": demo, "dep": dep}[k.Name]
			if sumFile(t, k.Path) != sum(p.Wheel()) {
				t.Errorf("%s differs from the wheel", k.Path)
			}
			if n := ix.Downloads(p.WheelName()); n != 1 {
				t.Errorf("%s downloaded %d times", p.WheelName(), n)
			}
		}
	})
}

// A local install runs with --no-index and exactly pipguard's find-links:
// a find-links from the environment or configuration is refused.
func TestLocalInstallRefusesOtherSources(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "keep")
		extra := filepath.Join(dir, "extra")
		os.MkdirAll(keep, 0o755)
		os.MkdirAll(extra, 0o755)
		reqs := filepath.Join(dir, "requirements.txt")
		os.WriteFile(reqs, nil, 0o644)
		conf := filepath.Join(dir, "pip.conf")
		os.WriteFile(conf, []byte("[install]\nfind-links = "+extra+"\n"), 0o644)
		for _, c := range []struct{ name, k, v string }{
			{"PIP_FIND_LINKS", "PIP_FIND_LINKS", extra},
			{"pip.conf", "PIP_CONFIG_FILE", conf},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Setenv(c.k, c.v)
				s, out := startSession(t, Options{Python: python})
				_, err := s.InstallLocal(dir, reqs, []string{keep}, "--only-binary", ":all:")
				var oe *OptionsError
				if !errors.As(err, &oe) || !strings.Contains(err.Error(), "find-links") {
					t.Errorf("err = %v\n%s", err, out.String())
				}
			})
		}
		t.Run("exactly pipguard's", func(t *testing.T) {
			s, out := startSession(t, Options{Python: python})
			if _, err := s.InstallLocal(dir, reqs, []string{keep}, "--only-binary", ":all:"); err != nil {
				t.Errorf("%v\n%s", err, out.String())
			}
		})
	})
}

// CheckDependencies finds what pip check prints, on an environment real
// pip made after the session started: alpha 2.0 installed where beta
// requires alpha==1.0, and beta's missing gamma.
func TestCheckDependenciesIsPipCheck(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		s, _ := startSession(t, Options{Python: python})
		before, err := s.CheckDependencies()
		if err != nil || len(before) != 0 {
			t.Fatalf("%v %+v", err, before)
		}
		var paths []string
		for _, p := range []pkgtest.Project{
			{Name: "alpha", Version: "2.0"},
			{Name: "Beta", Version: "1.0", Requires: []string{"alpha==1.0", "gamma>=1; python_version >= '3'"}},
		} {
			path := filepath.Join(dir, p.WheelName())
			os.WriteFile(path, p.Wheel(), 0o644)
			paths = append(paths, path)
		}
		if out, err := exec.Command(python, append([]string{"-m", "pip", "install", "-q", "--no-index", "--no-deps"}, paths...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got, err := s.CheckDependencies()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(python, "-m", "pip", "check").Output()
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(l, " requires ") || strings.Contains(l, " has requirement ") {
				want = append(want, l)
			}
		}
		var lines []string
		for _, c := range got {
			lines = append(lines, c.String())
		}
		slices.Sort(lines)
		slices.Sort(want)
		if len(want) != 2 || !slices.Equal(lines, want) {
			t.Errorf("CheckDependencies:\n%s\npip check:\n%s", strings.Join(lines, "\n"), out)
		}
		for _, c := range got {
			switch {
			case c.Missing && (c.Dist != "beta" || c.Dependency != "gamma" || c.Installed != ""):
				t.Errorf("%+v", c)
			case !c.Missing && (c.Dist != "beta" || c.Version != "1.0" || c.Dependency != "alpha" || c.Installed != "2.0" || c.Requirement != "alpha==1.0"):
				t.Errorf("%+v", c)
			}
		}
	})
}

// The probe reports pip's install scheme, for any distribution name, and
// the interpreter's cache tag.
func TestProbeReportsScheme(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		s, _ := startSession(t, Options{Python: python})
		info, _ := s.Info()
		got := info.Scheme("Demo-Pkg")
		out, err := exec.Command(python, "-I", "-c", `import json, os, sys
from pip._internal.locations import get_scheme
s = get_scheme("Demo-Pkg")
print(json.dumps([os.path.abspath(x) for x in (s.purelib, s.platlib, s.scripts, s.data, s.headers)] + [sys.implementation.cache_tag]))`).Output()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		json.Unmarshal(out, &want)
		if have := []string{got.Purelib, got.Platlib, got.Scripts, got.Data, got.Headers, got.CacheTag}; !slices.Equal(have, want) {
			t.Errorf("scheme %q, pip's %q", have, want)
		}
		if !strings.HasSuffix(got.Headers, string(filepath.Separator)+"Demo-Pkg") || !slices.Contains(info.Site, got.Purelib) || got.Data != info.Prefix {
			t.Errorf("%+v (site %v, prefix %s)", got, info.Site, info.Prefix)
		}
	})
}

// What the request allows passes: an exact git commit URL, and a URL the
// refusal named with its credentials masked (the orchestrator retries with
// what the LinkError says, never seeing the secret).
func TestAllowedDirectReferencesPass(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		viaGit := pkgtest.Project{Name: "via-git", Version: "3.0"}
		repo := filepath.Join(dir, "via-git")
		commit := gitRepo(t, repo, viaGit)
		gitRoot := filepath.Join(dir, "git")
		if out, err := exec.Command("git", "clone", "-q", "--bare", repo, filepath.Join(gitRoot, "via-git.git")).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		srv := gittest.Serve(t, gitRoot)
		gitURL := "git+" + srv.URL + "/via-git.git@" + commit
		ix := pkgtest.NewIndex(t)
		sd := pkgtest.Project{Name: "sd", Version: "0.2"}
		ix.AddSdist(sd)
		secretURL := strings.Replace(ix.URL, "://", "://user:s3cret@", 1) + "/files/" + sd.SdistName()

		reqs := filepath.Join(dir, "requirements.txt")
		os.WriteFile(reqs, []byte("via-git @ "+gitURL+"\nsd @ "+secretURL+"\n"), 0o644)
		s, out := startSession(t, Options{Python: python})
		req := InstallRequest{DryRun: true, ReqFile: reqs, AllowLinks: []string{gitURL},
			Args: []string{"--index-url", ix.SimpleURL(), "--only-binary", ":all:"}}
		_, err := s.InstallWith(dir, req)
		var le *LinkError
		if !errors.As(err, &le) || len(le.Links) != 1 || strings.Contains(err.Error(), "s3cret") || !strings.Contains(le.Links[0].URL, "****") {
			t.Fatalf("err = %v\n%s", err, out.String())
		}
		if len(srv.Requests()) != 0 || ix.Downloads(sd.SdistName()) != 0 {
			t.Fatal("pip fetched something before the refusal")
		}
		req.AllowLinks = append(req.AllowLinks, le.URLs()...)
		rep, err := s.InstallWith(dir, req)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		names := map[string]InstallItem{}
		for _, it := range rep.Install {
			names[it.Metadata.Name] = it
		}
		if g, ok := names["via-git"]; !ok || g.DownloadInfo.VCSInfo == nil || g.DownloadInfo.VCSInfo.CommitID != commit {
			t.Errorf("%+v", rep.Install)
		}
		if _, ok := names["sd"]; !ok || len(rep.Install) != 2 {
			t.Errorf("%+v", rep.Install)
		}
	})
}

// The driver runs without the site module's main (-S), so it finds the
// virtual environment itself: the probe reports the venv's prefix and
// site-packages, never the base interpreter's (which is where pip would
// then install).
func TestProbeFindsTheVirtualEnvironment(t *testing.T) {
	py := pkgtest.NewVenv(t)
	s, err := Start(context.Background(), Options{Python: py})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	venv := filepath.Dir(filepath.Dir(py))
	if !samePath(info.Prefix, venv) {
		t.Errorf("prefix %s, want %s", info.Prefix, venv)
	}
	for _, site := range info.Site {
		if !strings.HasPrefix(site, venv) {
			t.Errorf("site-packages %s is outside the venv %s", site, venv)
		}
	}
	sc := info.Scheme("demo")
	if !strings.HasPrefix(sc.Purelib, venv) || !strings.HasPrefix(sc.Scripts, venv) {
		t.Errorf("scheme %+v is outside the venv %s", sc, venv)
	}
}
