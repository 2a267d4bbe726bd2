package installer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/provenance"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/policy"
)

// States of an index file's attestation.
const (
	// AttestVerified: its PEP 740 provenance verified, for the bytes
	// pipguard hashed, by the publisher its certificate names.
	AttestVerified = "verified"
	// AttestNone: its index publishes no provenance for it.
	AttestNone = "not attested"
	// AttestOff: index_attestations = "off".
	AttestOff = "not checked"
)

// IndexAttestation is what pipguard found of one index file's PEP 740
// provenance, and what the policy made of it.
type IndexAttestation struct {
	State string `json:"state"`
	// Publisher is the identity the signing certificate names (never the
	// index's own claim).
	Publisher *provenance.Publisher `json:"publisher,omitempty"`
	// LogIndex is the transparency log entry of the first attestation.
	LogIndex int64 `json:"log_index,omitempty"`
	// Source is where the provenance came from (credentials masked).
	Source string `json:"source,omitempty"`
	// Index is the index whose project page listed the file (its simple
	// URL, without credentials), when one was asked.
	Index string `json:"index,omitempty"`
	// Cached says the verification is pipguard's own from before, for the
	// same bytes and expected publisher, read from its authenticated
	// cache.
	Cached bool `json:"cached,omitempty"`
	// Rule is the policy rule that decided (index_attestations, or an
	// [[index]] table).
	Rule string `json:"rule"`
	// Why says why a file is not attested.
	Why string `json:"why,omitempty"`
}

// ProvenanceError is an index file whose provenance does not verify, or
// is not the publisher the policy pins. Nothing was installed.
type ProvenanceError struct {
	Reasons []string
}

func (e *ProvenanceError) Error() string {
	return "index provenance did not verify: " + strings.Join(e.Reasons, "; ")
}

// Hint says what to do.
func (e *ProvenanceError) Hint() string {
	return "nothing was installed; a file whose PEP 740 attestations do not match its bytes, its name or the publisher the policy names may not be what its project published: find out why before installing it (pipguard verify FILE --provenance PROV shows every check)"
}

