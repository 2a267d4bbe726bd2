package installer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// PipFile maps pip's mentions of the requirements file pipguard writes
// for it (requirements.pipguard.txt, a temporary file the user never
// wrote) back to the user's file and line: pip says "(from -r
// /tmp/pipguard-…/requirements.pipguard.txt (line 3))" and the user reads
// "(from requirements.txt:7)". Its zero value maps nothing until Learn.
type PipFile struct {
	mu   sync.Mutex
	re   *regexp.Regexp
	from []string // from[i]: where line i+1 came from
}

// Learn reads the file written for pip at path and ties each of its lines
// to the entry it was written from (matched by text, so it holds whatever
// order the file has); a line that matches no entry is left as pip
// names it.
func (p *PipFile) Learn(path string, entries []reqfile.Entry, gs []*Guarded) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	byText := map[string]string{}
	gi := 0
	for _, e := range entries {
		var text string
		switch {
		case e.Option != nil:
			text = strings.Join(e.Option, " ")
		case e.Constraint:
			continue
		case e.Req != nil && e.Req.Kind == requirement.KindVCS:
			if gi < len(gs) {
				text = gs[gi].PipRequirement
			}
			gi++
		default:
			text = strings.TrimSpace(e.ReqText + " " + strings.Join(e.LineOptions, " "))
		}
		if _, seen := byText[text]; !seen && text != "" {
			byText[text] = where(e)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	from := make([]string, len(lines))
	for i, l := range lines {
		from[i] = byText[l]
	}
	q := regexp.QuoteMeta(path)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.from = from
	// pip's forms: "-r PATH (line N)" (comes_from), "PATH (line N)", and
	// "line N of PATH" (its parse errors).
	p.re = regexp.MustCompile(`(?:-r )?` + q + ` \(line (\d+)\)|line (\d+) of ` + q)
}

// Rewrite replaces each mention of a line of pipguard's file in s by
// where the user wrote it.
func (p *PipFile) Rewrite(s string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.re == nil {
		return s
	}
	return p.re.ReplaceAllStringFunc(s, func(m string) string {
		sub := p.re.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1] + sub[2])
		if n < 1 || n > len(p.from) || p.from[n-1] == "" {
			return m
		}
		return p.from[n-1]
	})
}

// MapError rewrites pip's words in err the same way: a *pip.Error's
// tail, and the reasons of a *RefusedError (which quote the chain pip's
// report gives, "-r FILE (line N)").
func (p *PipFile) MapError(err error) error {
	var pe *pip.Error
	if errors.As(err, &pe) {
		pe.Tail = p.Rewrite(pe.Tail)
	}
	var re *RefusedError
	if errors.As(err, &re) {
		for i, r := range re.Reasons {
			re.Reasons[i] = p.Rewrite(r)
		}
	}
	return err
}

// Writer passes pip's output to w a line at a time, rewritten.
func (p *PipFile) Writer(w io.Writer) io.Writer {
	if w == nil || w == io.Discard {
		return w
	}
	return &pipFileWriter{p: p, w: w}
}

type pipFileWriter struct {
	p   *PipFile
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

func (fw *pipFileWriter) Write(b []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.buf = append(fw.buf, b...)
	for {
		i := bytes.IndexByte(fw.buf, '\n')
		if i < 0 {
			break
		}
		line := fw.p.Rewrite(string(fw.buf[:i+1]))
		fw.buf = fw.buf[i+1:]
		if _, err := io.WriteString(fw.w, line); err != nil {
			return len(b), err
		}
	}
	if len(fw.buf) > 64<<10 { // a line without end: pass it on as it is
		_, err := fw.w.Write(fw.buf)
		fw.buf = nil
		return len(b), err
	}
	return len(b), nil
}
