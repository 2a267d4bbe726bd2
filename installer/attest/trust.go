package attest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// Deployment is a Sigstore instance. It decides what evidence a bundle must
// carry.
type Deployment string

const (
	// PublicGood is Sigstore's public-good instance (public repositories):
	// Fulcio certificates with embedded SCTs, Rekor transparency log.
	PublicGood Deployment = "public-good"
	// GitHub is GitHub's own instance (private repositories, release
	// attestations): certificates from fulcio.githubapp.com, RFC 3161
	// timestamps from timestamp.githubapp.com, no log.
	GitHub Deployment = "github"
)

// githubOrg is the organisation in the subject of every certificate
// authority of GitHub's instance. gh chooses its verifier the same way.
const githubOrg = "GitHub, Inc."

// deploymentOfLeaf says which deployment issued a leaf certificate, from its
// issuer's organisation.
func deploymentOfLeaf(leaf *x509.Certificate) Deployment {
	if slices.Contains(leaf.Issuer.Organization, githubOrg) {
		return GitHub
	}
	return PublicGood
}

// deploymentOfRoot says which deployment a trusted root belongs to, from
// the organisation of its certificate authorities.
func deploymentOfRoot(tm root.TrustedMaterial) (Deployment, error) {
	var seen []Deployment
	for _, ca := range tm.FulcioCertificateAuthorities() {
		fca, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok || fca.Root == nil {
			continue
		}
		d := PublicGood
		if slices.Contains(fca.Root.Subject.Organization, githubOrg) {
			d = GitHub
		}
		if !slices.Contains(seen, d) {
			seen = append(seen, d)
		}
	}
	switch len(seen) {
	case 0:
		return "", errors.New("it has no certificate authorities")
	case 1:
		return seen[0], nil
	}
	return "", errors.New("it mixes public-good and GitHub certificate authorities; pass each in its own file")
}

// Trust is the trusted material pipguard verifies against, by deployment.
// Material is loaded on first use, so verifying a public-good bundle never
// fetches GitHub's root.
type Trust struct {
	// files are the trusted root files this Trust was made from (none
	// for TUF).
	files []RootFile
	// origin is where the material comes from, for Identity: "files",
	// "tuf" (TUF, online or a fetch directory's), "given" (NewTrust).
	origin  string
	mu      sync.Mutex
	ids     map[Deployment]string
	loaded  map[Deployment]root.TrustedMaterial
	errs    map[Deployment]error
	loaders map[Deployment]func() (root.TrustedMaterial, error)
}

// RootError is a trusted_root.json that reads as JSON but that Sigstore
// rejects (a transparency log without a validity start, an unknown
// deployment): verification against it is impossible.
type RootError struct {
	Path string
	Err  error
}

func (e *RootError) Error() string {
	return fmt.Sprintf("trusted root %s cannot be used: %v", e.Path, e.Err)
}

// Hint says what to do.
func (e *RootError) Hint() string {
	return "get the trusted root again from its source (TUF), or drop --trusted-root to use the embedded TUF roots"
}

// TrustError is a failure to obtain trusted material (TUF unreachable, no
// cache offline, a bad --trusted-root file).
type TrustError struct {
	Deployment Deployment
	Err        error
	Fix        string
}

func (e *TrustError) Error() string {
	return fmt.Sprintf("trusted root for %s: %v", e.Deployment, e.Err)
}

// Hint says what to do.
func (e *TrustError) Hint() string { return e.Fix }

func (e *TrustError) Unwrap() error { return e.Err }

// RootFile is a trusted root file that replaced Sigstore's TUF roots: its
// path, the sha256 of the bytes read, and whether only
// $PIPGUARD_TRUSTED_ROOT named it.
type RootFile struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	FromEnv bool   `json:"from_env,omitempty"`
}

// Files are the trusted root files t was made from (TrustFromFiles); none
// when its material comes from TUF.
func (t *Trust) Files() []RootFile {
	if t == nil {
		return nil
	}
	return append([]RootFile(nil), t.files...)
}

// FromEnvironment marks t's files as named by the environment
// ($PIPGUARD_TRUSTED_ROOT), not the command line: receipts record it.
func (t *Trust) FromEnvironment() {
	for i := range t.files {
		t.files[i].FromEnv = true
	}
}

// ErrNoTrustedRoot means no trusted material was given for a deployment.
var ErrNoTrustedRoot = errors.New("no trusted root given for this deployment")

