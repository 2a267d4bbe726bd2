package pylock

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// FuzzRead: Read never panics; whatever it accepts, Select runs on without
// panicking, Write renders, and the rendered lock reads back and renders
// to the same bytes.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"spec-example.pylock.toml", "pip-build-project.pylock.toml", "uv-kagizine.pylock.toml", "pdm-demo.pylock.toml"} {
		f.Add(fixture(f, name))
	}
	if w, err := Write(pipguardLock()); err == nil {
		f.Add(w)
	}
	f.Add([]byte(head + "packages = []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				panic(fmt.Sprintf("Read/Select/Write hung on %q", data))
			}
		}()
		l, err := Read("fuzz", data)
		if err != nil {
			return
		}
		_ = l.Notes()
		for _, env := range testEnvs {
			_, _ = l.Select(env, nil, nil)
			_, _ = l.Select(env, l.Extras, l.DependencyGroups)
		}
		out, err := Write(l)
		if err != nil {
			// Write refuses only what Read refuses; an accepted lock
			// must render.
			t.Fatalf("Read accepted but Write refused: %v\n%q", err, data)
		}
		back, err := Read("rewritten", out)
		if err != nil {
			t.Fatalf("written lock does not read back: %v\n%s", err, out)
		}
		again, err := Write(back)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("Write not stable: %v\n%s\n---\n%s", err, out, again)
		}
	})
}

func FuzzMarker(f *testing.F) {
	for _, s := range []string{`python_version >= "3.6" and "security" in extras`, `os_name == "nt" or (sys_platform == 'linux')`, `"a" in "extras"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarker(s)
		if err != nil {
			return
		}
		_ = m.check(ctxLockFile)
		for _, env := range testEnvs {
			_, _ = m.evaluate(markerEnv{values: env.Markers, sets: map[string]map[string]bool{"extras": {"a": true}, "dependency_groups": {}}})
		}
	})
}
