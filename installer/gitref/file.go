package gitref

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/pipguard/pipguard/internal/redact"
)

// listFile reads the ref advertisement of the repository at path as
// go-git's file transport does, by running git-upload-pack, but with an
// environment without pipguard's secrets (redact.Environ: GH_TOKEN and the
// like; go-git's transport passes the whole environment and has no hook to
// change it) and with the advertisement bounded by lim. It runs
// "git-upload-pack --advertise-refs PATH", which writes the advertisement
// and exits (gitprotocol-pack: the reference discovery).
func listFile(ctx context.Context, path string, lim *advLimit) (*packp.AdvRefs, error) {
	env := redact.Environ(os.Environ())
	bin, err := uploadPackBin(ctx, env)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--advertise-refs", path)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	stderr := &headBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ar := packp.NewAdvRefs()
	derr := ar.Decode(lim.reader(stdout))
	if derr != nil {
		// The rest is not read: end the process rather than wait on a
		// writer that may never stop.
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if err := lim.tripped(); err != nil {
		return nil, err
	}
	switch {
	case derr == nil && ar.IsEmpty(), errors.Is(derr, packp.ErrEmptyAdvRefs):
		return nil, transport.ErrEmptyRemoteRepository
	case derr == nil:
		return ar, nil
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Contains(msg, "does not appear to be a git repository") || strings.Contains(msg, "not a git repository") {
		return nil, fmt.Errorf("%w: %s", transport.ErrRepositoryNotFound, firstLine(msg))
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if msg != "" {
		return nil, fmt.Errorf("git-upload-pack: %s", firstLine(msg))
	}
	if werr != nil {
		return nil, fmt.Errorf("git-upload-pack: %v", werr)
	}
	return nil, derr
}

// uploadPackBin finds git-upload-pack as go-git's file transport does: on
// $PATH, else in git's exec path.
func uploadPackBin(ctx context.Context, env []string) (string, error) {
	if p, err := exec.LookPath(transport.UploadPackServiceName); err == nil {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, "git", "--exec-path")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git-upload-pack is not on $PATH, and git --exec-path failed: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), transport.UploadPackServiceName)
	if _, err := exec.LookPath(p); err != nil {
		return "", fmt.Errorf("git-upload-pack is neither on $PATH nor in git's exec path: %v", err)
	}
	return p, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - h.b.Len(); room > 0 {
		h.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.b.String()
}
