package pkgtest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// ProvenanceIndex is a simple repository on 127.0.0.1 that serves PEP 740
// provenance the ways an index can: the PEP 691 JSON page's per-file
// "provenance" key and the PEP 503 HTML page's data-provenance attribute
// (the page is chosen by the request's Accept header, as PyPI does), the
// provenance documents themselves, and PyPI's Integrity API
// (/integrity/PROJECT/VERSION/FILENAME/provenance). Tests change a file's
// entry to make every failure mode: a link to another host, no link (so
// the Integrity API is asked), a 403 or 404 there, a document that never
// ends.
type ProvenanceIndex struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string]*ProvenanceFile // by file name
	hits  map[string]int
	// Serve, when set, may answer a request itself (returning true): kind
	// is "page", "provenance", "integrity" or "file".
	Serve func(w http.ResponseWriter, r *http.Request, kind, name string) bool
	// HTMLOnly serves PEP 503 HTML pages whatever the client accepts.
	HTMLOnly bool
}

// ProvenanceFile is one distribution file on a ProvenanceIndex.
type ProvenanceFile struct {
	Project, Version, Filename string
	Data                       []byte
	// Provenance is the document served for the file; nil: the pages say
	// "provenance": null and the Integrity API answers 404.
	Provenance []byte
	// Link replaces the provenance URL the pages give (another host).
	Link string
	// Unlisted leaves the provenance key (JSON) and attribute (HTML) out
	// of the pages, so that a client asks the Integrity API.
	Unlisted bool
	// IntegrityStatus, when set, is the Integrity API's status (403).
	IntegrityStatus int
}

// NewProvenanceIndex starts an index that stops when the test ends.
func NewProvenanceIndex(t interface{ Cleanup(func()) }) *ProvenanceIndex {
	ix := &ProvenanceIndex{files: map[string]*ProvenanceFile{}, hits: map[string]int{}}
	ix.Server = httptest.NewServer(http.HandlerFunc(ix.handle))
	t.Cleanup(ix.Close)
	return ix
}

// SimpleURL is the index URL.
func (ix *ProvenanceIndex) SimpleURL() string { return ix.URL + "/simple/" }

// Put adds or replaces a file.
func (ix *ProvenanceIndex) Put(f ProvenanceFile) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := f
	ix.files[f.Filename] = &c
}

// Update changes a file's entry in place.
func (ix *ProvenanceIndex) Update(filename string, change func(*ProvenanceFile)) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if f := ix.files[filename]; f != nil {
		change(f)
	}
}

// Hits is how many requests the index answered for each kind ("page",
// "provenance", "integrity", "file").
func (ix *ProvenanceIndex) Hits(kind string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.hits[kind]
}

// Signed is a file and its provenance made by a local Sigstore instance:
// a publish attestation of the file's name and sha256 by id, wrapped in a
// provenance object whose publisher object is publisher.
func Signed(in *sigstoretest.Instance, id sigstoretest.Identity, publisher map[string]any, project, version, filename string, data []byte, opts ...sigstoretest.Option) (ProvenanceFile, error) {
	att, err := in.AttestPEP740(id, sigstoretest.PublishStatement(filename, hexSum(data)), opts...)
	if err != nil {
		return ProvenanceFile{}, err
	}
	prov, err := sigstoretest.ProvenanceObject(publisher, att)
	if err != nil {
		return ProvenanceFile{}, err
	}
	return ProvenanceFile{Project: project, Version: version, Filename: filename, Data: data, Provenance: prov}, nil
}

func (ix *ProvenanceIndex) handle(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	kind, name := "", ""
	switch {
	case len(parts) == 2 && parts[0] == "simple":
		kind, name = "page", parts[1]
	case len(parts) == 2 && parts[0] == "provenance":
		kind, name = "provenance", parts[1]
	case len(parts) == 5 && parts[0] == "integrity" && parts[4] == "provenance":
		kind, name = "integrity", parts[3]
	case len(parts) == 2 && parts[0] == "files":
		kind, name = "file", parts[1]
	default:
		http.NotFound(w, r)
		return
	}
	ix.mu.Lock()
	ix.hits[kind]++
	serve := ix.Serve
	ix.mu.Unlock()
	if serve != nil && serve(w, r, kind, name) {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	switch kind {
	case "page":
		ix.page(w, r, name)
	case "provenance", "integrity":
		f := ix.files[name]
		switch {
		case f == nil:
			http.NotFound(w, r)
		case kind == "integrity" && (project(f.Project) != project(parts[1]) || f.Version != parts[2]):
			http.NotFound(w, r)
		case kind == "integrity" && f.IntegrityStatus != 0:
			http.Error(w, http.StatusText(f.IntegrityStatus), f.IntegrityStatus)
		case f.Provenance == nil:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
			w.Write(f.Provenance)
		}
	case "file":
		if f := ix.files[name]; f != nil {
			w.Write(f.Data)
			return
		}
		http.NotFound(w, r)
	}
}

func (ix *ProvenanceIndex) page(w http.ResponseWriter, r *http.Request, proj string) {
	var files []*ProvenanceFile
	for _, f := range ix.files {
		if project(f.Project) == proj {
			files = append(files, f)
		}
	}
	if files == nil {
		http.NotFound(w, r)
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Filename < files[j].Filename })
	link := func(f *ProvenanceFile) (string, bool) {
		switch {
		case f.Unlisted:
			return "", false
		case f.Link != "":
			return f.Link, true
		case f.Provenance == nil:
			return "", true
		}
		return "/provenance/" + f.Filename, true
	}
	if !ix.HTMLOnly && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
		out := []map[string]any{}
		for _, f := range files {
			m := map[string]any{"filename": f.Filename, "url": "/files/" + f.Filename, "hashes": map[string]string{"sha256": hexSum(f.Data)}}
			if l, said := link(f); said {
				if l == "" {
					m["provenance"] = nil
				} else {
					m["provenance"] = l
				}
			}
			out = append(out, m)
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		json.NewEncoder(w).Encode(map[string]any{"meta": map[string]string{"api-version": "1.3"}, "name": proj, "files": out})
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprint(w, "<!DOCTYPE html><html><body>\n")
	for _, f := range files {
		attr := ""
		if l, said := link(f); said && l != "" {
			attr = fmt.Sprintf(" data-provenance=\"%s\"", html.EscapeString(l))
		}
		fmt.Fprintf(w, "<a href=\"/files/%s#sha256=%s\"%s>%s</a>\n", f.Filename, hexSum(f.Data), attr, html.EscapeString(f.Filename))
	}
	fmt.Fprint(w, "</body></html>\n")
}

// NewProvenanceIndexTLS is NewProvenanceIndex over https (a lock file
// names no http:// URL); CAFile writes the certificate clients must trust.
func NewProvenanceIndexTLS(t interface{ Cleanup(func()) }) *ProvenanceIndex {
	ix := &ProvenanceIndex{files: map[string]*ProvenanceFile{}, hits: map[string]int{}}
	ix.Server = httptest.NewTLSServer(http.HandlerFunc(ix.handle))
	t.Cleanup(ix.Close)
	return ix
}

// CAFile writes the index's TLS certificate (PEM) to path.
func (ix *ProvenanceIndex) CAFile(path string) error {
	c := ix.Certificate()
	if c == nil {
		return fmt.Errorf("the index does not serve https")
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
}
