package layout

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// zipUnambiguous refuses an archive that two zip readers could read as two
// different archives. Go's archive/zip and Python's zipfile (which pip
// uses) both take the last end-of-central-directory record, but they
// disagree about data prepended to the archive: Python adds the gap
// between where the central directory says it is and where it ends to
// every offset, Go reads at the offset as written when a directory is
// there. A file that is archive A followed by archive B is then A to
// pipguard and B to pip. So, as a wheel builder writes them: the record
// ends the file; the central directory ends exactly where the record
// starts and starts where the last member's data ends; the members' local
// headers run back to back from byte 0, in the directory's order, each
// naming what the directory names. Anything else is refused.
func zipUnambiguous(r io.ReaderAt, size int64, zr *zip.Reader) error {
	const eocdLen = 22
	if size < eocdLen {
		return fmt.Errorf("it is too short to be a zip archive")
	}
	tailLen := int64(eocdLen + 65535)
	if tailLen > size {
		tailLen = size
	}
	tail := make([]byte, tailLen)
	if _, err := r.ReadAt(tail, size-tailLen); err != nil && err != io.EOF {
		return err
	}
	// The last record, as both readers find it.
	at := -1
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) == 0x06054b50 {
			at = i
			break
		}
	}
	if at < 0 {
		return fmt.Errorf("it has no end-of-central-directory record")
	}
	eocd := tail[at:]
	eocdOff := size - tailLen + int64(at)
	commentLen := int64(binary.LittleEndian.Uint16(eocd[20:]))
	if eocdOff+eocdLen+commentLen != size {
		return fmt.Errorf("its end-of-central-directory record does not end the file (%d bytes follow it)", size-eocdOff-eocdLen-commentLen)
	}
	cdSize := int64(binary.LittleEndian.Uint32(eocd[12:]))
	cdOff := int64(binary.LittleEndian.Uint32(eocd[16:]))
	dirEnd := eocdOff
	if cdSize == 0xffffffff || cdOff == 0xffffffff || binary.LittleEndian.Uint16(eocd[10:]) == 0xffff {
		// Zip64: the locator (20 bytes) and the zip64 record come
		// before the record.
		if eocdOff < 20+56 {
			return fmt.Errorf("its zip64 end-of-central-directory locator is missing")
		}
		loc := make([]byte, 20)
		if _, err := r.ReadAt(loc, eocdOff-20); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(loc) != 0x07064b50 {
			return fmt.Errorf("its zip64 end-of-central-directory locator is missing")
		}
		recOff := int64(binary.LittleEndian.Uint64(loc[8:]))
		rec := make([]byte, 56)
		if recOff < 0 || recOff+56 > eocdOff-20 {
			return fmt.Errorf("its zip64 end-of-central-directory record is out of place")
		}
		if _, err := r.ReadAt(rec, recOff); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(rec) != 0x06064b50 || recOff+12+int64(binary.LittleEndian.Uint64(rec[4:])) != eocdOff-20 {
			return fmt.Errorf("its zip64 end-of-central-directory record is out of place")
		}
		cdSize = int64(binary.LittleEndian.Uint64(rec[40:]))
		cdOff = int64(binary.LittleEndian.Uint64(rec[48:]))
		dirEnd = recOff
	}
	if cdOff+cdSize != dirEnd {
		return fmt.Errorf("its central directory (offset %d, size %d) does not end where the end record starts (%d): data before or after it could make another reader see another archive", cdOff, cdSize, dirEnd)
	}
	// Members back to back from byte 0 up to the central directory, as
	// the central directory itself (read here, not through archive/zip)
	// lists their local headers.
	if cdSize > 64<<20 {
		return fmt.Errorf("its central directory is larger than 64 MiB")
	}
	cd := make([]byte, cdSize)
	if _, err := r.ReadAt(cd, cdOff); err != nil {
		return err
	}
	type member struct {
		name       string
		off, csize int64
		usize      int64
		flags      uint16
	}
	var members []member
	for i := 0; i < len(cd); {
		if len(cd)-i < 46 || binary.LittleEndian.Uint32(cd[i:]) != 0x02014b50 {
			return fmt.Errorf("its central directory has bytes that are no entry (at %d)", i)
		}
		nl, el, cl := int(binary.LittleEndian.Uint16(cd[i+28:])), int(binary.LittleEndian.Uint16(cd[i+30:])), int(binary.LittleEndian.Uint16(cd[i+32:]))
		if i+46+nl+el+cl > len(cd) {
			return fmt.Errorf("its central directory has a truncated entry")
		}
		m := member{name: string(cd[i+46 : i+46+nl]), flags: binary.LittleEndian.Uint16(cd[i+8:]),
			csize: int64(binary.LittleEndian.Uint32(cd[i+20:])), usize: int64(binary.LittleEndian.Uint32(cd[i+24:])), off: int64(binary.LittleEndian.Uint32(cd[i+42:]))}
		// Zip64 extra field: the 0xffffffff values, in order.
		extra := cd[i+46+nl : i+46+nl+el]
		for len(extra) >= 4 {
			id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
			if 4+n > len(extra) {
				break
			}
			if id == 0x0001 {
				b := extra[4 : 4+n]
				for _, v := range []*int64{&m.usize, &m.csize, &m.off} {
					if *v == 0xffffffff && len(b) >= 8 {
						*v, b = int64(binary.LittleEndian.Uint64(b)), b[8:]
					}
				}
			}
			extra = extra[4+n:]
		}
		members = append(members, m)
		i += 46 + nl + el + cl
	}
	if len(members) != len(zr.File) {
		return fmt.Errorf("its central directory has %d entries, the reader saw %d", len(members), len(zr.File))
	}
	sort.Slice(members, func(i, j int) bool { return members[i].off < members[j].off })
	next := int64(0)
	for _, m := range members {
		if m.off != next {
			return fmt.Errorf("member %q starts at byte %d, where %d was expected: the archive has bytes no member accounts for", m.name, m.off, next)
		}
		hdr := make([]byte, 30)
		if _, err := r.ReadAt(hdr, m.off); err != nil {
			return fmt.Errorf("member %q: %v", m.name, err)
		}
		if binary.LittleEndian.Uint32(hdr) != 0x04034b50 {
			return fmt.Errorf("member %q has no local header where the directory says", m.name)
		}
		nl, el := int64(binary.LittleEndian.Uint16(hdr[26:])), int64(binary.LittleEndian.Uint16(hdr[28:]))
		name := make([]byte, nl)
		if _, err := r.ReadAt(name, m.off+30); err != nil {
			return err
		}
		if string(name) != m.name {
			return fmt.Errorf("member %q is named %q in its local header", m.name, name)
		}
		end := m.off + 30 + nl + el + m.csize
		if m.flags&0x8 != 0 {
			// A data descriptor: an optional signature, the CRC, and the
			// sizes (4 or 8 bytes each).
			d := make([]byte, 4)
			if _, err := r.ReadAt(d, end); err != nil {
				return err
			}
			n := int64(12)
			if m.csize >= 0xffffffff || m.usize >= 0xffffffff {
				n = 20
			}
			if binary.LittleEndian.Uint32(d) == 0x08074b50 {
				n += 4
			}
			end += n
		}
		next = end
	}
	if next != cdOff {
		return fmt.Errorf("the members end at byte %d but the central directory starts at %d: the archive has bytes no member accounts for", next, cdOff)
	}
	return nil
}
