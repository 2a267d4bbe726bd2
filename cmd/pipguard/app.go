package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/internal/termsafe"
	"github.com/urfave/cli/v2"
)

// env carries what commands need beyond their flags: where to write, and
// how to read the environment (tests pass their own).
type env struct {
	stdout, stderr io.Writer
	// rawStderr is stderr before termsafe: only the progress bar, whose
	// text is pipguard's own, writes its control sequences there.
	rawStderr io.Writer
	getenv    func(string) string
	// format is the --format the command runs with, once its flags parsed.
	format string
	// doc is the JSON document a command produced, written by finish with
	// the error object when the command failed.
	doc any
	// terminal, when set, says whether w is a terminal (tests); unset,
	// the file descriptor is asked.
	terminal func(w io.Writer) bool
	// args is the command line; tokenWarned: the token warning was given.
	args        []string
	tokenWarned bool
	// rootsFromEnv are the trusted roots only $PIPGUARD_TRUSTED_ROOT named.
	rootsFromEnv []string
}

// run is the whole CLI: it returns the exit code instead of exiting, so
// tests can run it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	// Everything pipguard prints (results, JSON and SARIF documents,
	// errors and hints, pip's output) passes here: credentials are masked
	// whoever wrote the text, and no character reaches the terminal that
	// it would obey (termsafe; a JSON document stays the same document).
	rawStderr := stderr
	stdout, stderr = redact.Writer(termsafe.Writer(stdout)), redact.Writer(termsafe.Writer(stderr))
	e := &env{stdout: stdout, stderr: stderr, rawStderr: rawStderr, getenv: getenv, args: args}
	app := newApp(e)
	if len(args) > 0 && args[len(args)-1] == completionFlag {
		// A completion request: answered from the definitions alone,
		// never by running the command (urfave/cli runs it when the
		// words hold a "--").
		complete(app, args[1:len(args)-1], strings.HasSuffix(getenv("0"), "zsh"), stdout)
		return exitOK
	}
	args = interspersed(app, args)
	err := helpTopicError(app.RunContext(ctx, args))
	var se *signalError
	if err != nil && errors.As(context.Cause(ctx), &se) && !is[*installer.InterruptedError](err) {
		// Whatever a signal cut short (a listing, a download) failed
		// because of the signal: say so, with its exit code.
		err = &installer.InterruptedError{Stage: "the " + commandName(args), Cause: se}
	}
	if e.format == "" && wantsJSON(args) {
		// The flags did not parse (a usage error): the caller still asked
		// for JSON, and gets it.
		e.format = "json"
	}
	if stopping.Load() {
		// A second signal is ending the process and says why itself; what
		// the command returned because that signal killed its children is
		// not another message.
		select {}
	}
	code := report(e, err)
	if werr := e.finish(err, code); werr != nil && code == exitOK {
		fmt.Fprintf(stderr, "pipguard: error: %s\n", safeLines(werr.Error()))
		code = exitInternal
	}
	return code
}

// commandName is the command args run ("pipguard" for none).
func commandName(args []string) string {
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		return args[1]
	}
	return "pipguard"
}

// wantsJSON says whether args ask for --format json, for a command line
// whose flags did not parse.
func wantsJSON(args []string) bool {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--format=json" || a == "-format=json" || (a == "--format" || a == "-format") && i+1 < len(args) && args[i+1] == "json" {
			return true
		}
	}
	return false
}