// verifyIndexFiles checks the PEP 740 provenance of every index file of
// the lock, concurrently, after the fetch: against the bytes pipguard
// hashed (the lock's sha256), the file's name, and the publisher identity
// the policy names for its project. Provenance is looked up on the
// indexes pip's options name (pip's report says where each file is, not
// where its provenance is), or read from provDir (FILENAME.provenance)
// for an offline install. The index's HTTP client carries no GitHub token.
func verifyIndexFiles(ctx context.Context, cfg Config, o InstallOptions, lk *lock, indexURLs []string, provDir string) (warnings []string, err error) {
	pol := o.Rules
	var verifier *provenance.Verifier
	getVerifier := func() (*provenance.Verifier, error) {
		if verifier != nil {
			return verifier, nil
		}
		if o.Trust == nil {
			return nil, errors.New("no Sigstore trusted root to verify index provenance with")
		}
		m, err := o.Trust.Material(attest.PublicGood)
		if err != nil {
			return nil, fmt.Errorf("index provenance is signed by Sigstore's public-good instance: %w", err)
		}
		v, err := provenance.NewVerifier(m)
		if err != nil {
			return nil, err
		}
		verifier = v
		return v, nil
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var fetchers []indexFetcher
	for _, u := range indexURLs {
		f, err := provenance.NewFetcher(client, u)
		if err != nil {
			continue // not an index provenance can come from (a file: URL)
		}
		fetchers = append(fetchers, indexFetcher{f, IndexName(u)})
	}

	type outcome struct {
		att    *IndexAttestation
		refuse string // exit 3: required but not attested
		fail   string // exit 4: did not verify
	}
	results := make([]outcome, len(lk.items))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range lk.items {
		it := &lk.items[i]
		if it.Source != SourceIndex || it.file == "" {
			continue
		}
		eff := pol.ForProject(it.Name)
		if len(it.identities) > 0 {
			// A lock file records who published the file: its provenance
			// must verify for that identity, whatever the index says now.
			p := it.identities[0]
			eff.Publisher, eff.Require, eff.Rule = &p, true, "the lock's attestation-identities"
		}
		if eff.Mode.V == "off" && !eff.Require && eff.Publisher == nil {
			results[i] = outcome{att: &IndexAttestation{State: AttestOff, Rule: eff.Rule}}
			continue
		}
		wg.Add(1)
		go func(i int, it *Locked, eff policy.IndexEffective) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			filename := filepath.Base(it.file)
			att := &IndexAttestation{Rule: eff.Rule}
			// A file verified before, for the same bytes and the same
			// expected publisher, is not asked again (the cache's entries
			// are authenticated: see package cache).
			key := []string{filename, it.SHA256, publisherKey(eff.Publisher)}
			if cfg.Cache != nil {
				var cached IndexAttestation
				if cfg.Cache.Get("pep740", key, &cached) && cached.State == AttestVerified {
					cached.Rule, cached.Cached = eff.Rule, true
					results[i] = outcome{att: &cached}
					return
				}
			}
			fs := fetchers
			if it.index != "" {
				if f, err := provenance.NewFetcher(client, it.index); err == nil {
					fs = []indexFetcher{{f, IndexName(it.index)}}
				}
			}
			var prov *provenance.Provenance
			var source, index, why string
			missing := false
			if provDir != "" {
				prov, source, why, missing = provenanceFromDir(provDir, filename, it.index != "")
			} else {
				prov, source, index, why = findProvenance(ctx, fs, it.Name, it.Version, filename)
			}
			att.Source, att.Index = redact.String(source), index
			if prov == nil {
				att.State, att.Why = AttestNone, why
				out := outcome{att: att}
				if missing {
					// A question DIR holds no answer for: refused, as a
					// missing release record is.
					out.refuse = fmt.Sprintf("%s %s (%s): %s (fetch again: pipguard fetch pylock.toml DIR)", it.Name, it.Version, filename, why)
				} else if eff.Require {
					out.refuse = fmt.Sprintf("%s %s (%s) has no provenance (%s), and %s requires it", it.Name, it.Version, filename, why, eff.Rule)
				}
				results[i] = out
				return
			}
			mu.Lock()
			v, err := getVerifier()
			mu.Unlock()
			if err != nil {
				results[i] = outcome{att: att, fail: fmt.Sprintf("%s: %v", filename, err)}
				return
			}
			want := provenance.Expected{Filename: filename, SHA256: it.SHA256}
			if eff.Publisher != nil {
				p := provenance.Publisher{Kind: eff.Publisher.Kind, Repository: eff.Publisher.Repository, Workflow: eff.Publisher.Workflow,
					WorkflowFilepath: eff.Publisher.WorkflowFilepath, Email: eff.Publisher.Email, Environment: eff.Publisher.Environment}
				want.Publisher = &p
			}
			res, err := v.VerifyProvenance(prov, want)
			if err != nil {
				if errors.Is(err, provenance.ErrUnverifiable) && !eff.Require {
					att.State, att.Why = AttestNone, "its provenance cannot be verified: "+err.Error()
					results[i] = outcome{att: att}
					return
				}
				results[i] = outcome{att: att, fail: fmt.Sprintf("%s (%s): %v", filename, eff.Rule, err)}
				return
			}
			att.State, att.Publisher = AttestVerified, res.Publisher
			if len(res.Attestations) > 0 {
				att.LogIndex = res.Attestations[0].LogIndex
			}
			if res.Publisher == nil || res.Publisher.Kind == "" {
				// Signed by a person, not a Trusted Publisher: verified
				// bytes, but no publisher identity to record.
				att.Why = "signed by an identity that is not a Trusted Publisher"
			}
			if cfg.Cache != nil && provDir == "" {
				cfg.Cache.Put("pep740", key, att)
			}
			results[i] = outcome{att: att}
		}(i, it, eff)
	}
	wg.Wait()
	var refuse, fail []string
	unattested := 0
	for i, r := range results {
		if r.att == nil {
			continue
		}
		lk.items[i].Attestation = r.att
		if r.refuse != "" {
			refuse = append(refuse, r.refuse)
		}
		if r.fail != "" {
			fail = append(fail, r.fail)
		}
		if r.att.State == AttestNone {
			unattested++
		}
	}
	if len(fail) > 0 {
		sort.Strings(fail)
		return nil, &ProvenanceError{Reasons: fail}
	}
	if len(refuse) > 0 {
		sort.Strings(refuse)
		return nil, &RefusedError{Reasons: refuse, Fix: "install those projects from an index that publishes their PEP 740 provenance (PyPI does for Trusted Publishing uploads), or relax index_attestations or the [[index]] table that requires it"}
	}
	if unattested > 0 && provDir != "" {
		warnings = append(warnings, fmt.Sprintf("%d index file(s) installed unattested: %s holds no PEP 740 provenance for them (not checked offline; index_attestations = \"require\" refuses such files)", unattested, provDir))
	} else if unattested > 0 {
		warnings = append(warnings, fmt.Sprintf("%d index file(s) installed unattested: their index publishes no PEP 740 provenance for them (index_attestations = \"require\" refuses such files)", unattested))
	}
	return warnings, nil
}

