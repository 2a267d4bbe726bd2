package gitref

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/gittest"
)

// pktLine frames payload as a pkt-line.
func pktLine(payload string) string { return fmt.Sprintf("%04x%s", len(payload)+4, payload) }

// peakHeap samples the heap until stop is called, and returns the largest
// HeapAlloc seen above the heap at the start; past limit, it calls over
// (so that a test of unbounded growth ends before the machine suffers).
func peakHeap(limit uint64, over func()) (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
				peak.Store(ms.HeapAlloc - base)
				if peak.Load() > limit {
					over()
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// A git server that never ends its ref advertisement (smart HTTP, each ref
// new) gets a RemoteError that names the bound, long before --timeout,
// and pipguard's memory stays bounded: before, it grew until the timeout
// (2.3 GB in the default 30 s).
func TestEndlessAdvertisementOverHTTP(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		bw := bufio.NewWriterSize(w, 1<<20)
		fmt.Fprint(bw, pktLine("# service=git-upload-pack\n"), "0000")
		fmt.Fprint(bw, pktLine(strings.Repeat("a", 40)+" HEAD\x00multi_ack side-band-64k ofs-delta\n"))
		for i := 0; r.Context().Err() == nil; i++ {
			fmt.Fprint(bw, pktLine(fmt.Sprintf("%040x refs/tags/v%d\n", i, i)))
			sent.Add(1)
		}
	}))
	defer srv.Close()

	const limit = 512 << 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := peakHeap(limit, cancel)
	start := time.Now()
	_, err := List(ctx, srv.URL+"/o/r.git", Options{Timeout: 60 * time.Second})
	took := time.Since(start)
	peak := stop()
	t.Logf("%s, %d refs sent, peak heap %d MiB: %v", took, sent.Load(), peak>>20, err)
	var re *RemoteError
	if !errors.As(err, &re) || !errors.Is(err, ErrAdvertisementTooLarge) {
		t.Fatalf("err = %v, want a RemoteError for a too large advertisement", err)
	}
	if !strings.Contains(re.Error(), "more than 1000000 refs") || re.Hint() == "" {
		t.Errorf("error %q, hint %q", re.Error(), re.Hint())
	}
	if took > 30*time.Second {
		t.Errorf("took %s", took)
	}
	if peak > limit {
		t.Errorf("peak heap %d MiB, want at most 512", peak>>20)
	}
}

// The byte bound holds for a few endless lines too.
func TestAdvertisementByteBound(t *testing.T) {
	l := newAdvLimit()
	line := pktLine(strings.Repeat("x", 65000))
	r := l.reader(strings.NewReader(strings.Repeat(line, MaxAdvertisement/len(line)+2)))
	buf := make([]byte, 1<<20)
	var n int64
	var err error
	for err == nil {
		var k int
		k, err = r.Read(buf)
		n += int64(k)
	}
	if !errors.Is(err, ErrAdvertisementTooLarge) || n != MaxAdvertisement || !strings.Contains(err.Error(), "more than 256 MiB") {
		t.Fatalf("read %d bytes: %v", n, err)
	}
}

// shim puts an executable git-upload-pack script with body first on
// $PATH, for go-git's file transport and the test SSH server alike.
func shim(t *testing.T, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "git-upload-pack"), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// For a git+file:// requirement the remote's git-upload-pack is a child of
// pipguard. It must not see a token (go-git's file transport passed it the
// whole environment).
func TestFileRemoteSeesNoToken(t *testing.T) {
	r := gittest.NewRepo(t, filepath.Join(t.TempDir(), "r.git"))
	r.Tag("v1.0.0")
	envFile := filepath.Join(t.TempDir(), "env")
	shim(t, fmt.Sprintf("env > %q\nexec %q \"$@\"", envFile, real(t)))
	secrets := map[string]string{
		"GH_TOKEN": "ghp_GHTOKENSECRET", "GITHUB_TOKEN": "ghs_GITHUBTOKENSECRET",
		"GH_ENTERPRISE_TOKEN": "GHETOKENSECRET", "GITHUB_ENTERPRISE_TOKEN": "GITHUBETOKENSECRET",
		"PIPGUARD_CACHE_KEY": "CACHEKEYSECRET",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	refs, err := List(context.Background(), r.FileURL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Classify("r", refs, "v1.0.0"); err != nil || res.Commit != r.Head() {
		t.Fatalf("%+v %v", res, err)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("the git-upload-pack shim did not run: %v", err)
	}
	if !strings.Contains(string(env), "PATH=") {
		t.Fatalf("env file holds no environment: %q", env)
	}
	for k, v := range secrets {
		if strings.Contains(string(env), k+"=") || strings.Contains(string(env), v) {
			t.Errorf("git-upload-pack saw %s", k)
		}
	}
	// pipguard's own environment is left as it was.
	if os.Getenv("GH_TOKEN") != secrets["GH_TOKEN"] {
		t.Error("GH_TOKEN was unset in pipguard's environment")
	}
}

// real is the path of git's own git-upload-pack.
func real(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "git-upload-pack")
}

// endless is a git-upload-pack that advertises one ref, then the same ref
// with a name of n bytes forever.
func endless(n int) string {
	hash := strings.Repeat("a", 40)
	first := hash + " HEAD\\000side-band-64k ofs-delta\\n"
	firstLen := 40 + len(" HEAD") + 1 + len("side-band-64k ofs-delta") + 1
	// yes ends each line with the newline the length counts.
	line := strings.TrimSuffix(pktLine(hash+" refs/tags/"+strings.Repeat("v", n)+"\n"), "\n")
	return fmt.Sprintf("printf '%04x%s'\nexec yes %q", firstLen+4, first, line)
}

// The same bounds hold for a file remote and an ssh remote whose
// git-upload-pack never ends its advertisement.
func TestEndlessAdvertisementOverFileAndSSH(t *testing.T) {
	root := t.TempDir()
	r := gittest.NewRepo(t, filepath.Join(root, "o", "r.git"))
	r.Tag("v1.0.0")
	check := func(name, url, want string) {
		t.Helper()
		const limit = 512 << 20
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := peakHeap(limit, cancel)
		start := time.Now()
		_, err := List(ctx, url, Options{Timeout: 60 * time.Second})
		took, peak := time.Since(start), stop()
		t.Logf("%s: %s, peak heap %d MiB: %v", name, took, peak>>20, err)
		var re *RemoteError
		if !errors.As(err, &re) || !errors.Is(err, ErrAdvertisementTooLarge) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want a RemoteError for more than %s", name, err, want)
		}
		if took > 30*time.Second || peak > limit {
			t.Errorf("%s: took %s, peak heap %d MiB", name, took, peak>>20)
		}
	}
	shim(t, endless(1))
	check("file", r.FileURL(), "more than 1000000 refs")

	srv := gittest.ServeSSH(t, root, t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", srv.AgentSock)
	t.Setenv("SSH_KNOWN_HOSTS", srv.KnownHosts)
	shim(t, endless(65000))
	check("ssh", srv.URL("o/r.git"), "more than 256 MiB")
}