// NewTrust returns Trust over already-loaded material (tests, embedders).
func NewTrust(material map[Deployment]root.TrustedMaterial) *Trust {
	return &Trust{origin: "given", loaded: material, errs: map[Deployment]error{}, loaders: map[Deployment]func() (root.TrustedMaterial, error){}}
}

// Identity names the trusted material of deployment d, for a cache key
// under which something verified against it is remembered: where it came
// from ("files", "tuf", "given") and the sha256 of what was loaded (of
// each root file, for files; of the trusted root TUF gave, or the
// material given, as sigstore-go serialises it). Two Trusts with one
// identity verify alike; a trusted root named by --trusted-root or
// $PIPGUARD_TRUSTED_ROOT never has a TUF root's identity, even with the
// same bytes. ok is false when the material cannot be named (not
// loaded, or of a kind that does not serialise): then nothing verified
// against it may be remembered.
func (t *Trust) Identity(d Deployment) (id string, ok bool) {
	if t == nil {
		return "", false
	}
	m, err := t.Material(d)
	if err != nil {
		return "", false
	}
	// Serialising a trusted root writes to it (sigstore-go rebuilds its
	// protobuf form): once per deployment, under the lock.
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[d]; ok {
		return id, id != ""
	}
	if t.ids == nil {
		t.ids = map[Deployment]string{}
	}
	h := sha256.New()
	if t.origin == "files" {
		for _, f := range t.files {
			fmt.Fprintf(h, "file %s\n", f.SHA256)
		}
	}
	if !hashMaterial(h, m) {
		t.ids[d] = ""
		return "", false
	}
	id = fmt.Sprintf("%s:%s:%x", t.origin, d, h.Sum(nil))
	t.ids[d] = id
	return id, true
}

// hashMaterial writes the sha256 of each trusted root of m to w.
func hashMaterial(w io.Writer, m root.TrustedMaterial) bool {
	switch m := m.(type) {
	case *root.TrustedRoot:
		b, err := m.MarshalJSON()
		if err != nil {
			return false
		}
		fmt.Fprintf(w, "root %x\n", sha256.Sum256(b))
		return true
	case root.TrustedMaterialCollection:
		if len(m) == 0 {
			return false
		}
		for _, e := range m {
			if !hashMaterial(w, e) {
				return false
			}
		}
		return true
	}
	return false
}

// TrustFromFiles loads trusted root JSON files (the format of
// trusted_root.json in Sigstore's TUF repositories) and sorts them by
// deployment. Several files of one deployment are all trusted.
func TrustFromFiles(paths ...string) (*Trust, error) {
	by := map[Deployment]root.TrustedMaterialCollection{}
	var files []RootFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		sum := sha256.Sum256(data)
		files = append(files, RootFile{Path: p, SHA256: hex.EncodeToString(sum[:])})
		if err == nil && !json.Valid(data) {
			err = errors.New("not JSON")
		}
		if err != nil {
			// The file itself is wrong: a usage error.
			return nil, &PolicyError{Msg: fmt.Sprintf("trusted root %s: %v", p, err), Fix: "pass a Sigstore trusted_root.json file"}
		}
		tr, err := root.NewTrustedRootFromJSON(data)
		if err == nil {
			var d Deployment
			if d, err = deploymentOfRoot(tr); err == nil {
				by[d] = append(by[d], tr)
				continue
			}
		}
		// A trusted_root.json Sigstore rejects: nothing can be verified
		// with it, which no retry and no other flag changes.
		return nil, &RootError{Path: p, Err: err}
	}
	material := map[Deployment]root.TrustedMaterial{}
	for d, c := range by {
		material[d] = c
	}
	t := NewTrust(material)
	t.files, t.origin = files, "files"
	return t, nil
}

//go:embed embed/tuf-repo.github.com-root.json
var githubTUFRoot []byte

// GitHubTUFURL is GitHub's TUF repository for its Sigstore instance.
const GitHubTUFURL = "https://tuf-repo.github.com"

// TUFOptions configure trusted material from TUF.
type TUFOptions struct {
	// CacheDir holds TUF metadata between runs (a "tuf" directory is made
	// in it).
	CacheDir string
	// Offline never touches the network: only a valid cache is used.
	Offline bool
	// PublicGoodURL and GitHubURL override the repositories (tests).
	PublicGoodURL, GitHubURL string
	// PublicGoodRoot and GitHubRoot override the embedded TUF roots (tests).
	PublicGoodRoot, GitHubRoot []byte
	// Context bounds network use.
	Context context.Context
}

