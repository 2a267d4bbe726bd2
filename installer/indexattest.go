package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	// Cached says the provenance document was read from pipguard's
	// authenticated cache (what this index served an earlier run for the
	// same file name and bytes), not asked again; it was verified again in
	// this run, against this run's trusted root and policy, as a fetched
	// one is. The cache keeps the index's answer, never pipguard's
	// verdict.
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
	// trustID names the trusted root this run verifies with (see
	// provenanceVerdictKey); "" when it cannot be named: no verdict is then
	// remembered or reused.
	var trustID string
	var mu sync.Mutex // guards verifier and trustID
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
		if id, ok := o.Trust.Identity(attest.PublicGood); ok {
			trustID = id
		}
		verifier = v
		return v, nil
	}
	// verify verifies prov for want, or takes the verdict this pipguard
	// reached before for exactly these inputs (the document's bytes, the
	// file, the expected publisher, this trusted root: see
	// provenanceVerdictKey). Only a verification that succeeded is
	// remembered.
	verify := func(prov func() (*provenance.Provenance, error), raw []byte, want provenance.Expected, pub *policy.IndexPublisher) (*provenance.Result, error) {
		mu.Lock()
		v, err := getVerifier()
		id := trustID
		mu.Unlock()
		if err != nil {
			return nil, err
		}
		var key []string
		if cfg.Cache != nil && id != "" && raw != nil {
			key = provenanceVerdictKey(id, o.Version, want.Filename, want.SHA256, pub, raw)
			var memo provenanceVerdict
			if cfg.Cache.Get(provenanceVerdictKind, key, &memo) && memo.Key == strings.Join(key, "\x00") {
				return &provenance.Result{Filename: want.Filename, SHA256: want.SHA256, Publisher: memo.Publisher,
					Attestations: []provenance.AttestationResult{{LogIndex: memo.LogIndex}}}, nil
			}
		}
		p, err := prov()
		if err != nil {
			return nil, err
		}
		res, err := v.VerifyProvenance(p, want)
		if err == nil && key != nil {
			memo := provenanceVerdict{Key: strings.Join(key, "\x00"), Publisher: res.Publisher}
			if len(res.Attestations) > 0 {
				memo.LogIndex = res.Attestations[0].LogIndex
			}
			cfg.Cache.Put(provenanceVerdictKind, key, memo)
		}
		return res, err
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
		if it.built != "" {
			// Built here from its index sdist (allow_source_builds): the
			// wheel has no provenance anywhere, and the sdist's says nothing
			// about what its build code wrote. Never verified; a policy
			// that requires provenance refused the build before it ran
			// (buildDirect).
			results[i] = outcome{att: &IndexAttestation{State: AttestNone, Rule: eff.Rule, Why: "built here from its sdist (allow_source_builds): a wheel built here has no provenance"}}
			continue
		}
		wg.Add(1)
		go func(i int, it *Locked, eff policy.IndexEffective) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			filename := filepath.Base(it.file)
			att := &IndexAttestation{Rule: eff.Rule}
			want := provenance.Expected{Filename: filename, SHA256: it.SHA256}
			if eff.Publisher != nil {
				p := provenance.Publisher{Kind: eff.Publisher.Kind, Repository: eff.Publisher.Repository, Workflow: eff.Publisher.Workflow,
					WorkflowFilepath: eff.Publisher.WorkflowFilepath, Email: eff.Publisher.Email, Environment: eff.Publisher.Environment}
				want.Publisher = &p
			}
			fs := fetchers
			if it.index != "" {
				if f, err := provenance.NewFetcher(client, it.index); err == nil {
					fs = []indexFetcher{{f, IndexName(it.index)}}
				}
			}
			// What an index served before for these bytes is not asked
			// again, but it is verified again, here, as a fetched document
			// is: against this run's trusted root and this run's expected
			// publisher (the cache holds the index's answers, never
			// pipguard's verdicts; its entries are authenticated: see
			// package cache). The entry is the index's, so the receipt
			// names an index of this run. A cached document that does not
			// verify now decides nothing: the index is asked, as on a cold
			// run, and its answer decides.
			if cfg.Cache != nil && provDir == "" {
				for _, f := range fs {
					var e provenanceEntry
					if !cfg.Cache.Get(provenanceKind, provenanceKey(f.name, filename, it.SHA256), &e) || e.Index != f.name {
						continue
					}
					// Parsed only when no verdict is remembered for it.
					parse := func() (*provenance.Provenance, error) {
						prov, err := provenance.ParseProvenance(e.Document)
						if err == nil && prov.Count() == 0 {
							err = errors.New("it lists no attestation")
						}
						return prov, err
					}
					if res, err := verify(parse, e.Document, want, eff.Publisher); err == nil {
						hit := &IndexAttestation{Rule: eff.Rule, Source: e.Source, Index: e.Index, Cached: true}
						verified(hit, res)
						results[i] = outcome{att: hit}
						return
					}
					break
				}
			}
			var prov *provenance.Provenance
			var raw []byte
			var source, index, why string
			missing := false
			if provDir != "" {
				prov, source, why, missing = provenanceFromDir(provDir, filename, it.index != "")
			} else {
				prov, raw, source, index, why = findProvenance(ctx, fs, it.Name, it.Version, filename)
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
			_, err := getVerifier()
			mu.Unlock()
			if err != nil {
				results[i] = outcome{att: att, fail: fmt.Sprintf("%s: %v", filename, err)}
				return
			}
			res, err := verify(func() (*provenance.Provenance, error) { return prov, nil }, raw, want, eff.Publisher)
			if err != nil {
				if errors.Is(err, provenance.ErrUnverifiable) && !eff.Require {
					att.State, att.Why = AttestNone, "its provenance cannot be verified: "+err.Error()
					results[i] = outcome{att: att}
					return
				}
				results[i] = outcome{att: att, fail: fmt.Sprintf("%s (%s): %v", filename, eff.Rule, err)}
				return
			}
			verified(att, res)
			if cfg.Cache != nil && provDir == "" && raw != nil && index != "" {
				// The document as the index served it, once it verified:
				// a failure is never remembered.
				cfg.Cache.Put(provenanceKind, provenanceKey(index, filename, it.SHA256), provenanceEntry{Index: index, Source: att.Source, Document: raw})
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

// verified records in att what a provenance that verified says.
func verified(att *IndexAttestation, res *provenance.Result) {
	att.State, att.Publisher = AttestVerified, res.Publisher
	if len(res.Attestations) > 0 {
		att.LogIndex = res.Attestations[0].LogIndex
	}
	if res.Publisher == nil || res.Publisher.Kind == "" {
		// Signed by a person, not a Trusted Publisher: verified
		// bytes, but no publisher identity to record.
		att.Why = "signed by an identity that is not a Trusted Publisher"
	}
}

// provenanceKind is the cache's kind for index provenance documents. (The
// kind "pep740" held verdicts, which no pipguard reads any more.)
const provenanceKind = "pep740-document"

// provenanceKey is the cache key of the provenance document an index
// served for a file: the index (IndexName), the file's name and its
// sha256. Neither the trusted root nor the policy is in it: what is
// cached is the index's answer, which every run verifies again.
func provenanceKey(index, filename, sha256 string) []string {
	return []string{index, filename, strings.ToLower(sha256)}
}

// provenanceVerdictKind is the cache's kind for verdicts on provenance
// documents, remembered only so that a warm run need not repeat sigstore-go's
// signature checks (about 1 ms of CPU a file; P8).
const provenanceVerdictKind = "pep740-verdict"

// provenanceVerdictKey names every input of one verification, so that a
// verdict is reused only where verifying again would reach it: the
// trusted root's identity (attest.Trust.Identity: "tuf", "files" or
// "given", and the sha256 of the material; a verdict reached under
// --trusted-root or $PIPGUARD_TRUSTED_ROOT is never one a TUF run finds),
// pipguard's version (the verifier's code), the file's name and sha256,
// the publisher the policy expects, and the sha256 of the provenance
// document's bytes.
func provenanceVerdictKey(trustID, version, filename, sha string, pub *policy.IndexPublisher, doc []byte) []string {
	sum := sha256.Sum256(doc)
	return []string{"v1", trustID, version, filename, strings.ToLower(sha), publisherKey(pub), hex.EncodeToString(sum[:])}
}

// publisherKey names an expected publisher in a cache key ("" for any).
func publisherKey(p *policy.IndexPublisher) string {
	if p == nil {
		return ""
	}
	return strings.Join([]string{p.Kind, strings.ToLower(p.Repository), p.Workflow, p.WorkflowFilepath, p.Email, p.Environment}, "\x00")
}

// provenanceVerdict is a remembered verification: its whole key (checked
// again when read), and what the provenance said.
type provenanceVerdict struct {
	Key       string                `json:"key"`
	Publisher *provenance.Publisher `json:"publisher,omitempty"`
	LogIndex  int64                 `json:"log_index"`
}

// provenanceEntry is a cached provenance document: the index whose page
// listed the file (IndexName), where the document came from (credentials
// masked), and its bytes as served.
type provenanceEntry struct {
	Index    string `json:"index"`
	Source   string `json:"source"`
	Document []byte `json:"document"`
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
func findProvenance(ctx context.Context, fetchers []indexFetcher, project, version, filename string) (prov *provenance.Provenance, raw []byte, source, index, why string) {
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
			return nil, nil, "", f.name, "its index publishes none"
		case errors.Is(err, provenance.ErrDisabled):
			return nil, nil, "", f.name, "its index's Integrity API is disabled (403)"
		case err != nil:
			return nil, nil, "", f.name, err.Error()
		}
		if got.Provenance == nil || got.Provenance.Count() == 0 {
			return nil, nil, got.URL, f.name, "its provenance lists no attestation"
		}
		return got.Provenance, got.Raw, got.URL, f.name, ""
	}
	return nil, nil, "", "", why
}
