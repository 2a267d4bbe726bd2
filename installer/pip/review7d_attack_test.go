package pip

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// review7d: pip's cache directory (--cache-dir, PIP_CACHE_DIR, cache-dir =
// in any pip.conf) is written during the resolution, like its log file:
// every index page and every file pip downloads over HTTP goes into its
// http cache (cache-dir/http) before pip's report, before pipguard has
// surveyed and stashed. One inside the environment is written outside the
// transaction, as a log there would be: it must be refused the same way.
func TestReview7dCacheDirInsideTheEnvironment(t *testing.T) {
	py := pkgtest.NewVenv(t)
	venv := filepath.Dir(filepath.Dir(py))
	dir := t.TempDir()
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "demo", Version: "1.0"})
	// An index as PyPI serves it: its pages and files say they may be
	// cached (Cache-Control: max-age).
	target, _ := url.Parse(ix.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("Cache-Control", "max-age=600, public")
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	// pip caches what an https index serves; a trusted http host stands
	// in for one here.
	host := strings.TrimPrefix(srv.URL, "http://")
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(reqs, []byte("demo==1.0\n"), 0o644)
	cache := filepath.Join(venv, "lib", "pipcache")
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"--cache-dir", cache}},
		{[]string{"PIP_CACHE_DIR=" + cache}, nil},
	} {
		for _, kv := range c.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		s, err := Start(context.Background(), Options{Python: py})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.InstallWith(dir, InstallRequest{DryRun: true, ReqFile: reqs,
			Args: append([]string{"--index-url", srv.URL + "/simple/", "--trusted-host", host, "--only-binary", ":all:"}, c.args...)})
		s.Close()
		var oe *OptionsError
		if !errors.As(err, &oe) {
			t.Errorf("%v %v: err = %v, want the cache directory inside the environment refused", c.env, c.args, err)
		}
		var written []string
		filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				written = append(written, p)
			}
			return nil
		})
		if len(written) > 0 {
			t.Errorf("%v %v: pip wrote %d files in the environment during a dry run's resolution (%s ...)", c.env, c.args, len(written), written[0])
		}
		os.RemoveAll(cache)
		for _, kv := range c.env {
			k, _, _ := strings.Cut(kv, "=")
			os.Unsetenv(k)
		}
	}
}
