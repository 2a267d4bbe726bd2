package installer

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/policy"
)

// LockError is a resolution pipguard cannot write as a lock file: a URL
// that would need credentials inline, a file with no URL to fetch it from.
type LockError struct{ Reasons []string }

func (e *LockError) Error() string { return "cannot write the lock: " + strings.Join(e.Reasons, "; ") }

// Hint says what to do.
func (e *LockError) Hint() string {
	return "a lock file is shared: it must name every file by a URL anyone with access can fetch, with no secret in it (give index credentials to pip's configuration or a keyring, not the URL)"
}

// Lock resolves exactly as Install does (one pip resolution for the
// target interpreter, wheels only, nothing unverified run), verifies every
// guarded requirement's release and every index file's provenance, and
// returns what it resolved as a PEP 751 lock, installing nothing.
func Lock(ctx context.Context, cfg Config, o InstallOptions) (*pylock.Lock, *InstallReport, error) {
	o.DryRun, o.lockOnly = true, true
	rep, err := Install(ctx, cfg, o)
	if err != nil {
		return nil, rep, err
	}
	l, err := ToPylock(rep)
	return l, rep, err
}

// ToPylock turns an install's lock into a PEP 751 lock file for the
// interpreter it was resolved for: each index package with its wheel (name,
// URL, size, sha256) and the publisher identities its verified provenance
// names; each guarded requirement's verified release asset as an archive,
// or its commit as a vcs entry, with pipguard's records in
// [packages.tool.pipguard] (they add checks; they never change what is
// installed). It refuses a URL with credentials.
func ToPylock(rep *InstallReport) (*pylock.Lock, error) {
	l := &pylock.Lock{LockVersion: "1.0", CreatedBy: "pipguard"}
	if v := rep.pythonVersion; v != "" {
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			l.RequiresPython = "==" + parts[0] + "." + parts[1] + ".*"
		}
		env := fmt.Sprintf("python_full_version == %q", v)
		if p := sysPlatform(); p != "" {
			env = fmt.Sprintf("sys_platform == %q and %s", p, env)
		}
		l.Environments = []string{strings.ReplaceAll(env, `"`, "'")}
	}
	var reasons []string
	for _, it := range rep.Lock {
		p := pylock.Package{Name: pylock.Normalize(it.Name), Version: it.Version}
		size := it.Size
		switch {
		case it.Source == SourceIndex:
			if it.URL == "" || strings.Contains(it.URL, "****") {
				reasons = append(reasons, fmt.Sprintf("%s %s: its file's URL %q holds credentials or is unknown", it.Name, it.Version, it.URL))
				continue
			}
			name := filepath.Base(it.file)
			if name == "." || name == "" {
				name = it.URL[strings.LastIndex(it.URL, "/")+1:]
			}
			if sd := it.sdist; sd != nil {
				// Built here from an index sdist (allow_source_builds): the
				// lock names the sdist, which any installer can fetch and
				// check; the wheel built from it exists only here.
				ssize := sd.size
				p.Sdist = &pylock.File{Name: sd.name, URL: it.URL, Size: &ssize, Hashes: map[string]string{"sha256": sd.sha256}}
			} else {
				p.Wheels = []pylock.File{{Name: name, URL: it.URL, Size: &size, Hashes: map[string]string{"sha256": it.SHA256}}}
			}
			p.Index = indexOf(it.URL, rep.indexURLs)
			if a := it.Attestation; a != nil && a.State == AttestVerified && a.Publisher != nil && a.Publisher.Kind != "" {
				p.AttestationIdentities = []pylock.Identity{{Kind: a.Publisher.Kind, Repository: a.Publisher.Repository, Workflow: a.Publisher.Workflow,
					WorkflowFilepath: a.Publisher.WorkflowFilepath, Email: a.Publisher.Email, Environment: a.Publisher.Environment}}
			}
		case it.guarded != nil:
			g := it.guarded
			rec := pylock.Record{Repository: g.req.VCS.RepoURL(), Tag: g.Tag}
			if g.Resolution != nil {
				rec.Commit = g.Resolution.Commit
			}
			if g.Release != nil {
				rec.RepositoryID = g.Release.RepositoryID
				if a := g.Release.Asset(g.Asset); a != nil {
					for _, r := range []*attest.Report{a.Provenance, a.SBOM, a.ReleaseAttestation} {
						if r == nil || r.Accepted < 0 {
							continue
						}
						b := r.Bundles[r.Accepted]
						rec.Verified = append(rec.Verified, b.PredicateType)
						if b.Identity != nil && rec.SignerWorkflow == "" && strings.Contains(b.PredicateType, "slsa.dev/provenance") {
							rec.SignerWorkflow, rec.SourceRef = firstOf(b.Identity.BuildSignerURI, b.Identity.SAN), b.Identity.SourceRepositoryRef
							rec.BuildCommit, rec.CommitDistance = strings.ToLower(b.Identity.SourceRepositoryDigest), a.CommitDistance
						}
					}
					// What a later install requires again: the checksums
					// listed it, the release was immutable.
					for _, c := range a.Decision.Checks {
						if c.Name == "sha256sums" && c.Outcome == policy.Pass {
							rec.Verified = append(rec.Verified, pylock.VerifiedSHA256SUMS)
						}
					}
					if g.Release.Immutable {
						rec.Verified = append(rec.Verified, pylock.VerifiedImmutable)
					}
				}
			}
			if g.Pinned {
				rec.Verified = []string{"pinned (verify = \"pin\"): not verified"}
			}
			if g.from == FromGit || g.Pinned {
				p.VCS = &pylock.VCS{Type: "git", URL: g.req.VCS.RepoURL(), RequestedRevision: g.Tag, CommitID: rec.Commit}
			} else {
				asset := strings.TrimSuffix(g.req.VCS.RepoURL(), ".git") + "/releases/download/" + g.Tag + "/" + g.Asset
				asize := size
				if g.Built && g.Release != nil {
					if a := g.Release.Asset(g.Asset); a != nil {
						asize = a.Size
					}
				}
				p.Archive = &pylock.Archive{URL: asset, Size: &asize, Hashes: map[string]string{"sha256": g.SHA256}}
			}
			p.SetPipguard(rec)
		default:
			reasons = append(reasons, fmt.Sprintf("%s %s: a direct reference pipguard did not verify (allow_direct) has no place in a lock pipguard vouches for", it.Name, it.Version))
			continue
		}
		l.Packages = append(l.Packages, p)
	}
	if len(reasons) > 0 {
		return nil, &LockError{Reasons: reasons}
	}
	sort.Slice(l.Packages, func(i, j int) bool { return l.Packages[i].Name < l.Packages[j].Name })
	return l, nil
}