func newApp(e *env) *cli.App {
	usage := func(cCtx *cli.Context, err error, isSubcommand bool) error {
		name := "pipguard"
		if cCtx.Command != nil && cCtx.Command.Name != "" && cCtx.Command.Name != "pipguard" {
			name = "pipguard " + cCtx.Command.Name
		}
		return flagError(name, err)
	}
	app := &cli.App{
		Name:  "pipguard",
		Usage: "install Python packages from git only after verifying the release",
		Description: `pipguard replaces "pip install" where supply-chain integrity matters. Given
   pkg @ git+https://github.com/OWNER/REPO.git@vX.Y.Z it refuses mutable refs
   (branches, short SHAs, no ref), verifies the release's attestations, installs
   exactly the verified bytes and audits what pip recorded (PEP 610).`,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		HideHelpCommand:      false,
		EnableBashCompletion: true,
		// pipguard --version: the line pipguard version prints (version.go).
		Version: pipguardVersion(),
		// urfave's default handler calls os.Exit inside Run; errors are
		// reported and mapped to exit codes in one place instead (exit.go).
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usage,
		Action: func(cCtx *cli.Context) error {
			if cCtx.Args().Present() {
				return &usageError{err: fmt.Errorf("unknown command %q", cCtx.Args().First()), hint: "pipguard help lists the commands"}
			}
			return cli.ShowAppHelp(cCtx)
		},
		Commands: []*cli.Command{
			installCommand(e),
			lockCommand(e),
			fetchCommand(e),
			resolveCommand(e),
			verifyCommand(e),
			auditCommand(e),
			checkCommand(e),
			policyCommand(e),
			versionCommand(e),
			completionCommand(e),
			manCommand(e),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = usage
		c.Flags = append(commonFlags(), c.Flags...)
		c.Before = func(cCtx *cli.Context) error { return checkCommon(e, cCtx) }
	}
	return app
}

// commonFlags are accepted by every command, after the command name:
// pipguard resolve --format json REQ.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print every check made"},
		&cli.StringFlag{Name: "github-url", Value: installer.DefaultGitHubURL, EnvVars: []string{"PIPGUARD_GITHUB_URL"}, Usage: "GitHub or GitHub Enterprise Server `URL`; the token is sent to this host only"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "time limit for each remote operation"},
		&cli.StringFlag{Name: "policy", Usage: "policy `FILE` (default: [tool.pipguard] in the nearest pyproject.toml, else ./pipguard.toml)"},
	}
}

var (
	badFlagValueRE = regexp.MustCompile(`^invalid value "(.*)" for flag -([a-z-]+): `)
	unknownFlagRE  = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNeedsArgRE = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	helpTopicRE    = regexp.MustCompile(`^No help topic for '(.*)'$`)
)

// dashes writes a flag as users type it: --name, or -n for one letter.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagError is a flag the command line got wrong, said in pipguard's words
// rather than the flag parser's, with the command whose flags they are.
func flagError(command string, err error) error {
	if m := unknownFlagRE.FindStringSubmatch(err.Error()); m != nil {
		hint := command + " --help lists its flags"
		if command == "pipguard install" {
			hint += "; pip's own go after --"
		}
		return &usageError{err: fmt.Errorf("%s has no flag %s", command, dashes(m[1])), hint: hint}
	}
	if m := flagNeedsArgRE.FindStringSubmatch(err.Error()); m != nil {
		return &usageError{err: fmt.Errorf("%s needs a value", dashes(m[1])), hint: command + " --help says what it takes"}
	}
	return &usageError{err: flagValueError(err)}
}

// helpTopicError is urfave/cli's refusal of help for an unknown topic,
// in pipguard's words.
func helpTopicError(err error) error {
	var ec cli.ExitCoder
	if !errors.As(err, &ec) {
		return err
	}
	if m := helpTopicRE.FindStringSubmatch(ec.Error()); m != nil {
		return &usageError{err: fmt.Errorf("no help topic %q", m[1]), hint: "pipguard help lists the commands; pipguard help COMMAND explains one"}
	}
	return err
}

// flagValueError says what form a flag's value takes, instead of the flag
// parser's "parse error".
func flagValueError(err error) error {
	m := badFlagValueRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	switch m[2] {
	case "timeout":
		return fmt.Errorf("--timeout takes a duration such as 30s, 2m or 1m30s, not %q", m[1])
	case "jobs", "max-commit-distance":
		return fmt.Errorf("--%s takes a whole number, not %q", m[2], m[1])
	}
	return fmt.Errorf("--%s: invalid value %q", m[2], m[1])
}

