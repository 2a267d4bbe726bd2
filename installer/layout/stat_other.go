//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package layout

import "io/fs"

func stat(fi fs.FileInfo) entry {
	return entry{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}
