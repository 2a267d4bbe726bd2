// Package pip drives a target interpreter's pip, never through a shell: it
// learns what the interpreter supports (wheel tags, site-packages, markers),
// asks what an install would do (--dry-run --report) and installs.
//
// One interpreter process serves a whole install (see driver.py): it is
// started first, probes, imports pip while the caller verifies, then runs
// each pip command through pip's CLI entry point. A pip that cannot be
// driven that way runs as a child process of the driver, under the same
// guards.
//
// The guards (driver.py's install_guards) hold pip to the rule that no code
// runs that nothing verified: before pip prepares any link (the
// RequirementPreparer's prepare_linked_requirement, _prepare_linked_requirement
// and prepare_editable_requirement, and every root requirement before the
// resolvelib Resolver.resolve starts), the link must be a wheel that pip's
// PackageFinder.find_all_candidates found, an sdist it found when
// Options.AllowSourceBuilds, or one of InstallRequest.AllowLinks; anything
// else aborts the resolution (*LinkError). A dry run with
// InstallRequest.KeepDir keeps every file its report lists (Report.Kept).
// pip's --python, which would run pip again under another interpreter, is
// refused by the options check and disabled in pip's main.
//
// What it trusts: the interpreter the user named, as pip itself would. What
// pip prints is relayed to the caller's writer (stderr in the CLI); its JSON
// report is parsed with size limits and treated as a description of what pip
// did, which the installer then checks on disk. Children never see a GitHub
// token or the cache key: GH_TOKEN, GITHUB_TOKEN, GH_ENTERPRISE_TOKEN,
// GITHUB_ENTERPRISE_TOKEN and PIPGUARD_CACHE_KEY (redact.SecretEnv) are
// removed from their environment.
package pip

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pipguard/pipguard/internal/redact"
)

//go:embed driver.py
var driver string

// Error is pip exiting non-zero.
type Error struct {
	Args     []string
	ExitCode int
	// Tail is the end of pip's output, for the message: its last line, or
	// its last lines when Hidden.
	Tail string
	// Hidden says pip's output was not shown (-q, --format json): the
	// message is all the user sees of it.
	Hidden bool
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
	if e.Hidden {
		return "pip's last lines are in the message (run without -q or --format json to see all of its output); the environment was left as it was"
	}
	return "pip's output above says why; the environment was left as it was"
}

// InterpreterError is a target interpreter pipguard cannot use.
type InterpreterError struct {
	Python string
	Reason string
	// Output is what the interpreter printed before pipguard gave up on
	// it (during the probe), for the report to show (not part of Error).
	Output string
}

func (e *InterpreterError) Error() string {
	return fmt.Sprintf("cannot use %s as the target interpreter: %s", e.Python, e.Reason)
}

// Hint says what to do.
func (e *InterpreterError) Hint() string {
	return "pass --python with a Python 3 interpreter that has pip 23.0 or later (python -m pip --version)"
}

// Env is the environment of every child process: the caller's, without
// pipguard's secrets (redact.SecretEnv: GitHub tokens and the cache key),
// version-check noise or prompts (pip's, git's and ssh's).
func Env(environ []string) []string {
	out := redact.Environ(environ)
	out = append(out, "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PYTHONDONTWRITEBYTECODE=1",
		// git (with --from git) must never wait on a prompt: the
		// interpreter runs in a process group of its own, where reading
		// the terminal would stop it.
		"GIT_TERMINAL_PROMPT=0")
	if !hasKey(environ, "GIT_SSH_COMMAND") && !hasKey(environ, "GIT_SSH") {
		out = append(out, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return out
}

func hasKey(environ []string, key string) bool {
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// tailBuffer keeps the last 4 KiB written; the output reader writes while
// a command's caller resets and reads.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = t.b[:0]
}

func (t *tailBuffer) last() string { return t.lastLines(1) }

// lastLines is the last n non-empty lines, joined by " | ".
func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	text := string(t.b)
	t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append([]string{l}, out...)
		}
	}
	return strings.Join(out, " | ")
}

