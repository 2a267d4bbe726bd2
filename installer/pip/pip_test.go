package pip

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/pep610"
)

// No child ever sees a GitHub token or the cache key; everything else
// passes through.
func TestEnvDropsTokens(t *testing.T) {
	got := Env([]string{"GH_TOKEN=a", "GITHUB_TOKEN=b", "GH_ENTERPRISE_TOKEN=c", "GITHUB_ENTERPRISE_TOKEN=d", "PIPGUARD_CACHE_KEY=e", "GH_TOKENX=keep", "PATH=/bin", "HOME=/h"})
	for _, kv := range got {
		for _, s := range redact.SecretEnv {
			if len(kv) > len(s) && kv[:len(s)+1] == s+"=" {
				t.Errorf("%s reached a child", kv)
			}
		}
	}
	for _, want := range []string{"GH_TOKENX=keep", "PATH=/bin", "HOME=/h", "PIP_NO_INPUT=1"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %v", want, got)
		}
	}
}

// A directory reached twice through a symlink is one directory.
func TestUniqueDirs(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "lib", "site"), 0o755)
	os.Symlink("lib", filepath.Join(d, "lib64"))
	got := pep610.UniqueDirs([]string{filepath.Join(d, "lib", "site"), filepath.Join(d, "lib64", "site"), filepath.Join(d, "lib", "site")})
	if len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

// An interpreter that does not exist, or is not Python, is reported as
// such, with the hint to pass another --python.
func TestUnusableInterpreter(t *testing.T) {
	for _, py := range []string{filepath.Join(t.TempDir(), "no-such-python"), "/bin/true"} {
		s, err := Start(context.Background(), Options{Python: py})
		if err == nil {
			_, err = s.Info()
			s.Close()
		}
		var ie *InterpreterError
		if !errors.As(err, &ie) || ie.Hint() == "" {
			t.Errorf("%s: err = %v", py, err)
		}
	}
}

