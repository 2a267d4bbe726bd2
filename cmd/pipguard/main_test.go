package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/gittest"
	"github.com/rogpeppe/go-internal/testscript"
)

// exitFile is where the pipguard test command records its exit code, for
// the exitcode script command.
const exitFile = ".pipguard-exit-code"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// pipguard runs as its own process, with the real exit code; it
		// also leaves the code in $WORK for the exitcode command.
		"pipguard": func() {
			code := run(mainContext(), os.Args, os.Stdout, os.Stderr, os.Getenv)
			if w := os.Getenv("WORK"); w != "" {
				os.WriteFile(filepath.Join(w, exitFile), []byte(strconv.Itoa(code)), 0o600)
			}
			os.Exit(code)
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: one behaviour each,
// with the exact words users see on stderr.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			for _, kv := range gittest.Env(env.WorkDir) {
				k, v, _ := strings.Cut(kv, "=")
				if k != "PATH" {
					env.Setenv(k, v)
				}
			}
			td, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
			if err != nil {
				return err
			}
			env.Setenv("TESTDATA", td)
			env.Setenv("GH_TOKEN", "")
			env.Setenv("GITHUB_TOKEN", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"mkrepo":   cmdMkrepo,
			"githttp":  cmdGithttp,
			"gitsha":   cmdGitsha,
		},
	})
}

// exitcode N: the last pipguard run exited with N.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: exitcode N")
	}
	got, err := os.ReadFile(filepath.Join(ts.Getenv("WORK"), exitFile))
	ts.Check(err)
	if string(got) != args[0] {
		ts.Fatalf("pipguard exited with %s, want %s", got, args[0])
	}
}

// tsTB adapts a TestScript to gittest.TB.
type tsTB struct{ ts *testscript.TestScript }

func (t tsTB) Helper()                           {}
func (t tsTB) Fatalf(format string, args ...any) { t.ts.Fatalf(format, args...) }
func (t tsTB) Cleanup(f func())                  { t.ts.Defer(f) }

// mkrepo DIR: a git repository with one commit on main.
func cmdMkrepo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: mkrepo DIR")
	}
	gittest.NewRepo(tsTB{ts}, ts.MkAbs(args[0]))
}

// githttp ROOT: serve the repositories under ROOT with git http-backend on
// 127.0.0.1 and set $GITHTTP to the server's URL, $GITHTTP_HOST to its host:port.
func cmdGithttp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: githttp ROOT")
	}
	s := gittest.Serve(tsTB{ts}, ts.MkAbs(args[0]))
	ts.Setenv("GITHTTP", s.URL)
	ts.Setenv("GITHTTP_HOST", strings.TrimPrefix(s.URL, "http://"))
}

// gitsha VAR DIR [REV-PARSE-ARGS...] REV: set $VAR to git rev-parse's
// answer in DIR.
func cmdGitsha(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 || neg {
		ts.Fatalf("usage: gitsha VAR DIR [OPTIONS] REV")
	}
	sha, err := gittest.Run(ts.MkAbs(args[1]), append([]string{"rev-parse"}, args[2:]...)...)
	ts.Check(err)
	ts.Setenv(args[0], sha)
}