// publisherKey names an expected publisher in a cache key ("" for any).
func publisherKey(p *policy.IndexPublisher) string {
	if p == nil {
		return ""
	}
	return strings.Join([]string{p.Kind, strings.ToLower(p.Repository), p.Workflow, p.WorkflowFilepath, p.Email, p.Environment}, "\x00")
}

// indexFetcher is an index's provenance fetcher and the index's name as
// receipts record it (IndexName).
type indexFetcher struct {
	*provenance.Fetcher
	name string
}

// IndexName is an index URL as a receipt records it: without user
// information, query or fragment (where credentials go), never printed
// with a secret.
func IndexName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redact.String(raw)
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// provenanceFromDir is a file's provenance read from a fetch directory
// (dirProvenance), parsed; missing as dirProvenance says.
func provenanceFromDir(dir, filename string, hasIndex bool) (prov *provenance.Provenance, source, why string, missing bool) {
	source = filepath.Join(dir, filename+".provenance")
	data, why, missing := dirProvenance(dir, filename, hasIndex)
	if data == nil {
		return nil, source, why, missing
	}
	prov, err := provenance.ParseDocument(data)
	if err != nil {
		return nil, source, err.Error(), false
	}
	if prov.Count() == 0 {
		return nil, source, "it lists no attestation", false
	}
	return prov, source, "", false
}

// findProvenance finds a file's provenance on the first index whose
// project page lists the file (index names it). It returns nil and why when there
// is none.
func findProvenance(ctx context.Context, fetchers []indexFetcher, project, version, filename string) (prov *provenance.Provenance, source, index, why string) {
	why = "its index publishes none"
	if len(fetchers) == 0 {
		why = "it came from no index (--no-index, or a find-links directory)"
	}
	for _, f := range fetchers {
		links, err := f.Links(ctx, project)
		if err != nil {
			why = err.Error()
			continue
		}
		if _, ok := links[filename]; !ok {
			continue
		}
		got, err := f.Fetch(ctx, project, version, filename)
		switch {
		case errors.Is(err, provenance.ErrNoProvenance):
			return nil, "", f.name, "its index publishes none"
		case errors.Is(err, provenance.ErrDisabled):
			return nil, "", f.name, "its index's Integrity API is disabled (403)"
		case err != nil:
			return nil, "", f.name, err.Error()
		}
		if got.Provenance == nil || got.Provenance.Count() == 0 {
			return nil, got.URL, f.name, "its provenance lists no attestation"
		}
		return got.Provenance, got.URL, f.name, ""
	}
	return nil, "", "", why
}