// Info is what the interpreter told the probe.
type Info struct {
	// Tags are the supported wheel tags, most preferred first.
	Tags []string `json:"tags"`
	// Site are the site-packages directories (purelib, platlib), each
	// once: directories that are the same through a symlink (lib64 ->
	// lib) are counted once.
	Site []string `json:"site"`
	// Prefix is the environment's sys.prefix.
	Prefix string `json:"prefix"`
	// Version is the interpreter's version.
	Version string `json:"python"`
	// Markers maps each marker asked about to true, false, or an error text.
	Markers map[string]any `json:"markers"`
	// Environment is the interpreter's PEP 508 marker environment, as
	// pip's packaging computes it (default_environment()).
	Environment map[string]string `json:"environment"`
	// Pip is pip's version.
	Pip string `json:"-"`
	// CacheTag is sys.implementation.cache_tag ("cpython-311"), which
	// names the .pyc files pip compiles.
	CacheTag string `json:"cache_tag"`
	// SchemeTemplate is pip's install scheme (locations.get_scheme) for
	// the distribution named SchemePlaceholder: purelib, platlib, scripts,
	// data and headers, absolute. Scheme fills it in for a name.
	SchemeTemplate map[string]string `json:"scheme"`
	// SchemeError says why the probe has no scheme (pip's get_scheme
	// failed), or is "".
	SchemeError string `json:"scheme_error"`
	// Stdlib are the interpreter's own library directories (sysconfig's
	// stdlib and platstdlib, every sys.path directory that is no site
	// directory): the interpreter's, where no wheel may write, except in
	// a site directory inside one (a non-venv interpreter's
	// lib/pythonX.Y/site-packages).
	Stdlib []string `json:"stdlib"`
}

// SchemePlaceholder is the distribution name the probe asks pip's install
// scheme for; only headers depend on it.
const SchemePlaceholder = "pipguard0dist0placeholder"

// Scheme is where pip installs a wheel's files, by wheel category (the
// .data directories' names: purelib, platlib, scripts, data, headers),
// plus the interpreter's cache tag.
type Scheme struct {
	Purelib, Platlib, Scripts, Data, Headers, CacheTag string
}

// Scheme is pip's install scheme for the distribution name, as pip passes
// it to get_scheme when it installs (the requirement's name); the zero
// Scheme when the probe has none (see SchemeError).
func (i *Info) Scheme(name string) Scheme {
	t := i.SchemeTemplate
	if t == nil {
		return Scheme{}
	}
	fill := func(p string) string {
		// Only a whole path element is the placeholder.
		parts := strings.Split(p, string(filepath.Separator))
		for j, e := range parts {
			if e == SchemePlaceholder {
				parts[j] = name
			}
		}
		return strings.Join(parts, string(filepath.Separator))
	}
	return Scheme{Purelib: fill(t["purelib"]), Platlib: fill(t["platlib"]), Scripts: fill(t["scripts"]),
		Data: fill(t["data"]), Headers: fill(t["headers"]), CacheTag: i.CacheTag}
}

// Kept is a file a dry run's resolution downloaded or read, kept for the
// caller (InstallRequest.KeepDir). Nothing about it is checked: the caller
// hashes Path itself.
type Kept struct {
	// Name and Version are the distribution's, as pip read its metadata.
	Name    string `json:"name"`
	Version string `json:"version"`
	// URL is the link pip resolved (without fragment, credentials masked).
	URL string `json:"url"`
	// Path is the kept file, in KeepDir, named as pip names it.
	Path string `json:"path"`
}

// RefusedLink is a link pip was about to prepare that is neither an index
// file pip found nor one the request allowed.
type RefusedLink struct {
	// URL is the link without its fragment, credentials masked.
	URL string `json:"url"`
	// Chain is who required it, nearest first: "demo 1.0 requires
	// 'evil @ git+...'", ..., ending with where the first requirement came
	// from ("-r /path/requirements.txt (line 3)").
	Chain []string `json:"chain"`
}

// LinkError is a resolution pipguard's driver stopped before pip fetched or
// built a link nothing verified. The caller may allow the links (policy)
// and resolve again with them in InstallRequest.AllowLinks.
type LinkError struct{ Links []RefusedLink }

func (e *LinkError) Error() string {
	var b strings.Builder
	b.WriteString("pip's resolution reached links that are neither index wheels nor verified by pipguard: ")
	for i, l := range e.Links {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(l.URL)
		if len(l.Chain) > 0 {
			b.WriteString(" (" + strings.Join(l.Chain, ", ") + ")")
		}
	}
	return b.String()
}

// Hint says what to do.
func (e *LinkError) Hint() string {
	return "pip would have downloaded and built them without verification; pin those requirements to index releases, or allow the direct references by policy (allow_direct)"
}

