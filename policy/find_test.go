package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A pyproject.toml has a policy when its TOML has tool.pipguard, however
// it is spelt: discovery parses the file, as --policy FILE does.
func TestFindParsesTOML(t *testing.T) {
	for name, body := range map[string]string{
		"inline table":       "[tool]\npipguard = { runner = \"github-hosted\" }\n",
		"dotted at the top":  "tool.pipguard.runner = \"github-hosted\"\n",
		"dotted in [tool]":   "[tool]\npipguard.runner = \"github-hosted\"\n",
		"double-quoted":      "[tool.\"pipguard\"]\nrunner = \"github-hosted\"\n",
		"single-quoted":      "[tool.'pipguard']\nrunner = \"github-hosted\"\n",
		"spaced header":      "[ tool . pipguard ]\nrunner = \"github-hosted\"\n",
		"only a repo table":  "[project]\nname = \"x\"\n[[tool.\"pipguard\".repo]]\nmatch = \"a/b\"\nrunner = \"github-hosted\"\n",
		"after other tables": "[tool.black]\nx = 1\n[tool]\npipguard = { runner = \"github-hosted\" }\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			want := filepath.Join(dir, "pyproject.toml")
			os.WriteFile(want, []byte(body), 0o644)
			got, err := Find(dir)
			if err != nil || got != want {
				t.Fatalf("Find = %q, %v; want %s", got, err, want)
			}
			p, err := Discover(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := p.Global
			if len(p.Repos) > 0 {
				e = p.For("a/b").Rules
			}
			if e.Runner.V != "github-hosted" {
				t.Errorf("runner = %+v", e.Runner)
			}
		})
	}
	// Text that only looks like the header is not the table.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte("[project]\ndescription = \"\"\"\n[tool.pipguard]\nrunner = 1\n\"\"\"\n"), 0o644)
	if got, err := Find(dir); got != "" || err != nil {
		t.Errorf("Find = %q, %v", got, err)
	}
}

// A pyproject.toml or pipguard.toml that cannot be read is an error naming
// it, never skipped.
func TestUnreadablePolicyFileIsAnError(t *testing.T) {
	for name, c := range map[string]struct {
		make func(t *testing.T, dir string)
		want string
	}{
		"invalid pyproject.toml": {func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "pyproject.toml"), []byte("[project]\nname = \"x\"\n[tool.pipguard\nrunner = \"any\"\n"), 0o644)
		}, "pyproject.toml:3: invalid TOML"},
		"key defined twice": {func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "pyproject.toml"), []byte("[project]\nname = \"x\"\nname = \"y\"\n"), 0o644)
		}, "pyproject.toml:3"},
		"invalid pipguard.toml": {func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "pipguard.toml"), []byte("runner = \n"), 0o644)
		}, "pipguard.toml:1: invalid TOML"},
		"pyproject.toml is a directory": {func(t *testing.T, d string) {
			os.Mkdir(filepath.Join(d, "pyproject.toml"), 0o755)
		}, "pyproject.toml: cannot be read: not a regular file (a directory)"},
		"pipguard.toml is a named pipe": {func(t *testing.T, d string) {
			if err := syscall.Mkfifo(filepath.Join(d, "pipguard.toml"), 0o644); err != nil {
				t.Skip(err)
			}
		}, "pipguard.toml: cannot be read: not a regular file (a named pipe)"},
		"dangling symbolic link": {func(t *testing.T, d string) {
			os.Symlink(filepath.Join(d, "gone.toml"), filepath.Join(d, "pipguard.toml"))
		}, "pipguard.toml: cannot be read: no such file or directory"},
		"pipguard.toml anyone can write": {func(t *testing.T, d string) {
			p := filepath.Join(d, "pipguard.toml")
			os.WriteFile(p, nil, 0o644)
			os.Chmod(p, 0o666)
		}, "pipguard.toml: anyone on this machine can write it"},
		"unreadable": {func(t *testing.T, d string) {
			if os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			os.WriteFile(filepath.Join(d, "pyproject.toml"), nil, 0o000)
		}, "pyproject.toml: cannot be read: permission denied"},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			sub := filepath.Join(root, "sub")
			os.Mkdir(sub, 0o755)
			c.make(t, root)
			done := make(chan struct{})
			var got string
			var err error
			go func() { got, err = Find(sub); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Find hangs")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), root) {
				t.Errorf("Find = %q, %v; want an error naming the file: %q", got, err, c.want)
			}
		})
	}
}

