package pkgtest

import (
	"os"
	"path/filepath"
)

// SiteRunning returns an interpreter, next to python in its venv's bin
// directory, that processes site-packages as a plain "python" does even
// when asked not to (-S dropped): pipguard runs the target interpreter with
// -S so that no .pth file or sitecustomize of the environment runs in it,
// and tests that make pip misbehave through a sitecustomize module need it
// to run anyway. It stands for a hostile interpreter the user named.
func SiteRunning(t interface {
	Helper()
	Fatalf(string, ...any)
}, python string) string {
	t.Helper()
	wrapper := filepath.Join(filepath.Dir(python), "python-site-running")
	if python == wrapper {
		return python
	}
	script := "#!/bin/bash\nargs=()\nfor a in \"$@\"; do [[ \"$a\" == -S ]] || args+=(\"$a\"); done\nexec -a \"$0\" " + shQuote(python) + " \"${args[@]}\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	return wrapper
}

func shQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
