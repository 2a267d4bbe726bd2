package pkgtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Index is a PEP 503 simple repository on 127.0.0.1 serving wheels, with
// each link's #sha256= and PEP 658 metadata (so that pip resolves from the
// metadata alone and downloads a wheel only to install it). A test can
// change what a file's URL serves between two requests.
type Index struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string]map[string][]byte // project -> file name -> bytes
	meta  map[string]string            // file name -> METADATA
	// OnRequest, when set, runs before each request is answered, with the
	// request's path and how many times that path was asked for (from 1):
	// an index that changes its answer between two pip runs.
	OnRequest func(path string, n int)
	// Serve, when set, may answer a wheel download itself (returning true)
	// instead of the stored bytes; n counts that file's downloads from 1.
	Serve func(w http.ResponseWriter, r *http.Request, file string, n int) bool
	hits  map[string]int
}

// NewIndex starts an index that stops when the test ends.
func NewIndex(t interface{ Cleanup(func()) }) *Index {
	ix := &Index{files: map[string]map[string][]byte{}, meta: map[string]string{}, hits: map[string]int{}}
	ix.Server = httptest.NewServer(http.HandlerFunc(ix.handle))
	t.Cleanup(ix.Close)
	return ix
}

// SimpleURL is the --index-url.
func (ix *Index) SimpleURL() string { return ix.URL + "/simple/" }

// Add publishes p's wheel.
func (ix *Index) Add(p Project) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.add(p)
}

// Replace withdraws every file of p's project and publishes p's wheel.
func (ix *Index) Replace(p Project) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.files, project(p.Name))
	ix.add(p)
}

func project(name string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name))
}

func (ix *Index) add(p Project) {
	n := project(p.Name)
	if ix.files[n] == nil {
		ix.files[n] = map[string][]byte{}
	}
	ix.files[n][p.WheelName()] = p.Wheel()
	ix.meta[p.WheelName()] = p.Metadata()
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (ix *Index) handle(w http.ResponseWriter, r *http.Request) {
	ix.mu.Lock()
	ix.hits["path "+r.URL.Path]++
	n, on := ix.hits["path "+r.URL.Path], ix.OnRequest
	ix.mu.Unlock()
	if on != nil {
		on(r.URL.Path, n)
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	ix.mu.Lock()
	defer ix.mu.Unlock()
	switch {
	case len(parts) == 2 && parts[0] == "simple":
		files := ix.files[parts[1]]
		if files == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html><html><body>\n")
		for name, data := range files {
			fmt.Fprintf(w, "<a href=\"/files/%s#sha256=%s\" data-dist-info-metadata=\"sha256=%s\" data-core-metadata=\"sha256=%s\">%s</a>\n",
				name, hexSum(data), hexSum([]byte(ix.meta[name])), hexSum([]byte(ix.meta[name])), html.EscapeString(name))
		}
		fmt.Fprint(w, "</body></html>\n")
	case len(parts) == 2 && parts[0] == "files" && strings.HasSuffix(parts[1], ".metadata"):
		m, ok := ix.meta[strings.TrimSuffix(parts[1], ".metadata")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, m)
	case len(parts) == 2 && parts[0] == "files":
		name := parts[1]
		ix.hits[name]++
		if ix.Serve != nil {
			serve, n := ix.Serve, ix.hits[name]
			ix.mu.Unlock()
			done := serve(w, r, name, n)
			ix.mu.Lock()
			if done {
				return
			}
		}
		for _, files := range ix.files {
			if data, ok := files[name]; ok {
				w.Write(data)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}
