package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/pipguard/pipguard/installer/github"
)

// progressDelay is how long downloads run before a bar appears: quick ones
// never show one.
const progressDelay = time.Second

// progress returns the download observer for this run: a bar on stderr
// when stderr is a terminal, and not with -q, --format json, or CI=true.
func (e *env) progress(cCtx *cli.Context) github.Progress {
	if cCtx.Bool("quiet") || e.format == "json" || e.getenv("CI") == "true" || !e.isTerminal(e.stderr) {
		return nil
	}
	w := e.rawStderr
	if w == nil {
		w = e.stderr
	}
	return newDownloadBar(w, progressDelay)
}

func (e *env) isTerminal(w io.Writer) bool {
	if e.terminal != nil {
		return e.terminal(w)
	}
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// downloadBar is one bar for every download of the run (they run
// concurrently): its total grows as downloads begin. It appears once the
// first download has run for delay.
type downloadBar struct {
	w     io.Writer
	delay time.Duration
	now   func() time.Time

	mu     sync.Mutex
	start  time.Time
	total  int64
	done   int64
	active int
	bar    *progressbar.ProgressBar
}

func newDownloadBar(w io.Writer, delay time.Duration) *downloadBar {
	return &downloadBar{w: w, delay: delay, now: time.Now}
}

// Begin implements github.Progress.
func (d *downloadBar) Begin(name string, size int64) func(int64) {
	d.mu.Lock()
	if d.active == 0 && d.bar == nil {
		d.start = d.now()
	}
	d.active++
	d.total += size
	if d.bar != nil {
		d.bar.ChangeMax64(d.total)
	}
	d.mu.Unlock()
	return func(n int64) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if n < 0 {
			d.active--
			if d.active == 0 && d.bar != nil {
				_ = d.bar.Finish()
				_ = d.bar.Clear()
				d.bar = nil
				d.total, d.done = 0, 0
			}
			return
		}
		d.done += n
		if d.bar == nil && d.now().Sub(d.start) >= d.delay {
			d.bar = progressbar.NewOptions64(d.total,
				progressbar.OptionSetWriter(d.w),
				progressbar.OptionSetDescription("downloading"),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
			_ = d.bar.Set64(d.done - n)
		}
		if d.bar != nil {
			_ = d.bar.Add64(n)
		}
	}
}