// TrustFromTUF returns Trust that fetches each deployment's trusted root
// through TUF on first use: public-good from sigstore-go's embedded root,
// GitHub's from the embedded root of tuf-repo.github.com. That root has
// expired, so a first run must be online to update through newer roots;
// later runs can use the cache with Offline.
func TrustFromTUF(o TUFOptions) *Trust {
	t := NewTrust(map[Deployment]root.TrustedMaterial{})
	t.origin = "tuf"
	load := func(d Deployment, rootJSON []byte, url string) func() (root.TrustedMaterial, error) {
		return func() (root.TrustedMaterial, error) {
			opts := tuf.DefaultOptions()
			opts.RepositoryBaseURL = url
			opts.CachePath = filepath.Join(o.CacheDir, "tuf")
			// TUF client workflow (spec 5.2): start from the trusted root in
			// local storage, which an earlier update verified, unless the
			// embedded one is newer. sigstore-go always starts from the root
			// it is given, which for GitHub's expired embedded root would make
			// every offline run fail.
			opts.Root = newestRoot(rootJSON, filepath.Join(opts.CachePath, tuf.URLToPath(url), "root.json"))
			if o.Context != nil {
				opts.Context = o.Context
			}
			if o.Offline {
				opts.ForceCache = true
				opts.Fetcher = offlineFetcher{}
			}
			client, err := tuf.New(opts)
			if err != nil {
				fix := "check your network, or pass --trusted-root FILE"
				if o.Offline {
					fix = "run once without --offline to fill the cache in " + opts.CachePath + ", or pass --trusted-root FILE"
				}
				if o.Offline {
					err = fmt.Errorf("no valid TUF cache, and --offline forbids fetching one (%w)", err)
				}
				return nil, &TrustError{Deployment: d, Err: err, Fix: fix}
			}
			tr, err := root.GetTrustedRoot(client)
			if err != nil {
				return nil, &TrustError{Deployment: d, Err: err, Fix: "pass --trusted-root FILE"}
			}
			return tr, nil
		}
	}
	pgRoot, pgURL := tuf.DefaultRoot(), tuf.DefaultMirror
	if o.PublicGoodRoot != nil {
		pgRoot = o.PublicGoodRoot
	}
	if o.PublicGoodURL != "" {
		pgURL = o.PublicGoodURL
	}
	ghRoot, ghURL := githubTUFRoot, GitHubTUFURL
	if o.GitHubRoot != nil {
		ghRoot = o.GitHubRoot
	}
	if o.GitHubURL != "" {
		ghURL = o.GitHubURL
	}
	t.loaders[PublicGood] = load(PublicGood, pgRoot, pgURL)
	t.loaders[GitHub] = load(GitHub, ghRoot, ghURL)
	return t
}

// Material returns the trusted material of deployment d.
func (t *Trust) Material(d Deployment) (root.TrustedMaterial, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.loaded[d]; ok {
		return m, nil
	}
	if err, ok := t.errs[d]; ok {
		return nil, err
	}
	load, ok := t.loaders[d]
	if !ok {
		return nil, &TrustError{Deployment: d, Err: ErrNoTrustedRoot,
			Fix: fmt.Sprintf("pass a --trusted-root file of the %s instance", d)}
	}
	m, err := load()
	if err != nil {
		t.errs[d] = err
		return nil, err
	}
	t.loaded[d] = m
	return m, nil
}

// newestRoot returns the cached TUF root at path when it is a newer version
// than embedded, else embedded.
func newestRoot(embedded []byte, path string) []byte {
	cached, err := os.ReadFile(path)
	if err != nil {
		return embedded
	}
	if rootVersion(cached) > rootVersion(embedded) {
		return cached
	}
	return embedded
}

func rootVersion(b []byte) int {
	var m struct {
		Signed struct {
			Type    string `json:"_type"`
			Version int    `json:"version"`
		} `json:"signed"`
	}
	if json.Unmarshal(b, &m) != nil || m.Signed.Type != "root" {
		return -1
	}
	return m.Signed.Version
}

// offlineFetcher refuses every download: --offline means no network.
type offlineFetcher struct{}

func (offlineFetcher) DownloadFile(url string, _ int64, _ time.Duration) ([]byte, error) {
	return nil, fmt.Errorf("offline: not fetching %s", url)
}

var _ fetcher.Fetcher = offlineFetcher{}