// Discovery never reaches a directory the project does not own.
func TestFindNeverLeavesTheProject(t *testing.T) {
	weak := "[tool.pipguard]\nallow_source_builds = true\n[[tool.pipguard.repo]]\nmatch = \"acme/*\"\nverify = \"pin\"\n"
	tree := func(t *testing.T) (root, sub string) {
		root = t.TempDir()
		sub = filepath.Join(root, "proj", "src")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		return root, sub
	}
	asRoot := func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("chown needs root")
		}
	}

	t.Run("a file another user owns is refused, saying why", func(t *testing.T) {
		asRoot(t)
		root, sub := tree(t)
		p := filepath.Join(root, "pyproject.toml")
		os.WriteFile(p, []byte(weak), 0o644)
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		got, err := Find(sub)
		if err == nil || !strings.HasPrefix(err.Error(), p+": not used: it belongs to uid 65534") {
			t.Fatalf("Find = %q, %v", got, err)
		}
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Hint(), "--policy "+p) {
			t.Errorf("hint: %v", err)
		}
		// Named with --policy, it is the user's choice.
		if pol, err := Load(p); err != nil || !pol.Global.AllowSourceBuilds.V {
			t.Errorf("Load = %v", err)
		}
	})
	t.Run("a pipguard.toml another user owns is refused", func(t *testing.T) {
		asRoot(t)
		_, sub := tree(t)
		p := filepath.Join(sub, "pipguard.toml")
		os.WriteFile(p, nil, 0o644)
		os.Chown(p, 65534, 65534)
		if _, err := Find(sub); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a directory another user owns ends the walk, loudly when it holds a policy", func(t *testing.T) {
		asRoot(t)
		root, sub := tree(t)
		os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte(weak), 0o644)
		os.Chown(root, 65534, 65534)
		if _, err := Find(sub); err == nil || !strings.Contains(err.Error(), "the directory "+root+" belongs to uid 65534") {
			t.Errorf("err = %v", err)
		}
		os.Remove(filepath.Join(root, "pyproject.toml"))
		if got, err := Find(sub); got != "" || err != nil {
			t.Errorf("Find = %q, %v", got, err)
		}
	})
	t.Run("a parent anyone can write ends the walk silently", func(t *testing.T) {
		root, sub := tree(t)
		os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte(weak), 0o644)
		os.WriteFile(filepath.Join(root, "proj", "pipguard.toml"), []byte("allow_source_builds = true\n"), 0o644)
		os.Chmod(filepath.Join(root, "proj"), 0o1777)
		if got, err := Find(sub); got != "" || err != nil {
			t.Errorf("Find = %q, %v", got, err)
		}
		os.Chmod(filepath.Join(root, "proj"), 0o755)
		os.Chmod(root, 0o777)
		os.Remove(filepath.Join(root, "proj", "pipguard.toml"))
		if got, err := Find(sub); got != "" || err != nil {
			t.Errorf("Find = %q, %v", got, err)
		}
	})
	t.Run("a working directory anyone can write holding a policy is an error", func(t *testing.T) {
		_, sub := tree(t)
		os.WriteFile(filepath.Join(sub, "pipguard.toml"), nil, 0o644)
		os.Chmod(sub, 0o777)
		if _, err := Find(sub); err == nil || !strings.Contains(err.Error(), "can be written by anyone on this machine") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("pipguard.toml is found upward and ends the walk", func(t *testing.T) {
		root, sub := tree(t)
		os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte(weak), 0o644)
		p := filepath.Join(root, "proj", "pipguard.toml")
		os.WriteFile(p, []byte("runner = \"github-hosted\"\n"), 0o644)
		if got, err := Find(sub); got != p || err != nil {
			t.Errorf("Find = %q, %v", got, err)
		}
	})
	t.Run(".git ends the walk", func(t *testing.T) {
		root, sub := tree(t)
		os.WriteFile(filepath.Join(root, "pipguard.toml"), nil, 0o644)
		os.WriteFile(filepath.Join(root, "proj", ".git"), []byte("gitdir: elsewhere\n"), 0o644) // a worktree's .git is a file
		if got, err := Find(sub); got != "" || err != nil {
			t.Errorf("Find = %q, %v", got, err)
		}
	})
	t.Run("both files in one directory are an error", func(t *testing.T) {
		_, sub := tree(t)
		os.WriteFile(filepath.Join(sub, "pyproject.toml"), []byte("[tool.pipguard]\nrunner = \"any\"\n"), 0o644)
		os.WriteFile(filepath.Join(sub, "pipguard.toml"), []byte("runner = \"github-hosted\"\n"), 0o644)
		if _, err := Find(sub); err == nil || !strings.Contains(err.Error(), "two policy files") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("the walk climbs real directories, not the link's", func(t *testing.T) {
		root, sub := tree(t)
		outside := t.TempDir()
		os.WriteFile(filepath.Join(outside, "pipguard.toml"), []byte("runner = \"github-hosted\"\n"), 0o644)
		os.Mkdir(filepath.Join(outside, "real"), 0o755)
		link := filepath.Join(sub, "link")
		os.Symlink(filepath.Join(outside, "real"), link)
		os.WriteFile(filepath.Join(root, "pipguard.toml"), nil, 0o644)
		if got, err := Find(link); got != filepath.Join(outside, "pipguard.toml") || err != nil {
			t.Errorf("Find = %q, %v", got, err)
		}
	})
}