// URLs are the refused links' URLs.
func (e *LinkError) URLs() []string {
	out := make([]string, len(e.Links))
	for i, l := range e.Links {
		out[i] = l.URL
	}
	return out
}

// Conflict is one line of pip check: a distribution whose requirement is
// missing (Missing) or installed at a version it does not accept.
type Conflict struct {
	// Dist and Version are the requiring distribution's (Dist as pip check
	// prints it, normalized).
	Dist    string `json:"dist"`
	Version string `json:"version"`
	// Requirement is the requirement, as its metadata says.
	Requirement string `json:"requirement"`
	// Dependency is the required project's name, normalized.
	Dependency string `json:"dependency"`
	// Installed is the version installed; "" when Missing.
	Installed string `json:"installed"`
	Missing   bool   `json:"missing"`
}

// String is the line pip check prints for c.
func (c Conflict) String() string {
	if c.Missing {
		return fmt.Sprintf("%s %s requires %s, which is not installed.", c.Dist, c.Version, c.Dependency)
	}
	return fmt.Sprintf("%s %s has requirement %s, but you have %s %s.", c.Dist, c.Version, c.Requirement, c.Dependency, c.Installed)
}

// maskURL masks the credentials a URL still has (the driver masks them
// already, with pip's redact_auth_from_url).
func maskURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	host, path, _ := strings.Cut(rest, "/")
	at := strings.LastIndex(host, "@")
	if at < 0 {
		return s
	}
	user, pass, hasPass := strings.Cut(host[:at], ":")
	switch {
	case hasPass && pass != "****":
		user += ":****"
	case hasPass:
		user += ":" + pass
	default:
		user = "****"
	}
	out := scheme + "://" + user + host[at:]
	if strings.Contains(rest, "/") {
		out += "/" + path
	}
	return out
}

// Report is pip's installation report (pip install --report), version 1.
type Report struct {
	Version string        `json:"version"`
	Install []InstallItem `json:"install"`
	// Kept are the files a dry run with InstallRequest.KeepDir kept, one
	// per item of Install that has a file (not a VCS checkout or a local
	// directory).
	Kept []Kept `json:"-"`
	// IndexURLs are the package indexes pip's effective options name (a
	// dry run's): where provenance for its files is looked up. They may
	// hold credentials (pip's configuration's): never print them.
	IndexURLs []string `json:"-"`
}

// ArchiveInfo is a report item's archive_info.
type ArchiveInfo struct {
	Hash   string            `json:"hash"`
	Hashes map[string]string `json:"hashes"`
}

// SHA256 is the archive's sha256 as pip recorded it, lowercase hex, or "".
func (a *ArchiveInfo) SHA256() string {
	if a == nil {
		return ""
	}
	if h := a.Hashes["sha256"]; h != "" {
		return strings.ToLower(h)
	}
	if h, ok := strings.CutPrefix(a.Hash, "sha256="); ok {
		return strings.ToLower(h)
	}
	return ""
}

// InstallItem is one distribution pip would install (or did).
type InstallItem struct {
	DownloadInfo struct {
		URL         string       `json:"url"`
		ArchiveInfo *ArchiveInfo `json:"archive_info"`
		VCSInfo     *struct {
			VCS      string `json:"vcs"`
			CommitID string `json:"commit_id"`
		} `json:"vcs_info"`
		DirInfo *struct {
			Editable bool `json:"editable"`
		} `json:"dir_info"`
		Subdirectory string `json:"subdirectory"`
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
		return nil, fmt.Errorf("pip wrote no report: %w", err)
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
		return nil, fmt.Errorf("pip's report has version %q; pipguard reads version 1 (pip >= 23.0)", r.Version)
	}
	return &r, nil
}

// readLine reads one JSON answer of at most 64 MiB.
func readLine(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return err
		}
		line = append(line, chunk...)
		if len(line) > 64<<20 {
			return errors.New("answer too long")
		}
		if !isPrefix {
			break
		}
	}
	return json.Unmarshal(line, v)
}

// Default is the interpreter pipguard targets when --python is not given:
// the active virtual environment's, else python3 on PATH.
func Default(getenv func(string) string) string {
	if v := getenv("VIRTUAL_ENV"); v != "" {
		return filepath.Join(v, "bin", "python")
	}
	return "python3"
}
