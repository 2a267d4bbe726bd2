package pip

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/pep610"
)

// Options configure a Session.
type Options struct {
	// Python is the interpreter to run.
	Python string
	// Output receives pip's own output (stdout and stderr); nil discards it.
	Output io.Writer
	// Markers are PEP 508 environment markers for the probe to evaluate.
	Markers []string
	// Separate runs every pip command in its own child process of the
	// driver (what a pip that cannot be driven in process gets anyway),
	// under the same guards.
	Separate bool
	// AllowSourceBuilds lets pip's options build from source (--no-binary,
	// --global-option, ...); otherwise they must keep --only-binary :all:.
	AllowSourceBuilds bool
	// Indexes, when not nil, are the only index URLs and find-links pip's
	// options may name (its configuration included).
	Indexes []string
	// Grace is how long pip is given to stop after it is interrupted
	// before it is killed; zero means 10 seconds.
	Grace time.Duration
}

// Session is one target interpreter serving a whole install. Its methods
// are called from one goroutine at a time, except Info, which any number of
// goroutines may wait on.
type Session struct {
	python string
	cmd    *exec.Cmd
	req    *os.File
	ans    *bufio.Reader
	tail   *tailBuffer
	exited chan struct{}

	// marker is the line the driver writes to its output after each
	// command; synced receives when the output reader has passed it, so
	// that an error's tail is that command's and complete.
	marker  string
	synced  chan struct{}
	outDone chan struct{}

	probed  chan struct{}
	info    *Info
	infoErr error

	waitOnce sync.Once
	waitErr  error

	allowSourceBuilds bool
	indexes           []string
	// hidden: pip's output is not shown to anyone (Options.Output nil or
	// io.Discard).
	hidden bool
	// holding: the probe runs, and its output is kept in held.
	heldMu  sync.Mutex
	holding bool
	held    bytes.Buffer

	// Mode is how the last pip command ran: "in-process" or "separate".
	Mode string
}

