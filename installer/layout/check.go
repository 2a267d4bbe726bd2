package layout

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/pipguard/pipguard/internal/parallel"
)

// Problem is a difference between the disk and the plans.
type Problem struct {
	Path, Dist, Why, Expected, Actual string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s (%s): %s", p.Path, p.Dist, p.Why)
	if p.Expected != "" || p.Actual != "" {
		s += fmt.Sprintf(": expected %s, got %s", p.Expected, p.Actual)
	}
	return s
}

// Check compares the disk with the plans, after pip: every Copied file is
// its member byte for byte (size and sha256) with the execute bits pip
// gives it; a Script equals its member except a first line starting with
// "#!" where the member's starts with "#!python" (exactly "#!" +
// Scheme.Executable when the plan was made with one); Generated scripts are
// executable regular files; Bytecode and Metadata files may be absent but
// are regular files when present; every path the installed RECORD lists is
// planned (or is one of Plan.Unwritten, absent); and the installed
// .dist-info directory holds nothing that is not planned.
//
// The files are read several at a time (GOMAXPROCS workers); the problems
// are the same, in the same order, as one at a time.
func Check(plans []*Plan) []Problem {
	// The work, in the order a single pass would do it: each plan's files
	// in chunks, then its RECORD and .dist-info.
	type task struct {
		p     *Plan
		files []File
		rest  bool // checkRecord and the .dist-info walk
	}
	var tasks []task
	for _, p := range plans {
		for i := 0; i < len(p.Files); i += checkChunk {
			tasks = append(tasks, task{p: p, files: p.Files[i:min(i+checkChunk, len(p.Files))]})
		}
		tasks = append(tasks, task{p: p, rest: true})
	}
	results := make([][]Problem, len(tasks))
	parallel.Each(len(tasks), func(i int) {
		t := tasks[i]
		if t.rest {
			results[i] = checkRest(t.p)
		} else {
			results[i] = checkFiles(t.p, t.files)
		}
	})
	var out []Problem
	for _, r := range results {
		out = append(out, r...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// checkChunk is how many files of a plan one worker checks at a time.
const checkChunk = 128

// checkFiles checks files, planned files of p, on the disk.
func checkFiles(p *Plan, files []File) []Problem {
	var out []Problem
	bad := func(path, why, expected, actual string) {
		out = append(out, Problem{Path: path, Dist: p.Name, Why: why, Expected: expected, Actual: actual})
	}
	for _, f := range files {
		fi, err := os.Lstat(f.Path)
		if err != nil {
			if f.Kind == Bytecode || f.Kind == Metadata {
				continue
			}
			bad(f.Path, "a planned file is missing", string(f.Kind)+" file", "no file")
			continue
		}
		if !fi.Mode().IsRegular() {
			bad(f.Path, "a planned file is not a regular file", "regular file", fi.Mode().Type().String())
			continue
		}
		x := fi.Mode().Perm() & 0o111
		switch f.Kind {
		case Copied, Script:
			want := fs.FileMode(0)
			if f.Executable {
				want = 0o111
			}
			if x != want {
				bad(f.Path, "execute bits differ from what pip sets for the member", fmt.Sprintf("%03o", want), fmt.Sprintf("%03o (mode %s)", x, fi.Mode().Perm()))
			}
			if f.Kind == Script && f.RestSHA256 != "" {
				out = append(out, checkScript(p, f, fi)...)
				continue
			}
			if fi.Size() != f.Size {
				bad(f.Path, "size differs from the wheel's member "+f.Member, strconv.FormatInt(f.Size, 10), strconv.FormatInt(fi.Size(), 10))
				continue
			}
			if got, err := hashFile(f.Path, f.Size); err != nil {
				bad(f.Path, "cannot read it: "+err.Error(), "", "")
			} else if got != f.SHA256 {
				bad(f.Path, "content differs from the wheel's member "+f.Member, "sha256 "+f.SHA256, "sha256 "+got)
			}
		case Generated:
			if x != 0o111 {
				bad(f.Path, "a generated script is not executable", "111", fmt.Sprintf("%03o", x))
			}
		}
	}
	return out
}

// checkRest checks p's installed RECORD and .dist-info directory.
func checkRest(p *Plan) []Problem {
	var out []Problem
	bad := func(path, why, expected, actual string) {
		out = append(out, Problem{Path: path, Dist: p.Name, Why: why, Expected: expected, Actual: actual})
	}
	out = append(out, checkRecord(p)...)
	// Nothing in the .dist-info directory but what is planned.
	dirs := map[string]bool{}
	for _, d := range p.Dirs {
		dirs[d] = true
	}
	filepath.WalkDir(p.DistInfo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == p.DistInfo {
				bad(path, "the installed .dist-info directory cannot be read: "+err.Error(), "", "")
			}
			return nil
		}
		if path == p.DistInfo {
			return nil
		}
		if d.IsDir() {
			if !dirs[path] {
				bad(path, "an unplanned directory is in the installed .dist-info", "", "directory")
				return filepath.SkipDir
			}
			return nil
		}
		if _, ok := p.File(path); !ok {
			bad(path, "an unplanned file is in the installed .dist-info", "", d.Type().String())
		}
		return nil
	})
	return out
}

// checkScript checks a .data/scripts member whose "#!python" line pip may
// rewrite.
func checkScript(p *Plan, f File, fi fs.FileInfo) []Problem {
	bad := func(why, expected, actual string) []Problem {
		return []Problem{{Path: f.Path, Dist: p.Name, Why: why, Expected: expected, Actual: actual}}
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return bad("cannot read it: "+err.Error(), "", "")
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 64<<10)
	first, err := br.ReadSlice('\n')
	if err != nil && err != io.EOF {
		return bad("its first line is longer than 64 KiB", "a #! line", "")
	}
	if !bytes.HasPrefix(first, []byte("#!")) {
		return bad("its first line is not a #! line", "#!…", strconv.Quote(string(first[:min(len(first), 80)])))
	}
	if rest := fi.Size() - int64(len(first)); rest != f.RestSize {
		return bad("after its first line, size differs from the wheel's member "+f.Member, strconv.FormatInt(f.RestSize, 10), strconv.FormatInt(rest, 10))
	}
	h := sha256.New()
	if _, err := copyPooled(h, io.LimitReader(br, f.RestSize+1)); err != nil {
		return bad("cannot read it: "+err.Error(), "", "")
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.RestSHA256 {
		return bad("after its first line, content differs from the wheel's member "+f.Member, "sha256 "+f.RestSHA256, "sha256 "+got)
	}
	return nil
}

func hashFile(p string, limit int64) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := copyPooled(h, io.LimitReader(fh, limit+1)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkRecord checks that every path the installed RECORD lists is
// planned: RECORD is what pip's uninstall removes, so an unplanned row
// would make a later uninstall remove a file this install did not write.
func checkRecord(p *Plan) []Problem {
	var out []Problem
	rec := filepath.Join(p.DistInfo, "RECORD")
	rows, err := readRecord(rec)
	if err != nil {
		return []Problem{{Path: rec, Dist: p.Name, Why: "the installed RECORD cannot be read: " + err.Error()}}
	}
	unwritten := map[string]bool{}
	for _, u := range p.Unwritten {
		unwritten[u] = true
	}
	lib := filepath.Dir(p.DistInfo)
	for _, r := range rows {
		path := resolve(lib, r)
		if _, ok := p.File(path); ok {
			continue
		}
		if unwritten[path] {
			if _, err := os.Lstat(path); err == nil {
				out = append(out, Problem{Path: path, Dist: p.Name, Why: "a member pip skips (a setuptools entry point wrapper) exists", Expected: "no file", Actual: "a file"})
			}
			continue
		}
		out = append(out, Problem{Path: path, Dist: p.Name, Why: "the installed RECORD lists a path the plan does not write", Expected: "a planned path", Actual: fmt.Sprintf("RECORD row %q", r)})
	}
	return out
}

// Snapshot is the lstat of every entry of a directory tree (type, size,
// mode, mtime, ctime, inode; not contents).
type Snapshot struct {
	Root    string
	entries map[string]entry
}

type entry struct {
	mode         fs.FileMode
	size         int64
	mtime, ctime int64
	dev, ino     uint64
	nlink        uint64
}

// Len is the number of entries surveyed.
func (s *Snapshot) Len() int { return len(s.entries) }

// Survey lstats every entry under root (root included), following no
// symbolic link.
func Survey(root string) (*Snapshot, error) {
	root = filepath.Clean(root)
	s := &Snapshot{Root: root, entries: map[string]entry{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s.entries[p] = stat(fi)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("surveying %s: %w", root, err)
	}
	return s, nil
}

// Changed lists, sorted, the paths added, removed or changed between two
// surveys of one tree. A file changed if its type, mode, size, mtime,
// ctime, inode or link count did; a directory if its type, mode or inode
// did (entries added or removed in it are listed themselves).
func Changed(before, after *Snapshot) []string {
	var out []string
	for p, a := range after.entries {
		b, ok := before.entries[p]
		switch {
		case !ok:
			out = append(out, p)
		case a.mode.IsDir() && b.mode.IsDir():
			if a.mode != b.mode || a.ino != b.ino || a.dev != b.dev {
				out = append(out, p)
			}
		case a != b:
			out = append(out, p)
		}
	}
	for p := range before.entries {
		if _, ok := after.entries[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// IsDir says whether the survey found a directory at p.
func (s *Snapshot) IsDir(p string) bool { return s.entries[p].mode.IsDir() }
