package gitref

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/policy"
)

// Kind is what an accepted ref turned out to be.
type Kind string

const (
	// LightweightTag is a tag ref pointing straight at a commit.
	LightweightTag Kind = "lightweight tag"
	// AnnotatedTag is a tag ref pointing at a tag object, peeled to a commit.
	AnnotatedTag Kind = "annotated tag"
	// Commit is a full commit SHA given directly.
	Commit Kind = "commit"
)

// Resolution is what a requested ref resolved to.
type Resolution struct {
	// Requested is the ref as the user wrote it.
	Requested string `json:"requested"`
	// Kind is set when the ref was accepted.
	Kind Kind `json:"kind,omitempty"`
	// RefName is the full ref name (refs/tags/v1.2.3); empty for a commit.
	RefName string `json:"ref_name,omitempty"`
	// Commit is the full commit SHA the ref resolves to.
	Commit string `json:"commit,omitempty"`
	// TagObject is the annotated tag object's SHA.
	TagObject string `json:"tag_object,omitempty"`
	// TagsAtCommit are the tags (short names) whose commit is Commit.
	TagsAtCommit []string `json:"tags_at_commit"`
	// Decision holds every check made.
	Decision policy.Decision `json:"decision"`
}

// RefusedError says why a ref is refused. It is returned together with the
// Resolution, whose Decision has the failed check.
type RefusedError struct {
	Repo   string
	Ref    string
	Reason string
	Fix    string
	// Suggestions are tag names close to a ref that does not exist.
	Suggestions []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("ref %q of %s %s", e.Ref, e.Repo, e.Reason)
}

// Hint says what to do about the refusal.
func (e *RefusedError) Hint() string { return e.Fix }