// sysPlatform is Python's sys.platform for the platform pipguard runs on
// (the target interpreter runs there too).
func sysPlatform() string {
	switch runtime.GOOS {
	case "linux", "darwin":
		return runtime.GOOS
	case "windows":
		return "win32"
	}
	return ""
}

// indexOf is the index a file's URL came from, as the lock names it: the
// one index pip used, or the one on the file's host; "" when it cannot
// tell, or when the index URL holds credentials (a lock holds no secret).
// An index left out for its credentials still counts: with it and one
// other, the other is named only if the file is on its host (the file may
// well be the credentialed index's).
func indexOf(fileURL string, indexes []string) string {
	var pick []string
	for _, ix := range indexes {
		if strings.Contains(redact.String(ix), "****") {
			continue
		}
		pick = append(pick, ix)
	}
	if len(pick) == 1 && len(indexes) == 1 {
		return pick[0]
	}
	fu, err := url.Parse(fileURL)
	if err != nil {
		return ""
	}
	for _, ix := range pick {
		if iu, err := url.Parse(ix); err == nil && iu.Host == fu.Host {
			return ix
		}
	}
	return ""
}

// LockChange is one difference between a previous lock and a new one.
type LockChange struct {
	Name string `json:"name"`
	// What: "added", "removed", "version", "identity".
	What     string `json:"what"`
	Previous string `json:"previous,omitempty"`
	Now      string `json:"now,omitempty"`
}

func (c LockChange) String() string {
	switch c.What {
	case "added":
		return fmt.Sprintf("%s %s added", c.Name, c.Now)
	case "removed":
		return fmt.Sprintf("%s %s removed", c.Name, c.Previous)
	case "version":
		return fmt.Sprintf("%s %s -> %s", c.Name, c.Previous, c.Now)
	}
	return fmt.Sprintf("%s: publisher identity %s -> %s", c.Name, c.Previous, c.Now)
}

// IdentityChangeError is a re-lock in which a package's publisher
// identity changed or disappeared since the previous lock: trust on first
// use, with the lock file as the record, refuses it unless the user
// accepts it for that project.
type IdentityChangeError struct{ Changes []LockChange }

func (e *IdentityChangeError) Error() string {
	var parts []string
	for _, c := range e.Changes {
		parts = append(parts, c.String())
	}
	return "the publisher identity changed since the previous lock: " + strings.Join(parts, "; ")
}

// Hint says what to do.
func (e *IdentityChangeError) Hint() string {
	var names []string
	for _, c := range e.Changes {
		names = append(names, "--accept-identity-change "+c.Name)
	}
	return "find out why another publisher (or none) signs these files now: a project that moved its release workflow says so; then accept it with " + strings.Join(names, " ")
}

func identityText(ids []pylock.Identity) string {
	if len(ids) == 0 {
		return "none"
	}
	var parts []string
	for _, id := range ids {
		s := id.Kind + ":" + id.Repository
		switch {
		case id.Workflow != "":
			s += "/" + id.Workflow
		case id.WorkflowFilepath != "":
			s += "//" + id.WorkflowFilepath
		case id.Email != "":
			s = id.Kind + ":" + id.Email
		}
		parts = append(parts, s)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// CompareLocks says what changed from prev to next, and refuses (an
// *IdentityChangeError) a package whose previous lock recorded attestation
// identities that the new one does not record the same, unless accepted
// names it.
func CompareLocks(prev, next *pylock.Lock, accepted []string) ([]LockChange, error) {
	ok := map[string]bool{}
	for _, a := range accepted {
		ok[pylock.Normalize(a)] = true
	}
	was := map[string]pylock.Package{}
	for _, p := range prev.Packages {
		was[p.Name] = p
	}
	var changes, refused []LockChange
	seen := map[string]bool{}
	for _, p := range next.Packages {
		seen[p.Name] = true
		old, found := was[p.Name]
		switch {
		case !found:
			changes = append(changes, LockChange{Name: p.Name, What: "added", Now: p.Version})
			continue
		case old.Version != p.Version:
			changes = append(changes, LockChange{Name: p.Name, What: "version", Previous: old.Version, Now: p.Version})
		}
		if len(old.AttestationIdentities) > 0 {
			if a, b := identityText(old.AttestationIdentities), identityText(p.AttestationIdentities); a != b {
				c := LockChange{Name: p.Name, What: "identity", Previous: a, Now: b}
				changes = append(changes, c)
				if !ok[p.Name] {
					refused = append(refused, c)
				}
			}
		}
	}
	for _, p := range prev.Packages {
		if !seen[p.Name] {
			changes = append(changes, LockChange{Name: p.Name, What: "removed", Previous: p.Version})
		}
	}
	if len(refused) > 0 {
		return changes, &IdentityChangeError{Changes: refused}
	}
	return changes, nil
}