// checkCommon validates the common flags; every command's Before.
func checkCommon(e *env, cCtx *cli.Context) error {
	switch f := cCtx.String("format"); {
	case f == "text", f == "json":
	case f == "sarif" && (cCtx.Command.Name == "audit" || cCtx.Command.Name == "check"):
	default:
		return usagef("--format must be text or json (or sarif for audit and check), not %q", f)
	}
	e.format = cCtx.String("format")
	if _, err := githubURL(cCtx.String("github-url")); err != nil {
		return err
	}
	if d := cCtx.Duration("timeout"); d <= 0 {
		return usagef("--timeout must be more than zero, not %s", d)
	}
	for _, name := range []string{"jobs", "max-commit-distance"} {
		if !cCtx.IsSet(name) {
			continue
		}
		min := 0
		if name == "jobs" {
			min = 1
		}
		if n := cCtx.Int(name); n < min {
			return usagef("--%s must be at least %d, not %d", name, min, n)
		}
	}
	if cCtx.Bool("quiet") && cCtx.Bool("verbose") {
		return usagef("--quiet and --verbose cannot be combined")
	}
	return nil
}

// githubURL validates --github-url.
func githubURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, usagef("--github-url must be an http(s) URL such as https://github.com, without credentials")
	}
	return u, nil
}

// config builds the library configuration from global flags and the
// environment.
func (e *env) config(cCtx *cli.Context) installer.Config {
	web := strings.TrimSuffix(cCtx.String("github-url"), "/")
	return installer.Config{
		GitHubURL: web,
		Token:     e.token(web),
		Timeout:   cCtx.Duration("timeout"),
	}
}

// token is the GitHub token for webURL's host, chosen as gh chooses it:
// GH_TOKEN (else GITHUB_TOKEN) for github.com; for another host, a GitHub
// Enterprise Server, GH_ENTERPRISE_TOKEN (else GITHUB_ENTERPRISE_TOKEN), or
// GH_TOKEN when the host was named by --github-url on the command line.
// A host named only by $PIPGUARD_GITHUB_URL never gets GH_TOKEN: whoever
// can set a variable for a later step (a CI step writing $GITHUB_ENV)
// must not be able to send the job's token to a host of their choosing.
func (e *env) token(webURL string) string {
	first := func(names ...string) string {
		for _, n := range names {
			if v := e.getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	u, err := url.Parse(webURL)
	if err == nil && strings.EqualFold(u.Hostname(), "github.com") {
		return first("GH_TOKEN", "GITHUB_TOKEN")
	}
	if t := first("GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"); t != "" {
		return t
	}
	if flagGiven(e.args, "github-url") {
		return first("GH_TOKEN", "GITHUB_TOKEN")
	}
	if first("GH_TOKEN", "GITHUB_TOKEN") != "" && !e.tokenWarned {
		e.tokenWarned = true
		fmt.Fprintf(e.stderr, "pipguard: warning: GH_TOKEN is not sent to %s, which only $PIPGUARD_GITHUB_URL names: pass --github-url, or set GH_ENTERPRISE_TOKEN\n", u.Host)
	}
	return ""
}

// flagGiven says whether args name --NAME (or -NAME) before a "--".
func flagGiven(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p || strings.HasPrefix(a, p+"=") {
				return true
			}
		}
	}
	return false
}

// usageError is a command-line mistake: exit 2.
type usageError struct {
	err error
	// hint says what to do (default: see pipguard --help).
	hint string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }
