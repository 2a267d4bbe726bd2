package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/sums"
	"github.com/pipguard/pipguard/policy"
)

// ReleaseOptions say which release to verify and how.
type ReleaseOptions struct {
	// Repo is OWNER/REPO on the configured GitHub.
	Repo string
	// Tag is the release's tag.
	Tag string
	// Assets restricts verification to these asset names; empty means
	// every installable asset (wheels and sdists).
	Assets []string
	// Choose, when set, picks the assets to verify from the release's asset
	// names (pipguard install picks the one wheel for its interpreter). An
	// error stops verification and is returned.
	Choose func(names []string) ([]string, error)
	// Policy is the identity policy for the workflow attestations. Repo,
	// RepoID and GitHubURL are filled in; SourceRef defaults to
	// refs/tags/TAG and SourceDigest to the tag's commit, binding the build
	// to the tag.
	Policy attest.Policy
	// MaxCommitDistance is how many commits the tag's commit may be after
	// the commit the provenance says was built (semantic-release builds on
	// main and tags a version-bump child). 0: the same commit.
	MaxCommitDistance int
	// RequireSBOM makes a missing SBOM attestation a failure.
	RequireSBOM bool
	// RequireReleaseAttestation makes a missing GitHub release attestation
	// a failure even for a mutable release.
	RequireReleaseAttestation bool
	// Dir is a private (0700) directory the assets are downloaded into.
	Dir string
	// Trust is the Sigstore trusted material.
	Trust *attest.Trust
	// SourceRefs, when set, are the glob patterns (policy source_refs) the
	// provenance's source ref must match; unset, it must be refs/tags/TAG
	// (or Policy.SourceRef).
	SourceRefs []string
	// RequireChecksums makes an asset that no SHA256SUMS lists a failure.
	RequireChecksums bool
	// Rules, when set, is the repository's effective policy: each check
	// it decides names the rule that set it.
	Rules *policy.Effective
	// Resolution, when set, is the tag as the caller already listed it:
	// the tag is listed once per run, and every check binds to that one
	// commit (a tag that moves between two listings cannot make one commit
	// verified and another installed). Unset, VerifyRelease lists it.
	Resolution *gitref.Resolution
	// DeferCacheWrites, when set, receives the cache writes of a release
	// that verified instead of VerifyRelease making them before it returns;
	// the caller must run them before it removes Dir (they copy the assets
	// from there). pipguard install makes them while pip resolves.
	DeferCacheWrites func(write func())
	// RepositoryID, when not 0, is the repository's numeric id the lock
	// records: the release's must be it (the certificates are bound to
	// it), so a repository deleted and re-created under the same name is
	// not taken for the one locked.
	RepositoryID int64
	// RequireImmutable makes a mutable release a failure (the lock
	// records that the release was immutable; GitHub's releases do not
	// become mutable again).
	RequireImmutable bool
	// Locked, when set, is the build the lock records as verified: its
	// commit and its distance before the tag's commit. Replaying a fetch
	// directory, the distance is the lock's, not the recorded (unsigned)
	// comparison's.
	Locked *LockedBuild
	// record, when set, records GitHub's answers (pipguard fetch) or
	// replays them with no network (install --files); no cache is used.
	record *recording
}

// LockedBuild is the build a lock records as verified.
type LockedBuild struct {
	Commit   string
	Distance int
}

