package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The README's first command works offline and every step behaves as it
// says.
func TestDemo(t *testing.T) {
	var out, errs strings.Builder
	d := &demo{}
	if code := d.run(&out, &errs); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"-> exit 3, as expected", "-> exit 4, as expected", "pass        tag-binding", "1 verified by pipguard; 0 errors", "Every step behaved as shown.", "two reasons"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Run("each command printed is the command run", func(t *testing.T) {
		// A POSIX shell, given the printed export lines, reads each
		// printed command back into exactly the arguments the demo ran.
		var printed []string
		env := os.Environ()
		for _, l := range strings.Split(out.String(), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "Every step behaved") {
				break // then the command for the real GitHub
			}
			if rest, ok := strings.CutPrefix(l, "$ pipguard "); ok {
				printed = append(printed, rest)
			}
		}
		for k, v := range d.env {
			env = append(env, k+"="+v)
		}
		if len(printed) != len(d.ran) || len(d.ran) == 0 {
			t.Fatalf("%d commands printed, %d run", len(printed), len(d.ran))
		}
		for i, p := range printed {
			if !strings.Contains(p, "--github-url $GITHUB") || !strings.Contains(p, "--trusted-root $TRUSTED_ROOT") && d.ran[i][1] == "install" {
				t.Errorf("command %d hides the flags it ran with: %s", i+1, p)
			}
			cmd := exec.Command("sh", "-c", `printf '%s\0' `+p)
			cmd.Env = env
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("sh: %v", err)
			}
			args := strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00")
			if !slices.Equal(args, d.ran[i][1:]) {
				t.Errorf("printed %s\nwhich a shell reads as %q\nran %q", p, args, d.ran[i][1:])
			}
		}
	})
}

func TestShellWord(t *testing.T) {
	vars := map[string]string{"https://h:1": "$GITHUB"}
	for in, want := range map[string]string{
		"install":                        "install",
		"a @ git+https://h:1/o/r.git@v1": `"a @ git+$GITHUB/o/r.git@v1"`,
		"--github-url":                   "--github-url",
		"https://h:1":                    "$GITHUB",
		`x"$y`:                           `"x\"\$y"`,
		"":                               `""`,
	} {
		if got := shellWord(in, vars); got != want {
			t.Errorf("shellWord(%q) = %s, want %s", in, got, want)
		}
	}
}