// pip's own last words are the error's tail, for every command of a
// session (the output reader has passed the command's sync marker first),
// and the marker itself never reaches the user's output.
func TestErrorTailIsThisCommands(t *testing.T) {
	var out syncBuffer
	s, err := Start(context.Background(), Options{Python: "python3", Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	for _, name := range []string{"no-such-dist-one", "no-such-dist-two"} {
		reqs := filepath.Join(dir, name+".txt")
		os.WriteFile(reqs, []byte(name+"==1.0\n"), 0o644)
		_, err := s.Install(dir, true, reqs, "--no-index", "--only-binary", ":all:")
		var pe *Error
		if !errors.As(err, &pe) || pe.ExitCode != 1 || pe.Tail != "ERROR: No matching distribution found for "+name+"==1.0" {
			t.Errorf("err = %v", err)
		}
	}
	if s.Mode != "in-process" {
		t.Errorf("mode %q", s.Mode)
	}
	if strings.Contains(out.String(), "pipguard-sync") {
		t.Errorf("the sync marker reached the output:\n%s", out.String())
	}
}

// git never prompts (a prompt would stop the process group), unless the
// user chose their own ssh command.
func TestEnvNeverPrompts(t *testing.T) {
	got := Env([]string{"PATH=/bin"})
	if !slices.Contains(got, "GIT_TERMINAL_PROMPT=0") || !slices.Contains(got, "GIT_SSH_COMMAND=ssh -o BatchMode=yes") {
		t.Errorf("%v", got)
	}
	if got := Env([]string{"GIT_SSH_COMMAND=my-ssh"}); slices.Contains(got, "GIT_SSH_COMMAND=ssh -o BatchMode=yes") {
		t.Errorf("the user's ssh command was replaced: %v", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The marker is found when pip's last output had no final newline, and
// what stood before it is still shown.
func TestMarkerAfterOutputWithoutNewline(t *testing.T) {
	s := &Session{tail: &tailBuffer{}, marker: "pipguard-sync-0123", synced: make(chan struct{}, 1), outDone: make(chan struct{})}
	var out syncBuffer
	r, w, _ := os.Pipe()
	go s.copyOutput(r, &out)
	w.Write([]byte("Collecting demo\nno newline at the endpipguard-sync-0123\nlater\n"))
	w.Close()
	<-s.outDone
	select {
	case <-s.synced:
	default:
		t.Fatal("the marker was not seen")
	}
	if got := out.String(); got != "Collecting demo\nno newline at the end\nlater\n" {
		t.Errorf("output %q", got)
	}
}

// pip's effective options are checked as pip's own parser merges them
// (configuration, PIP_* variables, abbreviated and glued arguments), and
// pip does not run when they would add requirements, install elsewhere or
// build from source.
func TestEffectiveOptionsAreChecked(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pip.conf")
	os.WriteFile(conf, []byte("[install]\nno-binary = :all:\n"), 0o644)
	extra := filepath.Join(dir, "extra.txt")
	os.WriteFile(extra, []byte("evil\n"), 0o644)
	reqs := filepath.Join(dir, "reqs.txt")
	os.WriteFile(reqs, []byte(""), 0o644)
	out, err := exec.Command("python3", "-c", "import sys; print(sys.prefix)").Output()
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimSpace(string(out))
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"PIP_REQUIREMENT=" + extra}, nil, "requirements files"},
		{nil, []string{"-r" + extra}, "requirements files"},
		{nil, []string{"--prefi=" + dir}, "--prefix"},
		{nil, []string{"--dry"}, "--dry-run"},
		{[]string{"PIP_USER=1"}, nil, "--user"},
		{[]string{"PIP_CONFIG_FILE=" + conf}, []string{"--only-binary", ":none:"}, "--only-binary"},
		{nil, []string{"--global-option=--quiet"}, "--global-option"},
		{[]string{"PIP_EDITABLE=" + dir}, nil, "editable requirements"},
		{nil, []string{"--log", filepath.Join(prefix, "pipguard-test-never-written.log")}, "log file"},
		{[]string{"PIP_LOG=" + filepath.Join(prefix, "lib", "pipguard-test-never-written.log")}, nil, "log file"},
	} {
		for _, kv := range c.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		s, err := Start(context.Background(), Options{Python: "python3"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Install(dir, false, reqs, append([]string{"--no-index", "--only-binary", ":all:"}, c.args...)...)
		s.Close()
		var oe *OptionsError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err = %v, want %q", c.env, c.args, err, c.want)
		}
		for _, kv := range c.env {
			k, _, _ := strings.Cut(kv, "=")
			os.Unsetenv(k)
		}
	}
}

// gatedWriter stands for a terminal that is not read until the
// interpreter has exited.
type gatedWriter struct {
	syncBuffer
	gate chan struct{}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.gate
	return w.syncBuffer.Write(p)
}

// An interpreter that dies during the probe is reported with its last
// words, even when they are still in the pipe as it exits (a pyenv shim
// that names the missing version, then exits 127). CI once lost them.
func TestDiedKeepsLastWords(t *testing.T) {
	shim := filepath.Join(t.TempDir(), "shim")
	// 21 KB: it fits in the pipe, so the shim exits while the relay,
	// held by the gate, has read at most a line of it.
	script := "#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do echo \"noise line $i padded to make the pipe fill up quickly enough\" >&2; i=$((i+1)); done\necho 'pyenv: python3.9: command not found' >&2\nexit 127\n"
	if err := os.WriteFile(shim, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := &gatedWriter{gate: make(chan struct{})}
	s, err := Start(context.Background(), Options{Python: shim, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-s.exited
		close(out.gate)
	}()
	_, err = s.Info()
	s.Close()
	var ie *InterpreterError
	if !errors.As(err, &ie) || !strings.HasSuffix(ie.Reason, "during the probe: pyenv: python3.9: command not found") {
		t.Errorf("err = %v", err)
	}
}
