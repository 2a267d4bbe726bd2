//go:build linux || darwin || freebsd || netbsd || openbsd

package layout

import (
	"io/fs"
	"syscall"
)

func stat(fi fs.FileInfo) entry {
	e := entry{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.dev, e.ino, e.nlink = uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink)
		e.ctime = ctime(st)
	}
	return e
}
