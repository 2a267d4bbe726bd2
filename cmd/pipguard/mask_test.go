package main

import (
	"bytes"
	"encoding/pem"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// pypiToken is an index token of PyPI's form (pypi-AgEIcHlwaS5vcmc…), the
// secret a user puts in --index-url https://__token__:TOKEN@….
const pypiToken = "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz"

// runBinary runs the built pipguard in dir with exactly env and returns
// its stdout, its stderr and its exit code.
func runBinary(t *testing.T, bin, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
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

// withEnv is env with the entries kv set (a later entry wins, as os/exec
// has it, but a copy keeps env itself unchanged).
func withEnv(env []string, kv ...string) []string {
	return append(append([]string{}, env...), kv...)
}

// Index credentials are masked on stdout and stderr, in text and JSON,
// whoever quotes them: pip's failure (the arguments pipguard ran pip with,
// pip's own last lines), a refusal quoting a ${VAR}-expanded password of a
// requirements file, a refusal quoting a pip.conf's index URL.
func TestIndexCredentialsAreMaskedInFailures(t *testing.T) {
	bin := pipguardBinary(t)
	a := newArena(t)
	empty := pkgtest.NewIndex(t) // every project: 404
	emptyHost := strings.TrimPrefix(empty.URL, "http://")
	const pw = "s3cretpwEXPANDED"
	const confPW = "s3cretpwFROMCONF"
	write := func(name, body string) string {
		p := filepath.Join(a.dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A policy that lists one index: pip's effective options naming
	// another are refused, quoting the other.
	pol := write("indexes.toml", "indexes = [\"https://pypi.org/simple\"]\n")
	reqIndex := write("req-index.txt", "--index-url https://u:${PW}@127.0.0.1:1/simple\ndemo==1.0\n")
	reqEditable := write("req-editable.txt", "--index-url https://u:${PW}@127.0.0.1:1/simple\n-e git+https://u:${PW}@127.0.0.1:1/o/r.git@v1.0.0#egg=r\n")
	conf := write("pip.conf", "[global]\nindex-url = https://u:"+confPW+"@127.0.0.1:1/simple\nretries = 0\n")
	install := []string{"install", "--python", a.py, "--timeout", "60s"}
	for _, c := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		quoted bool // the unmasked text would hold the secret
	}{
		{"argument, unreachable index", nil, []string{"demo==1.0", "--", "--retries", "0", "--index-url", "https://__token__:" + pypiToken + "@127.0.0.1:1/simple"}, 5, true},
		{"argument, local index answers 404", nil, []string{"demo==1.0", "--", "--index-url", "http://__token__:" + pypiToken + "@" + emptyHost + "/simple/"}, 5, true},
		{"argument, refused by the policy's indexes", nil, []string{"--policy", pol, "demo==1.0", "--", "--index-url", "https://__token__:" + pypiToken + "@127.0.0.1:1/simple"}, 3, true},
		{"requirements file, ${PW} refused by the policy's indexes", []string{"PW=" + pw}, []string{"--policy", pol, "-r", reqIndex}, 3, true},
		{"requirements file, ${PW} in a refused editable", []string{"PW=" + pw}, []string{"-r", reqEditable}, 2, true},
		{"requirements file, ${PW}, pip fails", []string{"PW=" + pw}, []string{"-r", reqIndex, "--", "--retries", "0"}, 5, false},
		{"pip.conf, refused by the policy's indexes", []string{"PIP_CONFIG_FILE=" + conf}, []string{"--policy", pol, "demo==1.0"}, 3, true},
		{"pip.conf, pip fails", []string{"PIP_CONFIG_FILE=" + conf}, []string{"demo==1.0"}, 5, false},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				args := append(append(append([]string{}, install...), "--format", format), c.args...)
				stdout, stderr, code := runBinary(t, bin, a.dir, withEnv(a.env, c.env...), args...)
				out := stdout + stderr
				if code != c.code {
					t.Errorf("exit %d, want %d\n%s", code, c.code, out)
				}
				for _, s := range []string{pypiToken, pypiToken[len("pypi-"):][:24], pw, confPW} {
					if strings.Contains(out, s) {
						t.Errorf("the output shows %q:\n%s", s, out)
					}
				}
				if c.quoted && !strings.Contains(out, "****") {
					t.Errorf("nothing masked (was the URL quoted at all?):\n%s", out)
				}
			})
		}
	}
}

