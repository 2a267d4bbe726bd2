// Package pip runs a target interpreter's pip, never through a shell: to
// learn what the interpreter supports (wheel tags, site-packages, markers),
// to ask what an install would do (--dry-run --report), to install, and to
// uninstall.
//
// What it trusts: the interpreter the user named, as pip itself would. What
// pip prints is relayed to the caller's writer (stderr in the CLI); its JSON
// report is parsed with size limits and treated as a description of what pip
// did, which package pep610 then checks on disk.
package pip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Python is a target interpreter.
type Python struct {
	// Path is the interpreter to run (python -m pip).
	Path string
	// Output receives pip's own output (stdout and stderr); nil discards it.
	Output io.Writer
}

// Error is pip exiting non-zero.
type Error struct {
	Args     []string
	ExitCode int
	// Tail is the end of pip's output, for the message.
	Tail string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("pip %s exited with status %d", strings.Join(e.Args, " "), e.ExitCode)
	if e.Tail != "" {
		msg += ": " + e.Tail
	}
	return msg
}

// Hint says what to do.
func (e *Error) Hint() string {
	return "pip's output above says why; nothing pipguard verified was changed"
}

// env is pip's environment: the caller's, without version-check noise and
// prompts.
func env() []string {
	return append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PYTHONDONTWRITEBYTECODE=1")
}

// run executes python with args; output goes to p.Output and the last lines
// are kept for errors.
func (p Python) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, p.Path, args...)
	cmd.Env = env()
	var tail tailBuffer
	out := io.Writer(&tail)
	if p.Output != nil {
		out = io.MultiWriter(p.Output, &tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &Error{Args: args[2:], ExitCode: ee.ExitCode(), Tail: tail.last()}
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", p.Path, err)
	}
	return nil
}

// tailBuffer keeps the last 4 KiB written.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) last() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// probe asks the interpreter, through pip's vendored packaging, for what
// pipguard needs: its wheel tags in priority order, its site-packages
// directories, its version, and the value of each marker.
const probe = `
import json, sys, sysconfig
from pip._vendor.packaging import tags, markers
out = {"tags": [str(t) for t in tags.sys_tags()],
       "site": sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}),
       "python": "%d.%d.%d" % sys.version_info[:3], "markers": {}}
for m in json.loads(sys.stdin.read()):
    try:
        out["markers"][m] = markers.Marker(m).evaluate()
    except Exception as e:
        out["markers"][m] = str(e)
json.dump(out, sys.stdout)
`

// Info is what the interpreter told the probe.
type Info struct {
	// Tags are the supported wheel tags, most preferred first.
	Tags []string `json:"tags"`
	// Site are the site-packages directories.
	Site []string `json:"site"`
	// Version is the interpreter's version.
	Version string `json:"python"`
	// Markers maps each marker asked about to true, false, or an error text.
	Markers map[string]any `json:"markers"`
}

// Probe runs the probe, evaluating markers.
func (p Python) Probe(ctx context.Context, markers []string) (*Info, error) {
	in, _ := json.Marshal(append([]string{}, markers...))
	cmd := exec.CommandContext(ctx, p.Path, "-I", "-c", probe)
	cmd.Env = env()
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cannot use %s as the target interpreter (it needs pip): %v: %s", p.Path, err, lastLine(stderr.String()))
	}
	var info Info
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || len(info.Tags) == 0 || len(info.Site) == 0 {
		return nil, fmt.Errorf("%s: unexpected answer from the interpreter probe", p.Path)
	}
	return &info, nil
}

func lastLine(s string) string {
	var t tailBuffer
	t.Write([]byte(s))
	return t.last()
}

// Report is pip's installation report (pip install --report), version 1.
type Report struct {
	Version string        `json:"version"`
	Install []InstallItem `json:"install"`
}

// InstallItem is one distribution pip would install (or did).
type InstallItem struct {
	DownloadInfo struct {
		URL         string `json:"url"`
		ArchiveInfo *struct {
			Hash   string            `json:"hash"`
			Hashes map[string]string `json:"hashes"`
		} `json:"archive_info"`
		VCSInfo *struct {
			VCS      string `json:"vcs"`
			CommitID string `json:"commit_id"`
		} `json:"vcs_info"`
		DirInfo *struct {
			Editable bool `json:"editable"`
		} `json:"dir_info"`
	} `json:"download_info"`
	IsDirect  bool `json:"is_direct"`
	Requested bool `json:"requested"`
	Metadata  struct {
		Name         string   `json:"name"`
		Version      string   `json:"version"`
		RequiresDist []string `json:"requires_dist"`
	} `json:"metadata"`
}

// MaxReport bounds pip's report.
const MaxReport = 32 << 20

func readReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxReport+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReport {
		return nil, fmt.Errorf("pip's report is larger than %d MiB", MaxReport>>20)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("pip's report: %v", err)
	}
	if r.Version != "1" {
		return nil, fmt.Errorf("pip's report has version %q; pipguard reads version 1 (pip >= 23)", r.Version)
	}
	return &r, nil
}

// Install runs pip install with args, writing its report into dir, and
// returns the report. With dryRun, pip only resolves (--dry-run).
func (p Python) Install(ctx context.Context, dir string, dryRun bool, args ...string) (*Report, error) {
	f, err := os.CreateTemp(dir, "pip-report-*.json")
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(f.Name())
	full := []string{"-m", "pip", "install"}
	if dryRun {
		full = append(full, "--dry-run", "--quiet")
	}
	full = append(full, "--report", f.Name())
	full = append(full, args...)
	if err := p.run(ctx, full...); err != nil {
		return nil, err
	}
	return readReport(f.Name())
}

// Uninstall removes the named distributions.
func (p Python) Uninstall(ctx context.Context, names ...string) error {
	return p.run(ctx, append([]string{"-m", "pip", "uninstall", "--yes"}, names...)...)
}

// Default is the interpreter pipguard targets when --python is not given:
// the active virtual environment's, else python3 on PATH.
func Default(getenv func(string) string) string {
	if v := getenv("VIRTUAL_ENV"); v != "" {
		return filepath.Join(v, "bin", "python")
	}
	return "python3"
}
