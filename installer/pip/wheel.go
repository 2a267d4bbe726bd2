package pip

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Wheel builds what reqFile names into wheels in outDir with pip's own
// wheel command (--no-deps), run as a separate "python -I -m pip" process
// of the target interpreter, with the same environment as every child
// (no tokens, no prompts). It runs the build backend of what it builds,
// and pip's build isolation fetches that backend's build requirements:
// callers build only what was verified or what the policy allows. pip's
// output goes to out (nil discards it).
func (s *Session) Wheel(ctx context.Context, out io.Writer, reqFile, outDir string, args ...string) error {
	// -S: no .pth file or sitecustomize runs; the site directories are
	// put on sys.path as site would, for pip itself.
	full := append([]string{"-I", "-S", "-B", "-c", wheelMain, "wheel", "--no-deps", "--wheel-dir", outDir, "-r", reqFile}, args...)
	cmd := exec.CommandContext(ctx, s.python, full...)
	cmd.Env = Env(os.Environ())
	tail := &tailBuffer{}
	w := io.Writer(tail)
	if out != nil {
		w = io.MultiWriter(out, tail)
	}
	cmd.Stdout, cmd.Stderr = w, w
	newProcessGroup(cmd)
	cmd.Cancel = func() error {
		interruptGroup(cmd.Process)
		return nil
	}
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return &Error{Args: full[5:], ExitCode: code, Tail: strings.TrimSpace(tail.lastLines(6)), Hidden: out == nil}
}

// wheelMain runs pip's CLI with the site directories on sys.path but no
// .pth file processed.
const wheelMain = "import os, site, sys\n" +
	"d = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))\n" +
	"if os.path.isfile(os.path.join(d, 'pyvenv.cfg')) or os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(sys.executable)), 'pyvenv.cfg')):\n" +
	"    sys.prefix = sys.exec_prefix = d\n" +
	"for p in site.getsitepackages([sys.prefix]):\n    os.path.isdir(p) and p not in sys.path and sys.path.append(p)\n" +
	"sys.argv[0] = 'pip'\nfrom pip._internal.cli.main import main\nsys.exit(main(sys.argv[1:]))"

// Python is the target interpreter, as the caller named it.
func (s *Session) Python() string { return s.python }