// After an install and a lock whose GitHub token (in the environment and
// in the guarded requirement's URL), index URLs (arguments, and a
// requirements file's ${VAR}s) and cache key carried credentials, no file pipguard wrote holds one: not a receipt
// (or anything else in site-packages), not the cache, not the JSON report,
// not the lock file.
func TestReceiptsLocksAndCacheHoldNoSecret(t *testing.T) {
	bin := pipguardBinary(t)
	a := newArena(t)
	const ghToken = "ghp_MASKTESTghTOKEN0123456789abcdefABCDEF"
	const cacheKey = "MASKTESTcacheKEY0123456789"
	const pw = "s3cretpwEXPANDEDmask"
	const argPW = "s3cretpwARGUMENTmask"
	a.gh.Token = ghToken
	a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{Project: pkgtest.Project{Requires: []string{"plain==1.0"}}})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
	// The same index over https (a lock names no plain-http URL), its
	// certificate trusted by pipguard and pip beside the local GitHub's.
	tls := httptest.NewTLSServer(ix.Config.Handler)
	t.Cleanup(tls.Close)
	host := strings.TrimPrefix(tls.URL, "https://")
	ghCA, err := os.ReadFile(a.ca)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(a.dir, "cas.pem")
	os.WriteFile(bundle, append(ghCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw})...), 0o644)
	req := filepath.Join(a.dir, "requirements.txt")
	os.WriteFile(req, []byte("--index-url https://__token__:${PYPI_TOKEN}@"+host+"/simple/\n--extra-index-url https://u:${PW}@"+host+"/simple/\n"+"demo @ git+https://x-access-token:${GIT_PW}@"+strings.TrimPrefix(a.gh.URL(), "https://")+"/acme/demo.git@v1.0.0\nplain==1.0\n"), 0o600)
	cache := filepath.Join(a.dir, "cache")
	tmp := filepath.Join(a.dir, "tmp")
	os.Mkdir(tmp, 0o700)
	env := withEnv(a.env, "GH_TOKEN="+ghToken, "PIPGUARD_CACHE_KEY="+cacheKey, "PYPI_TOKEN="+pypiToken, "GIT_PW="+ghToken, "PW="+pw, "TMPDIR="+tmp, "SSL_CERT_FILE="+bundle, "PIP_CERT="+bundle)
	secrets := []string{ghToken, ghToken[len("ghp_"):], cacheKey, pypiToken, pypiToken[len("pypi-"):][:24], pw, argPW}
	gh := []string{"--github-url", a.gh.URL(), "--trusted-root", a.root, "--cache-dir", cache}
	pipArgs := []string{"--", "--extra-index-url", "https://u:" + argPW + "@" + host + "/simple/"}

	var outputs []string
	stdout, stderr, code := runBinary(t, bin, a.dir, env, append(append(append([]string{"install", "--format", "json", "--python", a.py}, gh...), "-r", req), pipArgs...)...)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, stdout, stderr)
	}
	outputs = append(outputs, "install's JSON report:\n"+stdout, "install's stderr:\n"+stderr)
	if !strings.Contains(stdout, `"name": "plain"`) || !strings.Contains(stdout, `"name": "demo"`) {
		t.Fatalf("demo and plain were not both installed:\n%s", stdout)
	}
	lockFile := filepath.Join(a.dir, "pylock.toml")
	stdout, stderr, code = runBinary(t, bin, a.dir, env, append(append(append([]string{"lock", "--python", a.py, "-o", lockFile}, gh...), "-r", req), pipArgs...)...)
	if code != 0 {
		t.Fatalf("lock: exit %d\n%s%s", code, stdout, stderr)
	}
	outputs = append(outputs, "lock's stdout:\n"+stdout, "lock's stderr:\n"+stderr)
	for _, o := range outputs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("%q in %s", s, o)
			}
		}
	}

	receipts := 0
	for _, root := range []string{a.site, cache, lockFile, tmp} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Errorf("%v", err)
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if strings.HasSuffix(p, ".dist-info/pipguard-receipt.json") {
				receipts++
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Error(err)
				return nil
			}
			for _, s := range secrets {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("%s holds %q", p, s)
				}
			}
			return nil
		})
	}
	if receipts != 2 {
		// demo's, and plain's index receipt, which names the index it
		// came from: without its credentials.
		t.Errorf("%d receipts, want 2 (demo's and plain's)", receipts)
	}
	if entries, _ := os.ReadDir(cache); len(entries) == 0 {
		t.Error("nothing was cached: the cache was not under test")
	}
	if data, _ := os.ReadFile(lockFile); !bytes.Contains(data, []byte(host)) {
		t.Errorf("the lock names no file on %s: the index was not under test\n%s", host, data)
	} else if bytes.Contains(data, []byte(`index = "https://pypi.org/simple"`)) {
		// plain came from the credentialed index, not from pip's default.
		t.Errorf("the lock says plain is from an index it is not from:\n%s", data)
	}
}