func (e *usageError) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	return "see pipguard --help"
}

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// interspersed moves a command's flags before its positional arguments, so
// "pipguard verify FILE --repo o/r" works as users expect: urfave/cli v2
// stops parsing flags at the first positional argument. Everything after
// "--" stays as it is.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[1]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	flags := []string{}
	var pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos = append(pos, rest[i:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(pos) > 0 {
		// Flag parsing stops at (and consumes) this "--", so the positional
		// arguments, including a user's own "--", arrive intact.
		out = append(out, "--")
	}
	return append(out, pos...)
}

// writeJSON sets v as the command's JSON document; finish prints it.
func (e *env) writeJSON(v any) error {
	e.doc = v
	return nil
}

// errorObject is how a JSON document says that the command failed.
type errorObject struct {
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
	ExitCode int    `json:"exit_code"`
}

// finish prints the command's JSON document, if it runs with --format
// json: with an "error" object (and "errors", when there were several) if
// it failed; a document of its own when the command failed before making
// one.
func (e *env) finish(err error, code int) error {
	switch {
	case e.format == "sarif":
		return e.writeSARIF(err, code)
	case e.format != "json", err == nil && e.doc == nil:
		return nil
	}
	doc := e.doc
	if doc == nil {
		doc = struct {
			Schema string `json:"schema"`
			OK     bool   `json:"ok"`
		}{"pipguard.error/v1", false}
	}
	data, merr := json.Marshal(doc)
	if merr != nil {
		return merr
	}
	if len(e.rootsFromEnv) > 0 && e.format == "json" {
		if data, merr = withFields(data, map[string]any{"trusted_roots_from_env": e.rootsFromEnv}); merr != nil {
			return merr
		}
	}
	if err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		var objs []errorObject
		for _, err := range errs {
			c, _ := classify(err)
			o := errorObject{Kind: kindOf(c), Message: err.Error(), ExitCode: c}
			var h interface{ Hint() string }
			if errors.As(err, &h) {
				o.Hint = h.Hint()
			}
			objs = append(objs, o)
		}
		extra := map[string]any{"error": objs[0]}
		if len(objs) > 1 {
			extra["errors"] = objs
		}
		if data, merr = withFields(data, extra); merr != nil {
			return merr
		}
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, werr := e.stdout.Write(out.Bytes())
	return werr
}

// writeSARIF prints the command's SARIF log, also when the command could
// not do its work (a missing file, a bad flag): an upload step must get a
// log, not an empty file, and the log says that the run failed (SARIF
// 2.1.0 §3.20: an invocation with executionSuccessful false and the
// error as a tool execution notification), which code scanning shows
// instead of a clean scan. Findings (exit 6) are the log's results, from a
// run that succeeded.
func (e *env) writeSARIF(err error, code int) error {
	log, _ := e.doc.(map[string]any)
	if log == nil {
		log = envaudit.SARIFLog(pipguardVersion(), nil, []any{}, nil)
	}
	if runs, _ := log["runs"].([]any); len(runs) == 1 {
		if run, ok := runs[0].(map[string]any); ok {
			inv := map[string]any{"executionSuccessful": err == nil || code == exitAudit, "exitCode": code}
			if err != nil && code != exitAudit {
				errs := []error{err}
				if j, ok := err.(interface{ Unwrap() []error }); ok {
					errs = j.Unwrap()
				}
				var notes []any
				for _, err := range errs {
					text := err.Error()
					var h interface{ Hint() string }
					if errors.As(err, &h) && h.Hint() != "" {
						text += ". " + h.Hint()
					}
					notes = append(notes, map[string]any{"level": "error", "message": map[string]any{"text": text}})
				}
				inv["toolExecutionNotifications"] = notes
			}
			run["invocations"] = []any{inv}
		}
	}
	data, merr := json.MarshalIndent(log, "", "  ")
	if merr != nil {
		return merr
	}
	_, werr := e.stdout.Write(append(data, '\n'))
	return werr
}

// withFields adds fields at the end of the JSON object obj.
func withFields(obj []byte, fields map[string]any) ([]byte, error) {
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil, fmt.Errorf("JSON output is not an object")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.Write(obj[:len(obj)-1])
	for _, k := range keys {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		v, err := json.Marshal(fields[k])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// kindOf names an exit code for machines.
func kindOf(code int) string {
	switch code {
	case exitUsage:
		return "usage"
	case exitRefused:
		return "refused"
	case exitVerify:
		return "verification"
	case exitPip:
		return "pip"
	case exitAudit:
		return "findings"
	case exitRemote:
		return "remote"
	case exitInternal:
		return "internal"
	}
	if code > 128 {
		return "interrupted"
	}
	return "error"
}
