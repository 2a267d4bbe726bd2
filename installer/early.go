package installer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// RefuseByText refuses, before any network access, the git requirements
// whose ref alone decides the refusal, as pipguard check decides it
// (gitref.StaticShape): no ref (pip installs the default branch), HEAD or
// another ref outside refs/tags/, a branch by name (main, develop,
// feature/…, 1.x) and a short commit SHA. Listing the remote could only
// confirm these; without it, an unreachable GitHub turns them into
// "remote unavailable". A tag really named like a branch or a SHA is
// written refs/tags/NAME, which this leaves to the remote. Every such
// requirement is reported, each with its source (where) and a
// *gitref.RefusedError.
func RefuseByText(entries []reqfile.Entry) error {
	var errs []error
	for _, e := range entries {
		if e.Constraint || e.Req == nil || e.Req.Kind != requirement.KindVCS {
			continue
		}
		v := e.Req.VCS
		repo := displayRepo(v)
		refuse := func(reason, fix string) {
			errs = append(errs, fmt.Errorf("%s: %w", where(e), &gitref.RefusedError{Repo: repo, Ref: v.Ref, Reason: reason, Fix: fix}))
		}
		const pin = "pin a tag or a full commit, e.g. @v1.2.3"
		switch shape := gitref.StaticShape(v.Ref); {
		case shape == gitref.ShapeNone:
			refuse("is missing: pip would install the default branch, whatever it points at when pip runs", pin)
		case v.Ref == "HEAD":
			refuse("is the default branch's tip, which moves with every push", pin)
		case shape == gitref.ShapeBranch:
			fix := pin
			if !strings.HasPrefix(v.Ref, "refs/") {
				fix += "; if " + v.Ref + " really is a tag, write it @refs/tags/" + v.Ref
			}
			refuse("is a branch by its name, which moves with every push", fix)
		case shape == gitref.ShapeNotTag && strings.HasPrefix(v.Ref, "refs/"):
			refuse("is not a tag: only tags and full commit SHAs are immutable enough to verify", pin)
		case shape == gitref.ShapeShortSHA:
			refuse("is a short commit SHA: a short SHA can become ambiguous and pip fetches it as a name",
				"write the full 40-character commit SHA; if "+v.Ref+" really is a tag, write it @refs/tags/"+v.Ref)
		}
	}
	return errors.Join(errs...)
}
