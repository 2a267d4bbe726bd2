package pylock

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The differential tests run pip 26's own packaging (pylock, markers,
// specifiers) through testdata/oracle.py. The interpreter is
// $PIPGUARD_PIP26, else the venv internal/tools/pip26/fetch.sh makes; if
// neither exists the tests run fetch.sh once, and skip, saying why, only
// if that fails (no route to Debian's archive).

var (
	oracleOnce sync.Once
	oraclePy   string
	oracleWhy  string
)

func oraclePython(t testing.TB) string {
	t.Helper()
	oracleOnce.Do(func() {
		if p := os.Getenv("PIPGUARD_PIP26"); p != "" {
			oraclePy = p
			return
		}
		root, _ := filepath.Abs("../../internal/tools/pip26")
		py := filepath.Join(root, ".cache", "venv", "bin", "python")
		if _, err := os.Stat(py); err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "fetch.sh"), filepath.Join(root, ".cache"))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				oracleWhy = "pip 26 is not available and internal/tools/pip26/fetch.sh failed: " + err.Error() + ": " + tail(out.String(), 400)
				return
			}
		}
		oraclePy = py
	})
	if oraclePy == "" {
		t.Skip(oracleWhy)
	}
	return oraclePy
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

type oracleReply struct {
	Pip     string            `json:"pip"`
	Results []json.RawMessage `json:"results"`
}

// oracle sends cases to pip's packaging and decodes one result per case
// into out (a pointer to a slice).
func oracle(t testing.TB, mode string, cases any, out any) string {
	t.Helper()
	py := oraclePython(t)
	req, err := json.Marshal(map[string]any{"mode": mode, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/oracle.py")
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	var rep oracleReply
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("oracle reply: %v", err)
	}
	raw, _ := json.Marshal(rep.Results)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return rep.Pip
}