// AssetReport is the outcome for one asset.
type AssetReport struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`
	// Path is where the verified bytes are (inside ReleaseOptions.Dir).
	Path               string          `json:"-"`
	Verified           bool            `json:"verified"`
	Decision           policy.Decision `json:"decision"`
	Provenance         *attest.Report  `json:"provenance,omitempty"`
	SBOM               *attest.Report  `json:"sbom,omitempty"`
	ReleaseAttestation *attest.Report  `json:"release_attestation,omitempty"`
	// CommitDistance is how many commits the verified build's commit is
	// before the tag's (0: the tag's commit).
	CommitDistance int `json:"commit_distance,omitempty"`
}

// ReleaseReport is the outcome of verifying a release.
type ReleaseReport struct {
	Repo         string          `json:"repo"`
	RepositoryID int64           `json:"repository_id,omitempty"`
	Tag          string          `json:"tag"`
	TagKind      string          `json:"tag_kind,omitempty"`
	Commit       string          `json:"commit,omitempty"`
	Immutable    bool            `json:"immutable"`
	Prerelease   bool            `json:"prerelease"`
	Verified     bool            `json:"verified"`
	Decision     policy.Decision `json:"decision"`
	Assets       []AssetReport   `json:"assets"`
	// APIRequests is how many REST API requests the verification made (the
	// ones GitHub's rate limit counts).
	APIRequests int `json:"api_requests"`
	// Cache is "warm" when cached answers were used, "cold" when the cache
	// was empty for this release, "" without a cache.
	Cache string `json:"cache,omitempty"`
}

// Asset returns the report of the named asset.
func (r *ReleaseReport) Asset(name string) *AssetReport {
	for i := range r.Assets {
		if r.Assets[i].Name == name {
			return &r.Assets[i]
		}
	}
	return nil
}

// ReleaseError says that a release, or some of its assets, did not verify.
type ReleaseError struct {
	Repo, Tag string
	Reasons   []string
	Fix       string
}

func (e *ReleaseError) Error() string {
	return fmt.Sprintf("release %s of %s: %s", e.Tag, e.Repo, strings.Join(e.Reasons, "; "))
}

// Hint says what to do.
func (e *ReleaseError) Hint() string { return e.Fix }

// client returns the GitHub API client for cfg.
func (c Config) client(extra ...github.Option) (*github.Client, error) {
	opts := []github.Option{}
	if c.HTTPClient != nil {
		opts = append(opts, github.WithHTTPClient(c.HTTPClient))
	}
	if c.Timeout > 0 {
		opts = append(opts, github.WithTimeout(c.Timeout))
	}
	if c.Progress != nil {
		opts = append(opts, github.WithProgress(c.Progress))
	}
	opts = append(opts, extra...)
	return github.New(c.githubURL(), c.Token, opts...)
}

func (c Config) githubURL() string {
	if c.GitHubURL == "" {
		return DefaultGitHubURL
	}
	return strings.TrimSuffix(c.GitHubURL, "/")
}

// isInstallable says whether pip could install the asset: a wheel or an
// sdist.
func isInstallable(name string) bool {
	return strings.HasSuffix(name, ".whl") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip")
}

// VerifyRelease verifies a GitHub release: the tag resolves to a commit
// (refusing a tag that is also a branch), the release is published, and
// each selected asset is downloaded and checked against SHA256SUMS, its
// build provenance, its SBOM and GitHub's release attestation. Every check
// is recorded; the error is a *ReleaseError when anything failed, or the
// error that stopped the work (remote unavailable, refused ref).
//
// It asks GitHub's REST API for the release, one attestation listing per
// asset (every predicate type at once), the tag commit's listing only for
// an immutable release whose release attestation was not among them, and a
// comparison only when the build commit is not the tag's: at most 3 calls
// for one asset, plus 1 for the comparison. Public assets come from their
// download URLs, which the rate limit does not count. With Config.Cache, a
// tag that still resolves to the same commit is verified from the cache with
// no REST call at all; if that does not verify, GitHub is asked again (a
// cached answer is never a verdict).
func VerifyRelease(ctx context.Context, cfg Config, o ReleaseOptions) (*ReleaseReport, error) {
	rep, err, src := verifyRelease(ctx, cfg, o, true)
	// Whatever failed on a warm pass (a verification, an asset choice made
	// from a stale listing, a cached asset GitHub no longer has) is asked
	// of GitHub again; only a cancellation is final.
	if src != nil && src.warm && err != nil && ctx.Err() == nil {
		calls := src.gh.RESTCalls()
		src.discard()
		rep, err, _ = verifyRelease(ctx, cfg, o, false)
		if rep != nil {
			rep.APIRequests += calls
		}
	}
	return rep, err
}

func verifyRelease(ctx context.Context, cfg Config, o ReleaseOptions, readCache bool) (*ReleaseReport, error, *source) {
	rep := &ReleaseReport{Repo: o.Repo, Tag: o.Tag, Assets: []AssetReport{}}
	if o.record != nil {
		// A recording holds GitHub's answers, not the cache's.
		cfg.Cache = nil
	}
	src, err := newSource(cfg, readCache)
	if err != nil {
		return nil, err, nil
	}
	src.rec = o.record
	rep, err = verifyFrom(ctx, cfg, o, src, rep)
	rep.APIRequests = src.gh.RESTCalls()
	switch {
	case src.cache == nil:
	case src.warm:
		rep.Cache = "warm"
	default:
		rep.Cache = "cold"
	}
	if err == nil {
		if o.DeferCacheWrites != nil {
			o.DeferCacheWrites(src.commit)
		} else {
			src.commit()
		}
	}
	return rep, err, src
}

func verifyFrom(ctx context.Context, cfg Config, o ReleaseOptions, src *source, rep *ReleaseReport) (*ReleaseReport, error) {
	if _, _, err := github.SplitRepo(o.Repo); err != nil {
		return rep, &attest.PolicyError{Msg: err.Error(), Fix: "pass --repo OWNER/REPO"}
	}
	d := &rep.Decision

	// The tag, resolved with git as pip would see it, once.
	res := o.Resolution
	var err error
	if res == nil {
		if res, err = resolveTag(ctx, cfg, o.Repo, o.Tag); err != nil {
			// git answers "authentication required" for a repository that
			// does not exist as for a private one; the API tells them apart.
			if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrRepositoryNotFound) {
				if _, rerr := src.repository(ctx, o.Repo); errors.Is(rerr, github.ErrNotFound) {
					what := "repository " + o.Repo + " not found"
					if cfg.Token == "" {
						what += " (or private: no token was given)"
					}
					return rep, &ReleaseError{Repo: o.Repo, Tag: o.Tag, Reasons: []string{what}, Fix: "check the repository's name; a private repository needs GH_TOKEN"}
				}
			}
			return rep, err
		}
	}
	rep.Commit, rep.TagKind = res.Commit, string(res.Kind)
	if src.replaying() {
		// No git offline: the lock's commit stands for the tag's, and
		// every signed statement below must bind to it.
		d.Add(policy.Check{Name: "tag", Outcome: policy.NotChecked, Expected: "a tag that is not a branch", Actual: "the lock's commit " + res.Commit,
			Reason: "tag not re-resolved: hermetic install; the lock's commit is used"})
	} else {
		d.Add(policy.Check{Name: "tag", Outcome: policy.Pass, Expected: "a tag that is not a branch", Actual: string(res.Kind) + " -> " + res.Commit})
	}

	rel, err := src.release(ctx, o.Repo, o.Tag, res.Commit)
	if errors.Is(err, github.ErrNotFound) {
		// Which is missing, the repository or its release? Only a failure
		// pays for the second question.
		if _, rerr := src.repository(ctx, o.Repo); errors.Is(rerr, github.ErrNotFound) {
			return rep, &ReleaseError{Repo: o.Repo, Tag: o.Tag, Reasons: []string{"repository " + o.Repo + " not found"}, Fix: "check the repository's name; a private repository needs GH_TOKEN"}
		}
	}
	if err != nil {
		return rep, notFoundAs(err, o, "no published release for tag "+o.Tag, "the maintainers have not published a GitHub release for this tag")
	}
	rep.Immutable, rep.Prerelease = rel.Immutable, rel.Prerelease
	if rel.Draft {
		d.Add(policy.Check{Name: "release-published", Outcome: policy.Fail, Expected: "published", Actual: "draft",
			Reason: "the release is a draft, which its maintainers can still change", Hint: "wait for the release to be published"})
	} else {
		d.Add(policy.Check{Name: "release-published", Outcome: policy.Pass, Actual: "published"})
	}
	if rel.Immutable {
		d.Add(policy.Check{Name: "release-immutable", Outcome: policy.Pass, Actual: "immutable"})
	} else if o.RequireImmutable {
		d.Add(policy.Check{Name: "release-immutable", Outcome: policy.Fail, Expected: "immutable", Actual: "mutable",
			Reason: "the lock records the release as immutable, and it is mutable now", Hint: "GitHub's immutable releases stay immutable: find out why before trusting it (a hermetic install: fetch again)"})
	} else {
		d.Add(policy.Check{Name: "release-immutable", Outcome: policy.Warn, Actual: "mutable",
			Reason: "the release is mutable: its assets can be replaced, and GitHub publishes no release attestation for it"})
	}

	checksums, err := loadChecksums(ctx, src, o.Repo, rel, o.Dir, d)
	if err != nil {
		return rep, err
	}

	var names []string
	switch {
	case o.Choose != nil:
		var all []string
		for _, a := range rel.Assets {
			all = append(all, a.Name)
		}
		if names, err = o.Choose(all); err != nil {
			return rep, err
		}
	case len(o.Assets) > 0:
		names = o.Assets
	default:
		for _, a := range rel.Assets {
			if isInstallable(a.Name) {
				names = append(names, a.Name)
			}
		}
	}
	if len(names) == 0 {
		d.Add(policy.Check{Name: "assets", Outcome: policy.Fail, Expected: "a wheel or sdist", Actual: "none",
			Reason: "the release has no installable asset (wheel or sdist)"})
	}

	p := o.Policy
	p.Repo, p.GitHubURL = o.Repo, cfg.githubURL()
	if p.SourceRef == "" && len(o.SourceRefs) == 0 {
		p.SourceRef = "refs/tags/" + o.Tag
	}
	// Unless the user pinned a source commit, the build is bound to the
	// tag by checkBinding (the tag's commit, or a descendant within
	// MaxCommitDistance), not by an exact match in the policy.
	for _, name := range names {
		ar, err := verifyAsset(ctx, src, rel, name, o, p, rep, checksums)
		if err != nil {
			return rep, err
		}
		rep.Assets = append(rep.Assets, *ar)
	}

	var reasons []string
	for _, c := range d.Failures() {
		reasons = append(reasons, c.Reason)
	}
	for _, a := range rep.Assets {
		for _, c := range a.Decision.Failures() {
			reasons = append(reasons, a.Name+": "+c.Reason)
		}
	}
	rep.Verified = len(reasons) == 0
	if o.Rules != nil {
		// Checks no policy key decides are pipguard's own.
		builtIn := func(d *policy.Decision) {
			for i := range d.Checks {
				if d.Checks[i].Rule == "" {
					d.Checks[i].Rule = "built in"
				}
			}
		}
		builtIn(&rep.Decision)
		for i := range rep.Assets {
			builtIn(&rep.Assets[i].Decision)
		}
	}
	if !rep.Verified {
		return rep, &ReleaseError{Repo: o.Repo, Tag: o.Tag, Reasons: reasons, Fix: firstHint(rep)}
	}
	return rep, nil
}

// repositoryID is the repository's numeric id: as the attestations API
// gives it with each entry, or (when it does not, or its entries disagree)
// from the repository itself.
func repositoryID(ctx context.Context, src *source, repo string, atts []github.Attestation) (int64, error) {
	var id int64
	for _, a := range atts {
		switch {
		case a.RepositoryID == 0:
		case id == 0:
			id = a.RepositoryID
		case id != a.RepositoryID:
			id = -1
		}
	}
	if id > 0 {
		return id, nil
	}
	r, err := src.repository(ctx, repo)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

func notFoundAs(err error, o ReleaseOptions, what, fix string) error {
	if errors.Is(err, github.ErrNotFound) {
		return &ReleaseError{Repo: o.Repo, Tag: o.Tag, Reasons: []string{what}, Fix: fix}
	}
	return err
}

func firstHint(rep *ReleaseReport) string {
	for _, c := range rep.Decision.Failures() {
		if c.Hint != "" {
			return c.Hint
		}
	}
	for _, a := range rep.Assets {
		for _, c := range a.Decision.Failures() {
			if c.Hint != "" {
				return c.Hint
			}
		}
	}
	return "run with --format json to see every check"
}

// loadChecksums downloads and parses the release's checksum files. A file
// that does not parse is a failure (two readers could disagree on it).
func loadChecksums(ctx context.Context, src *source, repo string, rel *github.Release, dir string, d *policy.Decision) (sums.Sums, error) {
	var all sums.Sums
	for _, a := range rel.Assets {
		if !sums.IsChecksumFile(a.Name) {
			continue
		}
		if a.Size > sums.MaxSize {
			d.Add(policy.Check{Name: "checksums-file", Outcome: policy.Fail, Actual: a.Name, Reason: a.Name + " is too large for a checksum file"})
			continue
		}
		dl, err := src.download(ctx, repo, a, dir)
		if err != nil {
			var ie *github.IntegrityError
			if errors.As(err, &ie) {
				d.Add(policy.Check{Name: "checksums-file", Outcome: policy.Fail, Actual: a.Name, Reason: ie.Error(), Hint: ie.Hint()})
				continue
			}
			return nil, err
		}
		data, err := os.ReadFile(dl.Path)
		if err != nil {
			return nil, err
		}
		s, err := sums.Parse(data)
		if err != nil {
			d.Add(policy.Check{Name: "checksums-file", Outcome: policy.Fail, Actual: a.Name, Reason: fmt.Sprintf("%s is malformed: %v", a.Name, err)})
			continue
		}
		if all == nil {
			all = sums.Sums{}
		}
		for name, digest := range s {
			if prev, ok := all[name]; ok && prev != digest {
				d.Add(policy.Check{Name: "checksums-file", Outcome: policy.Fail, Actual: a.Name, Reason: "checksum files disagree about " + name})
			}
			all[name] = digest
		}
		d.Add(policy.Check{Name: "checksums-file", Outcome: policy.Pass, Actual: a.Name})
	}
	return all, nil
}

// verifyAsset downloads one asset and runs every asset check on it.
func verifyAsset(ctx context.Context, src *source, rel *github.Release, name string, o ReleaseOptions, p attest.Policy, rep *ReleaseReport, checksums sums.Sums) (*AssetReport, error) {
	ar := &AssetReport{Name: name}
	d := &ar.Decision
	a, ok := rel.AssetNamed(name)
	if !ok {
		d.Add(policy.Check{Name: "asset", Outcome: policy.Fail, Expected: name, Reason: "the release has no asset " + name,
			Hint: "assets: " + assetNames(rel)})
		return ar, nil
	}
	dl, err := src.download(ctx, o.Repo, a, o.Dir)
	if err != nil {
		var ie *github.IntegrityError
		if errors.As(err, &ie) {
			d.Add(policy.Check{Name: "download", Outcome: policy.Fail, Expected: ie.Expected, Actual: ie.Actual, Reason: ie.Error(), Hint: ie.Hint()})
			return ar, nil
		}
		return nil, err
	}
	ar.Path, ar.SHA256, ar.Size = dl.Path, dl.SHA256, dl.Size
	digest := "sha256:" + dl.SHA256
	d.Add(policy.Check{Name: "download", Outcome: policy.Pass, Actual: digest, Reason: fmt.Sprintf("%d bytes, matching the release's size and digest", dl.Size)})

	sumsMissing := policy.NotChecked
	if o.RequireChecksums {
		sumsMissing = policy.Fail
	}
	sumsRule := o.rule(func(e *policy.Effective) string { return e.Require.Rule("require") })
	switch want, listed := checksums[name]; {
	case checksums == nil:
		d.Add(policy.Check{Name: "sha256sums", Outcome: sumsMissing, Reason: "the release has no SHA256SUMS", Rule: sumsRule})
	case !listed:
		d.Add(policy.Check{Name: "sha256sums", Outcome: sumsMissing, Reason: name + " is not listed in the release's checksums", Rule: sumsRule})
	case want != dl.SHA256:
		d.Add(policy.Check{Name: "sha256sums", Outcome: policy.Fail, Expected: "sha256:" + want, Actual: digest,
			Reason: fmt.Sprintf("SHA256SUMS lists %s as sha256:%s, the asset is %s", name, want, digest), Hint: "the asset was replaced after the checksums were published; do not install it"})
	default:
		d.Add(policy.Check{Name: "sha256sums", Outcome: policy.Pass, Expected: "sha256:" + want, Actual: digest})
	}

	// Hashed as it was downloaded (or copied out of the cache) into the
	// private directory: not read again here.
	artifact, err := attest.ArtifactFromHashedFile(dl.Path, dl.SHA256)
	if err != nil {
		return nil, err
	}

	// One listing for the asset's digest, every predicate type, split here
	// by what each statement claims (and verified as that type below).
	listing, err := src.attestations(ctx, o.Repo, digest)
	if err != nil {
		return nil, err
	}
	if len(listing) > 0 && rep.RepositoryID == 0 {
		if rep.RepositoryID, err = repositoryID(ctx, src, o.Repo, listing); err != nil {
			return nil, notFoundAs(err, o, "repository "+o.Repo+" not found", "check the repository's name; a private repository needs GH_TOKEN")
		}
	}
	if o.RepositoryID != 0 {
		if rep.RepositoryID != 0 && rep.RepositoryID != o.RepositoryID {
			d.Add(policy.Check{Name: "repository-id", Outcome: policy.Fail, Expected: fmt.Sprint(o.RepositoryID), Actual: fmt.Sprint(rep.RepositoryID),
				Reason: fmt.Sprintf("the repository's id is %d, the lock records %d: it is not the repository that was locked (deleted and re-created, or renamed over)", rep.RepositoryID, o.RepositoryID),
				Hint:   "find out why the repository changed before trusting it; lock again if it is the project's"})
		}
		// The certificates must carry the lock's id.
		rep.RepositoryID = o.RepositoryID
	}
	if rep.RepositoryID != 0 {
		p.RepoID = fmt.Sprint(rep.RepositoryID)
	}
	groups := byPredicate(listing)

	verify := func(check string, pol attest.Policy, bundles []attest.Bundle, required bool) (*attest.Report, error) {
		if len(bundles) == 0 {
			c := policy.Check{Name: check, Outcome: policy.NotChecked, Expected: pol.PredicateType, Reason: "no " + check + " attestation published for " + name}
			if required {
				c.Outcome, c.Hint = policy.Fail, "the maintainers must attest this asset (actions/attest-build-provenance, actions/attest-sbom)"
			}
			d.Add(c)
			return nil, nil
		}
		v, err := attest.NewVerifier(o.Trust, pol)
		if err != nil {
			return nil, err
		}
		r, err := v.Verify(artifact, bundles)
		nameRules(o, r)
		var ae *attest.Error
		rule := o.rule(func(e *policy.Effective) string { return e.Require.Rule("require") })
		if check == "release-attestation" && !o.RequireReleaseAttestation {
			rule = "the release is immutable"
		}
		switch {
		case err == nil:
			d.Add(policy.Check{Name: check, Outcome: policy.Pass, Actual: r.Bundles[r.Accepted].Source, Rule: rule})
		case errors.As(err, &ae):
			d.Add(policy.Check{Name: check, Outcome: policy.Fail, Reason: check + ": " + ae.Detail(), Hint: ae.Hint(), Rule: rule})
		default:
			return r, err
		}
		return r, nil
	}

	prov := p
	prov.PredicateType = attest.ProvenanceV1
	if ar.Provenance, err = verify("provenance", prov, groups.provenance, true); err != nil {
		return nil, err
	}
	if ar.Provenance != nil && ar.Provenance.Verified && len(o.SourceRefs) > 0 {
		b := ar.Provenance.Bundles[ar.Provenance.Accepted]
		checkSourceRef(o, b.Identity.SourceRepositoryRef, d)
	}
	if ar.Provenance != nil && ar.Provenance.Verified && p.SourceDigest == "" {
		b := ar.Provenance.Bundles[ar.Provenance.Accepted]
		if ar.CommitDistance, err = checkBinding(ctx, src, o, rep.Commit, b.Identity.SourceRepositoryDigest, d); err != nil {
			return nil, err
		}
	}
	sbom := p
	sbom.PredicateType = attest.SPDXv23
	if ar.SBOM, err = verify("sbom", sbom, groups.sbom, o.RequireSBOM); err != nil {
		return nil, err
	}
	if rel.Immutable || o.RequireReleaseAttestation {
		rp := attest.Policy{Repo: o.Repo, Tag: o.Tag, SourceDigest: rep.Commit, GitHubURL: p.GitHubURL}
		bundles := groups.release
		// GitHub lists a release attestation under each asset's digest and
		// under the tag's commit (where gh release verify looks). Asked by
		// commit only when the asset's listing has none that verifies.
		if !verifiesQuietly(o.Trust, rp, artifact, bundles) {
			more, err := src.attestations(ctx, o.Repo, "sha1:"+rep.Commit)
			var missing *RecordMissingError
			if errors.As(err, &missing) {
				// Replayed: the fetch did not need this listing (the
				// asset's verified), so the lock's commit is not the one
				// the fetch verified; what is here fails below.
				more, err = nil, nil
			}
			if err != nil {
				return nil, err
			}
			bundles = appendNew(bundles, byPredicate(more).release)
		}
		if ar.ReleaseAttestation, err = verify("release-attestation", rp, bundles, true); err != nil {
			return nil, err
		}
	} else {
		d.Add(policy.Check{Name: "release-attestation", Outcome: policy.NotChecked, Reason: "the release is mutable; GitHub attests immutable releases only"})
	}
	ar.Verified = d.Verdict() == policy.Accept
	return ar, nil
}

// predicateGroups are an attestation listing's bundles by the predicate
// type their statements claim. A bundle whose statement cannot be read
// goes with provenance, where its error is reported.
type predicateGroups struct{ provenance, sbom, release []attest.Bundle }

func byPredicate(atts []github.Attestation) predicateGroups {
	var g predicateGroups
	for _, at := range atts {
		for _, b := range attest.ParseBundles(at.Source, at.Bundle) {
			switch attest.PredicateTypeOf(b) {
			case attest.ProvenanceV1, "":
				g.provenance = append(g.provenance, b)
			case attest.SPDXv23:
				g.sbom = append(g.sbom, b)
			case attest.ReleaseV01, attest.ReleaseV02:
				g.release = append(g.release, b)
			}
		}
	}
	return g
}

// appendNew appends the bundles of more that are not already in bundles
// (the same bundle listed under two digests is verified once).
func appendNew(bundles, more []attest.Bundle) []attest.Bundle {
	seen := map[string]bool{}
	key := func(b attest.Bundle) string {
		if b.Bundle == nil {
			return b.Where()
		}
		data, _ := b.Bundle.MarshalJSON()
		return string(data)
	}
	for _, b := range bundles {
		seen[key(b)] = true
	}
	for _, b := range more {
		if !seen[key(b)] {
			seen[key(b)] = true
			bundles = append(bundles, b)
		}
	}
	return bundles
}

// verifiesQuietly says whether one of bundles satisfies pol, recording
// nothing.
func verifiesQuietly(trust *attest.Trust, pol attest.Policy, artifact *attest.Artifact, bundles []attest.Bundle) bool {
	if len(bundles) == 0 {
		return false
	}
	v, err := attest.NewVerifier(trust, pol)
	if err != nil {
		return false
	}
	_, err = v.Verify(artifact, bundles)
	return err == nil
}

func assetNames(rel *github.Release) string {
	var n []string
	for _, a := range rel.Assets {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}

// DownloadDir makes a private temporary directory for verified assets.
func DownloadDir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "pipguard-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// FetchAttestations fetches the attestations GitHub lists for subject
// (sha256:HEX, or sha1:COMMIT for release attestations) in repo, as bundles
// ready for package attest. predicateType may be empty.
func FetchAttestations(ctx context.Context, cfg Config, repo, subject, predicateType string) ([]attest.Bundle, error) {
	gh, err := cfg.client()
	if err != nil {
		return nil, err
	}
	atts, err := gh.Attestations(ctx, repo, subject, predicateType)
	if err != nil {
		return nil, err
	}
	var out []attest.Bundle
	for _, a := range atts {
		out = append(out, attest.ParseBundles(a.Source, a.Bundle)...)
	}
	return out, nil
}

// TagCommit resolves tag of repo on the configured GitHub to its commit,
// refusing what Classify refuses.
func TagCommit(ctx context.Context, cfg Config, repo, tag string) (string, error) {
	res, err := resolveTag(ctx, cfg, repo, tag)
	if err != nil {
		return "", err
	}
	return res.Commit, nil
}

func resolveTag(ctx context.Context, cfg Config, repo, tag string) (*gitref.Resolution, error) {
	refs, err := gitref.List(ctx, cfg.githubURL()+"/"+repo+".git", cfg.gitOptions())
	if err != nil {
		return nil, err
	}
	return gitref.Classify(repo, refs, tag)
}

// checkBinding checks that the commit the provenance says was built is the
// tag's commit, or an ancestor of it within o.MaxCommitDistance commits
// (asked of GitHub's compare API; nothing is cloned). A refusal says which
// setting would accept the build.
func checkBinding(ctx context.Context, src *source, o ReleaseOptions, tagCommit, built string, d *policy.Decision) (int, error) {
	c := policy.Check{Name: "tag-binding", Expected: fmt.Sprintf("the tag's commit %s, or an ancestor within %d commits", tagCommit, o.MaxCommitDistance), Actual: built,
		Rule: o.rule(func(e *policy.Effective) string { return e.MaxCommitDistance.Rule("max_commit_distance") })}
	if strings.EqualFold(built, tagCommit) {
		c.Outcome, c.Reason = policy.Pass, "built from the tag's commit"
		d.Add(c)
		return 0, nil
	}
	if built == "" {
		c.Outcome, c.Reason = policy.Fail, "the provenance names no source commit"
		d.Add(c)
		return 0, nil
	}
	if src.replaying() {
		// A hermetic install: the recorded comparison is unsigned. The
		// distance is the one the lock records for this build, checked
		// against the policy now; a lock that records none for it is
		// refused.
		switch {
		case o.Locked != nil && o.Locked.Distance >= 1 && strings.EqualFold(o.Locked.Commit, built) && o.Locked.Distance <= o.MaxCommitDistance:
			c.Outcome, c.Reason = policy.Pass, fmt.Sprintf("built %d commit(s) before the tag's commit (the lock's record; not asked offline)", o.Locked.Distance)
			d.Add(c)
			return o.Locked.Distance, nil
		case o.Locked != nil && o.Locked.Distance >= 1 && strings.EqualFold(o.Locked.Commit, built):
			c.Outcome = policy.Fail
			c.Reason = fmt.Sprintf("the build's commit %s is %d commit(s) before the tag's commit %s (the lock's record)", built, o.Locked.Distance, tagCommit)
			c.Hint = fmt.Sprintf("max_commit_distance = %d in the repository's policy table (or --max-commit-distance %d) would accept it (the project tags a commit after the one it builds)", o.Locked.Distance, o.Locked.Distance)
			d.Add(c)
			return 0, nil
		default:
			c.Outcome = policy.Fail
			c.Reason = fmt.Sprintf("the build's commit %s is not the lock's commit %s, and the lock records no distance for that build (a hermetic install does not take the fetch directory's comparison)", built, tagCommit)
			c.Hint = "lock again (pipguard lock records the build's commit and distance), then fetch again"
			d.Add(c)
			return 0, nil
		}
	}
	cmp, err := src.compare(ctx, o.Repo, strings.ToLower(built), strings.ToLower(tagCommit))
	if errors.Is(err, github.ErrNotFound) {
		c.Outcome, c.Reason = policy.Fail, fmt.Sprintf("the build's commit %s is unrelated to the tag's commit %s", built, tagCommit)
		d.Add(c)
		return 0, nil
	}
	var missing *RecordMissingError
	if errors.As(err, &missing) {
		// A hermetic install: the fetch verified another commit than the
		// one the lock names now.
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("the build's commit %s is not the lock's commit %s, and the fetch recorded no comparison of the two", built, tagCommit)
		c.Hint = "the lock's commit is not the one the release was built from: lock again, then fetch again"
		d.Add(c)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	distance := 0
	switch {
	case cmp.Status == "ahead" && cmp.AheadBy >= 1 && cmp.AheadBy <= o.MaxCommitDistance:
		c.Outcome, c.Reason = policy.Pass, fmt.Sprintf("built %d commit(s) before the tag's commit", cmp.AheadBy)
		distance = cmp.AheadBy
	case cmp.Status == "ahead":
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("the build's commit %s is %d commit(s) before the tag's commit %s", built, cmp.AheadBy, tagCommit)
		c.Hint = fmt.Sprintf("max_commit_distance = %d in the repository's policy table (or --max-commit-distance %d) would accept it (the project tags a commit after the one it builds)", cmp.AheadBy, cmp.AheadBy)
	default:
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("the build's commit %s is not an ancestor of the tag's commit %s (%s)", built, tagCommit, cmp.Status)
		c.Hint = "the release was not built from the history of its tag; do not install it"
	}
	d.Add(c)
	return distance, nil
}

// rule names the policy rule that decided a check: the repository's
// effective policy's, or "default" when the caller gave none (flags).
func (o ReleaseOptions) rule(f func(*policy.Effective) string) string {
	if o.Rules == nil {
		return ""
	}
	return f(o.Rules)
}

// checkSourceRef checks the provenance's source ref against the policy's
// source_refs patterns. A refusal says which policy line would accept it.
func checkSourceRef(o ReleaseOptions, ref string, d *policy.Decision) {
	c := policy.Check{Name: "source-ref", Expected: strings.Join(o.SourceRefs, " or "), Actual: ref,
		Rule: o.rule(func(e *policy.Effective) string { return e.SourceRefs.Rule("source_refs") })}
	allowed := false
	for _, p := range o.SourceRefs {
		if ok, err := path.Match(p, ref); err == nil && ok {
			allowed = true
		}
	}
	if allowed {
		c.Outcome, c.Reason = policy.Pass, "the build's source ref is one the policy allows"
	} else {
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("the build's source ref %s is not one of %s", ref, strings.Join(o.SourceRefs, ", "))
		c.Hint = fmt.Sprintf("source_refs = [%q] in the repository's policy table would accept it, if that is how the project builds releases", ref)
	}
	d.Add(c)
}

// nameRules sets, on the attestation checks the repository's policy
// decides, the rule that decided them.
func nameRules(o ReleaseOptions, r *attest.Report) {
	if o.Rules == nil || r == nil {
		return
	}
	e := o.Rules
	rules := map[string]string{
		"signer-workflow":    e.SignerWorkflow.Rule("signer_workflow"),
		"runner-environment": e.Runner.Rule("runner"),
		"source-ref":         e.SourceRefs.Rule("source_refs"),
	}
	for i := range r.Bundles {
		for j := range r.Bundles[i].Decision.Checks {
			c := &r.Bundles[i].Decision.Checks[j]
			if rule, ok := rules[c.Name]; ok && c.Rule == "" {
				c.Rule = rule
			}
		}
	}
}