var (
	fullSHA    = regexp.MustCompile(`^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)
	partialSHA = regexp.MustCompile(`^[0-9a-fA-F]{4,63}$`)
)

const (
	tagPrefix    = "refs/tags/"
	branchPrefix = "refs/heads/"
)

// Classify decides whether requested names an immutable revision of the
// repository (repo is only used in messages). It accepts a tag (short name
// or refs/tags/…) or a full commit SHA, and refuses anything pip would
// resolve to something that can move: a branch, a name that is both a
// branch and a tag, HEAD, other refs, a short SHA, no ref, or a missing ref.
//
// The order of checks follows pip (vcs/git.py, resolve_revision): pip looks
// for a branch of that name first, then a tag, and only then treats the
// string as a commit. So a branch wins over a tag of the same name, and a
// branch or tag named like a SHA wins over the commit.
func Classify(repo string, refs *Refs, requested string) (*Resolution, error) {
	res := &Resolution{Requested: requested, TagsAtCommit: []string{}}
	refuse := func(check, reason, fix string, suggestions ...string) (*Resolution, error) {
		res.Decision.Add(policy.Check{Name: check, Outcome: policy.Fail, Expected: "a tag or a full commit SHA", Actual: requested, Reason: reason, Hint: fix})
		return res, &RefusedError{Repo: repo, Ref: requested, Reason: reason, Fix: fix, Suggestions: suggestions}
	}
	// The hint's example tag, made only for a refusal (it looks at every
	// tag; resolving must not).
	example := func() string { return "e.g. @" + latestTag(refs) }

	if requested == "" {
		return refuse("ref-given", "is missing: pip would install the default branch, whatever it points at when pip runs",
			"pin a tag or a full commit, "+example())
	}
	res.Decision.Add(policy.Check{Name: "ref-given", Outcome: policy.Pass, Actual: requested})

	if requested == "HEAD" {
		return refuse("ref-immutable", "is the default branch's tip, which moves with every push", "pin a tag or a full commit, "+example())
	}
	if strings.HasPrefix(requested, "refs/") {
		switch {
		case strings.HasPrefix(requested, branchPrefix):
			return refuse("ref-immutable", "is a branch, which moves with every push", "pin a tag or a full commit, "+example())
		case strings.HasPrefix(requested, tagPrefix):
			if _, ok := refs.Hashes[requested]; !ok {
				return refuse("ref-exists", "does not exist on the remote", suggestHint(refs, strings.TrimPrefix(requested, tagPrefix)), closest(refs, strings.TrimPrefix(requested, tagPrefix))...)
			}
			return accept(res, refs, requested)
		default:
			return refuse("ref-immutable", "is not a tag: only tags and full commit SHAs are immutable enough to verify", "pin a tag or a full commit, "+example())
		}
	}

	branch := branchPrefix + requested
	tag := tagPrefix + requested
	_, isBranch := refs.Hashes[branch]
	_, isTag := refs.Hashes[tag]
	switch {
	case isBranch && isTag:
		return refuse("ref-unambiguous",
			"is both a branch and a tag: pip prefers the branch, so whoever can push a branch named "+requested+" decides what is installed",
			"pin the tag as @refs/tags/"+requested+", or the commit @"+commitOf(refs, tag))
	case isBranch:
		return refuse("ref-immutable", "is a branch, which moves with every push", "pin a tag or a full commit, "+example())
	case isTag:
		if fullSHA.MatchString(requested) && !strings.EqualFold(commitOf(refs, tag), requested) {
			return refuse("ref-unambiguous", "is a tag named like a commit SHA that points at another commit ("+commitOf(refs, tag)+")",
				"pin the commit you mean and delete the misleading tag")
		}
		return accept(res, refs, tag)
	}
	res.Decision.Add(policy.Check{Name: "ref-unambiguous", Outcome: policy.Pass, Actual: "neither branch nor tag"})

	if fullSHA.MatchString(requested) {
		res.Kind = Commit
		res.Commit = strings.ToLower(requested)
		res.TagsAtCommit = tagsAt(refs, res.Commit)
		res.Decision.Add(policy.Check{Name: "ref-immutable", Outcome: policy.Pass, Actual: "full commit SHA"})
		if advertised(refs, res.Commit) {
			res.Decision.Add(policy.Check{Name: "ref-exists", Outcome: policy.Pass, Actual: "advertised by the remote"})
		} else {
			// Servers advertise only the commits refs point at; any other
			// commit is fetched by SHA, if the server allows it.
			res.Decision.Add(policy.Check{Name: "ref-exists", Outcome: policy.Warn, Actual: "not advertised",
				Reason: "no branch or tag of the remote points at this commit, so its existence could not be confirmed before pip fetches it"})
		}
		return res, nil
	}
	if partialSHA.MatchString(requested) {
		fix := "write the full 40-character commit SHA"
		if m := expand(refs, requested); m != "" {
			fix += ", e.g. @" + m
		}
		return refuse("ref-immutable", "is a short commit SHA: a short SHA can become ambiguous and pip fetches it as a name", fix)
	}
	return refuse("ref-exists", "does not exist on the remote", suggestHint(refs, requested), closest(refs, requested)...)
}

func accept(res *Resolution, refs *Refs, tagRef string) (*Resolution, error) {
	res.RefName = tagRef
	if peeled, ok := refs.Peeled[tagRef]; ok {
		res.Kind = AnnotatedTag
		res.TagObject = refs.Hashes[tagRef]
		res.Commit = peeled
	} else {
		res.Kind = LightweightTag
		res.Commit = refs.Hashes[tagRef]
	}
	res.TagsAtCommit = tagsAt(refs, res.Commit)
	res.Decision.Add(policy.Check{Name: "ref-unambiguous", Outcome: policy.Pass, Actual: "tag only"})
	res.Decision.Add(policy.Check{Name: "ref-immutable", Outcome: policy.Pass, Actual: string(res.Kind)})
	return res, nil
}

// commitOf is the commit a ref points at, peeling annotated tags.
func commitOf(refs *Refs, name string) string {
	if p, ok := refs.Peeled[name]; ok {
		return p
	}
	return refs.Hashes[name]
}

func tagNames(refs *Refs) []string {
	var out []string
	for name := range refs.Hashes {
		if strings.HasPrefix(name, tagPrefix) {
			out = append(out, strings.TrimPrefix(name, tagPrefix))
		}
	}
	sort.Strings(out)
	return out
}

func tagsAt(refs *Refs, commit string) []string {
	out := []string{}
	for _, t := range tagNames(refs) {
		if strings.EqualFold(commitOf(refs, tagPrefix+t), commit) {
			out = append(out, t)
		}
	}
	return out
}

// expand returns the one advertised commit starting with prefix, if exactly
// one does.
func expand(refs *Refs, prefix string) string {
	prefix = strings.ToLower(prefix)
	found := map[string]bool{}
	for name := range refs.Hashes {
		if c := commitOf(refs, name); strings.HasPrefix(c, prefix) {
			found[c] = true
		}
	}
	if len(found) != 1 {
		return ""
	}
	for c := range found {
		return c
	}
	return ""
}

func latestTag(refs *Refs) string {
	// The highest release: a tag that is only a version (v1.2.3, 2.0),
	// never a pre-release (v2.0.0rc1, v2.0.0-beta) and never a name that
	// is also a branch (the example would be refused).
	var releases, others []string
	for _, t := range tagNames(refs) {
		if _, isBranch := refs.Hashes[branchPrefix+t]; isBranch {
			continue
		}
		if releaseTagRE.MatchString(t) {
			releases = append(releases, t)
		} else {
			others = append(others, t)
		}
	}
	tags := releases
	if len(tags) == 0 {
		tags = others
	}
	if len(tags) == 0 {
		return "v1.2.3"
	}
	// The highest in one pass, each name parsed once.
	best, bestN := tags[0], numbers(tags[0])
	for _, t := range tags[1:] {
		if n := numbers(t); numbersLess(bestN, n, best, t) {
			best, bestN = t, n
		}
	}
	return best
}

var releaseTagRE = regexp.MustCompile(`^[vV]?[0-9]+(\.[0-9]+)*$`)

// advertised says whether a ref of the remote points at commit.
func advertised(refs *Refs, commit string) bool {
	for name := range refs.Hashes {
		if strings.EqualFold(commitOf(refs, name), commit) {
			return true
		}
	}
	return false
}

// numbersLess orders tags a and b by their numeric parts na and nb
// (v1.10.0 after v1.9.0), falling back to string order.
func numbersLess(na, nb []int, a, b string) bool {
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

var numRE = regexp.MustCompile(`[0-9]+`)

func numbers(s string) []int {
	var out []int
	for _, m := range numRE.FindAllString(s, 8) {
		n := 0
		for _, c := range m {
			if n > 1e8 {
				break
			}
			n = n*10 + int(c-'0')
		}
		out = append(out, n)
	}
	return out
}

// closest returns up to five tag names nearest to name by edit distance.
func closest(refs *Refs, name string) []string {
	type cand struct {
		tag  string
		dist int
	}
	var cs []cand
	for _, t := range tagNames(refs) {
		cs = append(cs, cand{t, distance(strings.ToLower(name), strings.ToLower(t))})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].dist < cs[j].dist })
	var out []string
	for i := 0; i < len(cs) && i < 5; i++ {
		out = append(out, cs[i].tag)
	}
	return out
}

func suggestHint(refs *Refs, name string) string {
	c := closest(refs, name)
	if len(c) == 0 {
		return "the repository has no tags; ask its maintainers to tag releases"
	}
	return "closest tags: " + strings.Join(c, ", ")
}

// distance is the Levenshtein distance between a and b (bytes).
func distance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
