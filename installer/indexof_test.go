package installer

import "testing"

// A lock names the index a file came from, never one holding credentials,
// and never another index in its stead: a file from an index left out for
// its credentials is not said to be from the one index left.
func TestIndexOfNeverNamesAnotherIndex(t *testing.T) {
	const pypi = "https://pypi.org/simple"
	const private = "https://__token__:pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAw@idx.example/simple/"
	for _, c := range []struct {
		file    string
		indexes []string
		want    string
	}{
		// The one index pip used, whatever host its files are on.
		{"https://files.pythonhosted.org/p/x-1-py3-none-any.whl", []string{pypi}, pypi},
		// A credentialed index is never named.
		{"https://idx.example/files/x-1-py3-none-any.whl", []string{private}, ""},
		// The file is the credentialed index's: not pypi.org's.
		{"https://idx.example/files/x-1-py3-none-any.whl", []string{pypi, private}, ""},
		// Two indexes without credentials: the one on the file's host.
		{"https://idx.example/files/x-1-py3-none-any.whl", []string{pypi, "https://idx.example/simple/"}, "https://idx.example/simple/"},
		{"https://pypi.org/files/x-1-py3-none-any.whl", []string{pypi, private}, pypi},
	} {
		if got := indexOf(c.file, c.indexes); got != c.want {
			t.Errorf("indexOf(%q, %q) = %q, want %q", c.file, c.indexes, got, c.want)
		}
	}
}