// Start starts the interpreter and sends it the probe. It returns at once;
// Info waits for the answer. The process is interrupted (SIGINT to its
// process group, so pip's children too) when ctx is done and killed after
// Options.Grace; Close ends it normally.
func Start(ctx context.Context, o Options) (*Session, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	grace := o.Grace
	if grace == 0 {
		grace = 10 * time.Second
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		ansR.Close()
		ansW.Close()
		return nil, err
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	// -I: isolated mode, so neither the working directory nor PYTHONPATH
	// nor the user's site directory can put other code in front of pip.
	cmd := exec.CommandContext(ctx, o.Python, "-I", "-S", "-B", "-c", driver)
	cmd.Env = Env(os.Environ())
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.ExtraFiles = []*os.File{reqR, ansW} // fd 3, fd 4
	cmd.WaitDelay = grace
	newProcessGroup(cmd)
	s := &Session{python: o.Python, cmd: cmd, req: reqW, tail: &tailBuffer{}, exited: make(chan struct{}), probed: make(chan struct{}),
		marker: "pipguard-sync-" + hex.EncodeToString(nonce[:]), synced: make(chan struct{}, 1), outDone: make(chan struct{}),
		allowSourceBuilds: o.AllowSourceBuilds, indexes: o.Indexes}
	cmd.Cancel = func() error {
		interruptGroup(cmd.Process)
		go func() {
			select {
			case <-s.exited:
			case <-time.After(grace):
				killGroup(cmd.Process)
			}
		}()
		return nil
	}
	err = cmd.Start()
	reqR.Close()
	ansW.Close()
	outW.Close()
	if err != nil {
		reqW.Close()
		ansR.Close()
		outR.Close()
		return nil, &InterpreterError{Python: o.Python, Reason: err.Error()}
	}
	s.hidden = o.Output == nil || o.Output == io.Discard
	// The probe's output is held until its answer: an interpreter pipguard
	// cannot use (pip 18's traceback on Python 3.6) is then explained by
	// its error alone, which carries what it printed (InterpreterError's
	// Output) for whoever reports it.
	s.holding = true
	go s.copyOutput(outR, o.Output)
	s.ans = bufio.NewReader(ansR)
	go func() {
		defer close(s.probed)
		s.info, s.infoErr = s.probe(o)
		s.heldMu.Lock()
		defer s.heldMu.Unlock()
		s.holding = false
		var ie *InterpreterError
		if s.infoErr != nil && errors.As(s.infoErr, &ie) {
			ie.Output = s.held.String()
		} else if o.Output != nil && s.held.Len() > 0 {
			o.Output.Write(s.held.Bytes())
		}
		s.held.Reset()
	}()
	return s, nil
}

// emit passes a line of the interpreter's output on, or holds it while
// the probe runs.
func (s *Session) emit(out io.Writer, line []byte) {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	if s.holding {
		if s.held.Len() < maxHeld {
			s.held.Write(line)
		}
		return
	}
	if out != nil {
		out.Write(line)
	}
}

// maxHeld bounds the probe's held output.
const maxHeld = 64 << 10

func (s *Session) send(v any) error {
	data, _ := json.Marshal(v)
	_, err := s.req.Write(append(data, '\n'))
	return err
}

func (s *Session) probe(o Options) (*Info, error) {
	markers := append([]string{}, o.Markers...)
	// The driver's source goes with the probe: a pip run as a child of the
	// driver (Options.Separate) runs under the same guards.
	if err := s.send(map[string]any{"markers": markers, "separate": o.Separate, "marker": s.marker, "source": driver}); err != nil {
		return nil, s.died("the probe", err)
	}
	var a struct {
		Info  *Info  `json:"info"`
		Pip   string `json:"pip"`
		Error string `json:"error"`
	}
	if err := readLine(s.ans, &a); err != nil {
		return nil, s.died("the probe", err)
	}
	if a.Error != "" {
		return nil, &InterpreterError{Python: s.python, Reason: a.Error}
	}
	if a.Info == nil || len(a.Info.Tags) == 0 || len(a.Info.Site) == 0 {
		return nil, &InterpreterError{Python: s.python, Reason: "unexpected answer from the interpreter probe"}
	}
	a.Info.Site = pep610.UniqueDirs(a.Info.Site)
	if want := venvPrefix(s.python); want != "" && !samePath(want, a.Info.Prefix) {
		// The driver finds the environment itself (it runs without the
		// site module's main): one that disagrees with where the
		// interpreter lives would install into another environment.
		return nil, &InterpreterError{Python: s.python, Reason: fmt.Sprintf("it reports the environment %s, but it is the interpreter of the virtual environment %s", a.Info.Prefix, want)}
	}
	a.Info.Pip = a.Pip
	return a.Info, nil
}

// died explains a driver that stopped answering.
func (s *Session) died(during string, err error) error {
	_ = s.wait()
	// The process has exited, but its last words may still be in the pipe:
	// the relay ends at the pipe's end of file, which comes once every
	// holder of the write end is gone (the group was just ended). Bounded,
	// for a holder that escaped the group.
	select {
	case <-s.outDone:
	case <-time.After(10 * time.Second):
	}
	if ps := s.cmd.ProcessState; ps != nil && !ps.Success() {
		return &InterpreterError{Python: s.python, Reason: fmt.Sprintf("it exited (%s) during %s: %s", s.cmd.ProcessState, during, s.tail.last())}
	}
	return &InterpreterError{Python: s.python, Reason: fmt.Sprintf("no answer during %s: %v: %s", during, err, s.tail.last())}
}

// wait closes the request pipe (the driver exits when it sees EOF), waits
// for the process, once, and then ends whatever it left in its process
// group (a git or ssh stopped on a prompt, a build backend's child).
func (s *Session) wait() error {
	s.waitOnce.Do(func() {
		s.req.Close()
		s.waitErr = s.cmd.Wait()
		killGroup(s.cmd.Process)
		close(s.exited)
	})
	return s.waitErr
}

// copyOutput relays the interpreter's output line by line to out, keeps
// its tail, and signals each sync marker instead of relaying it.
func (s *Session) copyOutput(r io.Reader, out io.Writer) {
	defer close(s.outDone)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := strings.TrimRight(string(line), "\r\n")
			if before, ok := strings.CutSuffix(text, s.marker); ok && len(text) < len(line) {
				// The marker ends a line; what pip printed without a final
				// newline may stand before it.
				if before != "" {
					s.tail.Write([]byte(before + "\n"))
					s.emit(out, []byte(before+"\n"))
				}
				select {
				case s.synced <- struct{}{}:
				default:
				}
			} else {
				s.tail.Write(line)
				s.emit(out, line)
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// Info waits for the probe's answer.
func (s *Session) Info() (*Info, error) {
	<-s.probed
	return s.info, s.infoErr
}

// OptionsError is pip's effective options (its configuration, PIP_*
// environment variables and the arguments, merged by pip's own parser)
// differing from what pipguard runs: pip was not run.
type OptionsError struct{ Reasons []string }

func (e *OptionsError) Error() string { return strings.Join(e.Reasons, "; ") }

// Hint says what to do.
func (e *OptionsError) Hint() string {
	return "remove that setting from pip's configuration (pip config list) or environment, or the argument after --; requirements go before --"
}

// Install runs pip install -r reqFile with args, writing its report into
// dir, and returns the report. With dryRun, pip only resolves (--dry-run
// --quiet). Before pip runs, the driver checks the options pip would run
// with, as pip's parser merges them: only reqFile names requirements,
// nothing installs outside the environment, and unless
// Options.AllowSourceBuilds nothing builds from source. During the run, pip
// prepares no link but the wheels its finder finds (see InstallRequest's
// AllowLinks for the others).
func (s *Session) Install(dir string, dryRun bool, reqFile string, args ...string) (*Report, error) {
	return s.InstallWith(dir, InstallRequest{DryRun: dryRun, ReqFile: reqFile, Args: args})
}

// InstallLocal runs a local install: pip install -r reqFile --no-index
// with exactly findLinks as its find-links (the driver refuses to run pip
// when its configuration or environment adds an index or another
// find-links).
func (s *Session) InstallLocal(dir, reqFile string, findLinks []string, args ...string) (*Report, error) {
	return s.InstallWith(dir, InstallRequest{ReqFile: reqFile, Args: args, Local: true, FindLinks: findLinks})
}

// InstallRequest is one pip install.
type InstallRequest struct {
	// ReqFile is the only requirements file.
	ReqFile string
	// Args are pip install's other arguments.
	Args []string
	// DryRun only resolves (--dry-run --quiet).
	DryRun bool
	// AllowLinks are the links, other than the wheels pip's finder finds
	// on an index or find-links page (and, with Options.AllowSourceBuilds,
	// its sdists), that pip may download, prepare or build: the verified
	// release assets (file:///... URLs) and, with --from git, exact
	// git+https://...@COMMIT URLs. They are compared without their
	// fragment (#sha256=, #egg=, #subdirectory=); a URL whose credentials
	// are masked (a RefusedLink's) matches the link whatever its
	// credentials. Any other link aborts the resolution before pip fetches
	// or builds anything, with a *LinkError naming each.
	AllowLinks []string
	// KeepDir, on a dry run, receives every file the report lists (copied
	// or hard-linked, downloaded through pip's own downloader when pip did
	// not download it), listed in Report.Kept. It is made if missing.
	KeepDir string
	// Local makes this a local install: pip's effective options must have
	// --no-index and exactly FindLinks as their find-links (both are added
	// to the arguments); Options.Indexes does not apply.
	Local     bool
	FindLinks []string
	// Fresh, on a dry run, resolves as if nothing were installed
	// (--ignore-installed): what a build environment needs, which starts
	// empty.
	Fresh bool
}

// InstallWith runs pip install as r says, writing its report into dir, and
// returns the report.
func (s *Session) InstallWith(dir string, r InstallRequest) (*Report, error) {
	c, err := s.start(dir, r, false)
	if err != nil {
		return nil, err
	}
	return c.finish()
}

// Held is a pip install started by StartInstall: pip resolves at once,
// then waits, with nothing written, until Go or Stop. Exactly one of them
// must be called, before any other method of the Session.
type Held struct {
	c    *command
	done bool
	// first is the driver's first answer, once Resolved has read it.
	first *answer
	err   error
}

// StartInstall starts pip install as r says (not a dry run) and returns at
// once: pip parses its options (the driver's checks) and resolves, reading
// the local files and the installed distributions, while the caller does
// other work; before pip writes anything (its report, the environment) it
// waits for Go. What the caller does meanwhile must leave what pip reads
// as it was (the stash's hard links do).
func (s *Session) StartInstall(dir string, r InstallRequest) (*Held, error) {
	if r.DryRun {
		return nil, errors.New("pip: StartInstall is not for dry runs")
	}
	c, err := s.start(dir, r, true)
	if err != nil {
		return nil, err
	}
	return &Held{c: c}, nil
}

// Go lets the held pip write, waits for it to end and returns its report,
// as InstallWith does; a pip that failed before it was held (its options,
// its resolution) returns that failure, having written nothing.
func (h *Held) Go() (*Report, error) {
	if h.done {
		return nil, errors.New("pip: Go after Go or Stop")
	}
	h.done = true
	return h.release(true)
}

// Resolved waits until pip has resolved and holds, or has ended (then Go
// returns how). It is Go's first step, for callers that time it.
func (h *Held) Resolved() {
	if h.first != nil || h.err != nil {
		return
	}
	var a answer
	if err := readLine(h.c.s.ans, &a); err != nil {
		os.Remove(h.c.report)
		h.err = h.c.s.died("pip install", err)
		return
	}
	h.first = &a
}

// release lets pip go on (or stop) after its first answer: pip held after
// its resolution (go or stop is sent and the last answer read), or its last
// answer already (it failed, or was refused, before it was held).
func (h *Held) release(goOn bool) (*Report, error) {
	h.Resolved()
	if h.err != nil {
		return nil, h.err
	}
	c, s := h.c, h.c.s
	if !h.first.Held {
		if a := h.first; a.Status != nil && *a.Status == 0 && len(a.Refused) == 0 && len(a.RefusedLinks) == 0 {
			// pip ended well without having been held: it wrote
			// before pipguard's word, whatever made it.
			os.Remove(c.report)
			return nil, &InterpreterError{Python: s.python, Reason: "pip installed without waiting for pipguard's word after its resolution (the driver's hold did not hold)"}
		}
		return c.done(*h.first)
	}
	if err := s.send(map[string]any{"go": goOn}); err != nil {
		os.Remove(c.report)
		return nil, s.died("pip install", err)
	}
	return c.finish()
}

// Stop tells the held pip to stop where it waits (or lets a pip that has
// failed already end), so that nothing is written, and waits for it. The
// error is pip's or the driver's if it failed otherwise than by being
// stopped; callers that stop because of their own error keep that one.
func (h *Held) Stop() error {
	if h.done {
		return nil
	}
	h.done = true
	_, err := h.release(false)
	var pe *Error
	if errors.As(err, &pe) {
		return nil // pip ending with an error is what stopping it is
	}
	return err
}

// command is one pip install sent to the driver, whose answer is still to
// be read.
type command struct {
	s      *Session
	full   []string
	report string
	keep   string
}

// answer is the driver's last line for a command.
type answer struct {
	Held         bool          `json:"held"`
	Status       *int          `json:"status"`
	Mode         string        `json:"mode"`
	Refused      []string      `json:"refused"`
	RefusedLinks []RefusedLink `json:"refused_links"`
	Kept         []Kept        `json:"kept"`
	IndexURLs    []string      `json:"index_urls"`
}

func (s *Session) start(dir string, r InstallRequest, hold bool) (*command, error) {
	if r.KeepDir != "" && !r.DryRun {
		return nil, errors.New("pip: KeepDir is for dry runs")
	}
	if r.Local && len(r.FindLinks) == 0 {
		return nil, errors.New("pip: a local install needs find-links")
	}
	keep := ""
	if r.KeepDir != "" {
		var err error
		if keep, err = filepath.Abs(r.KeepDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(keep, 0o700); err != nil {
			return nil, err
		}
	}
	if _, err := s.Info(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "pip-report-*.json")
	if err != nil {
		return nil, err
	}
	f.Close()
	os.Remove(f.Name()) // pip creates it; an empty file must not pass for a report
	full := []string{"install"}
	if r.DryRun {
		full = append(full, "--dry-run", "--quiet")
	}
	if r.Fresh {
		if !r.DryRun {
			return nil, errors.New("pip: Fresh is for dry runs")
		}
		full = append(full, "--ignore-installed")
	}
	full = append(full, "--report", f.Name(), "-r", r.ReqFile)
	if r.Local {
		full = append(full, "--no-index")
		for _, l := range r.FindLinks {
			full = append(full, "--find-links="+l)
		}
	}
	full = append(full, r.Args...)
	// A marker that came after an earlier command's wait gave up must not
	// stand for this command's.
	s.drainSync()
	s.tail.reset()
	expect := map[string]any{"requirements": []string{r.ReqFile}, "dry_run": r.DryRun, "report": f.Name(), "allow_source_builds": s.allowSourceBuilds, "indexes": s.indexes, "ignore_installed": r.Fresh}
	if r.Local {
		expect["local"], expect["find_links"], expect["indexes"] = true, append([]string{}, r.FindLinks...), nil
	}
	allow := append([]string{}, r.AllowLinks...)
	if err := s.send(map[string]any{"args": full, "expect": expect, "allow_links": allow, "keep_dir": keep, "hold": hold}); err != nil {
		return nil, s.died("pip install", err)
	}
	return &command{s: s, full: full, report: f.Name(), keep: keep}, nil
}

// finish reads the command's last answer and the report.
func (c *command) finish() (*Report, error) {
	var a answer
	if err := readLine(c.s.ans, &a); err != nil {
		os.Remove(c.report)
		return nil, c.s.died("pip install", err)
	}
	return c.done(a)
}

// done turns the command's last answer into its report or its error.
func (c *command) done(a answer) (*Report, error) {
	s, full, keep := c.s, c.full, c.keep
	defer os.Remove(c.report)
	if a.Held || a.Status == nil && len(a.Refused) == 0 {
		return nil, s.died("pip install", errors.New("an unexpected answer"))
	}
	if len(a.Refused) > 0 {
		s.waitSync()
		return nil, &OptionsError{Reasons: a.Refused}
	}
	s.Mode = a.Mode
	// pip's last words are in the pipe before the marker.
	s.waitSync()
	if len(a.RefusedLinks) > 0 {
		for i := range a.RefusedLinks {
			a.RefusedLinks[i].URL = maskURL(a.RefusedLinks[i].URL)
		}
		return nil, &LinkError{Links: a.RefusedLinks}
	}
	if *a.Status != 0 {
		if s.hidden {
			return nil, &Error{Args: full, ExitCode: *a.Status, Tail: s.tail.lastLines(6), Hidden: true}
		}
		return nil, &Error{Args: full, ExitCode: *a.Status, Tail: s.tail.last()}
	}
	rep, err := readReport(c.report)
	if err != nil {
		return nil, err
	}
	if keep != "" {
		for _, k := range a.Kept {
			if filepath.Dir(k.Path) != keep {
				return nil, fmt.Errorf("pip's driver kept %s outside %s", k.Path, keep)
			}
			k.URL = maskURL(k.URL)
			rep.Kept = append(rep.Kept, k)
		}
	}
	rep.IndexURLs = a.IndexURLs
	return rep, nil
}

// drainSync drops a marker an earlier command's wait gave up on.
func (s *Session) drainSync() {
	select {
	case <-s.synced:
	default:
	}
}

// waitSync waits until the output reader has passed the command's marker.
func (s *Session) waitSync() {
	select {
	case <-s.synced:
	case <-s.outDone:
	case <-time.After(10 * time.Second):
	}
}

// CheckDependencies runs pip's own dependency check (operations.check:
// create_package_set_from_installed and check_package_set, what pip check
// runs) in the target interpreter, on the environment as it is on disk
// now, and returns what pip check would print: missing and conflicting
// requirements, in pip's order.
func (s *Session) CheckDependencies() ([]Conflict, error) {
	if _, err := s.Info(); err != nil {
		return nil, err
	}
	s.drainSync()
	s.tail.reset()
	if err := s.send(map[string]any{"check": true}); err != nil {
		return nil, s.died("pip's dependency check", err)
	}
	var a struct {
		Conflicts *[]Conflict `json:"conflicts"`
		Error     string      `json:"error"`
	}
	if err := readLine(s.ans, &a); err != nil || a.Conflicts == nil && a.Error == "" {
		return nil, s.died("pip's dependency check", err)
	}
	s.waitSync()
	if a.Error != "" {
		return nil, &InterpreterError{Python: s.python, Reason: a.Error}
	}
	return *a.Conflicts, nil
}

// Close ends the interpreter and waits for it.
func (s *Session) Close() error {
	err := s.wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // interrupted or killed; what failed was reported already
	}
	return err
}

// venvPrefix is the virtual environment python belongs to, as site.venv
// finds it: pyvenv.cfg beside the executable or one directory up makes the
// executable's parent directory the prefix; "" when there is none.
func venvPrefix(python string) string {
	exe, err := exec.LookPath(python)
	if err != nil {
		return ""
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		return ""
	}
	dir := filepath.Dir(abs)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if fi, err := os.Stat(filepath.Join(d, "pyvenv.cfg")); err == nil && fi.Mode().IsRegular() {
			return filepath.Dir(dir)
		}
	}
	return ""
}

// samePath compares two directories after resolving symbolic links.
func samePath(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}
