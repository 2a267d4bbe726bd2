package pep610

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReceiptFile is the name of pipguard's receipt inside a .dist-info
// directory. It is listed in RECORD, so pip uninstall removes it with the
// distribution.
const ReceiptFile = "pipguard-receipt.json"

// ReceiptSchema versions the receipt. Version 2 is authenticated (MAC)
// and bound to the installed RECORD and the verified wheel; a version 1
// receipt is read as unauthenticated.
//
// Index receipts (From "index") added the keys file, index, url and
// provenance to version 2 without a new version: every one is omitted
// when empty, so a release or git receipt is the same bytes (and the same
// MAC) as before, and a pipguard that does not know the keys refuses an
// index receipt as not its own (its reader allows no unknown key) rather
// than reading it as something else.
const ReceiptSchema = "pipguard.receipt/v2"

// From values of a receipt.
const (
	FromRelease = "release"
	FromGit     = "git"
	// FromIndex is a distribution pip installed from a package index:
	// the file pipguard hashed (SHA256) and what its PEP 740 provenance
	// said (Provenance).
	FromIndex = "index"
)

// States of an index receipt's provenance.
const (
	// ProvenanceVerified: the file's PEP 740 provenance verified, in the
	// install that wrote the receipt, for the bytes pipguard hashed.
	ProvenanceVerified = "verified"
	// ProvenanceUnattested: the index published no provenance for the
	// file (or none pipguard can verify), and the policy let it in.
	ProvenanceUnattested = "unattested"
	// ProvenanceOff: index_attestations = "off"; nothing was asked.
	ProvenanceOff = "off"
)

// Receipt is what pipguard verified (or pinned) for one installed
// distribution, kept with it for pipguard audit.
type Receipt struct {
	Schema      string `json:"schema"`
	Requirement string `json:"requirement"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	// Repository is the repository URL (no credentials); RepositoryID is
	// GitHub's numeric id when known.
	Repository   string `json:"repository"`
	RepositoryID int64  `json:"repository_id,omitempty"`
	Tag          string `json:"tag,omitempty"`
	Commit       string `json:"commit"`
	// Asset and SHA256 are the verified release asset (empty for a git
	// install).
	Asset  string `json:"asset,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// From is "release", "git" or "index".
	From string `json:"from"`
	// Pinned: resolved and pinned, never verified (policy verify = "pin").
	Pinned       bool          `json:"pinned,omitempty"`
	Attestations []Attestation `json:"attestations,omitempty"`
	// PolicySHA256 is the sha256 of the effective policy's JSON.
	PolicySHA256 string `json:"policy_sha256"`
	Pipguard     string `json:"pipguard"`
	InstalledAt  string `json:"installed_at"`
	// WheelSHA256 is the sha256 of the wheel pip installed (the verified
	// asset, or the wheel pipguard built from the verified source).
	WheelSHA256 string `json:"wheel_sha256,omitempty"`
	// Built says the wheel was built by pipguard from the verified
	// source; BuildRequirements are the locked build requirements
	// (name==version sha256:HEX).
	Built             bool     `json:"built,omitempty"`
	BuildRequirements []string `json:"build_requirements,omitempty"`
	// RecordSHA256 is the sha256 of the distribution's RECORD as pip
	// wrote it (without the receipt's own row): a file added, removed or
	// rehashed in RECORD since breaks the receipt.
	RecordSHA256 string `json:"record_sha256"`
	// File, Index and URL are an index install's file name, the index
	// whose page listed it (its simple URL, without credentials; "" when
	// none was asked) and where pip's resolution found the file (without
	// credentials). SHA256 is the file's sha256: the bytes pipguard
	// hashed and pip installed.
	File  string `json:"file,omitempty"`
	Index string `json:"index,omitempty"`
	URL   string `json:"url,omitempty"`
	// Provenance is an index install's PEP 740 provenance as the install
	// found it.
	Provenance *IndexProvenance `json:"provenance,omitempty"`
	// TrustedRoots are the Sigstore trusted root files that replaced the
	// TUF roots in the install that wrote the receipt (--trusted-root, or
	// $PIPGUARD_TRUSTED_ROOT: FromEnv); none when the roots came from TUF.
	// Omitted when empty, like the index keys, so receipts of installs
	// that trusted TUF are the bytes they were.
	TrustedRoots []TrustedRoot `json:"trusted_roots,omitempty"`
	// MAC is HMAC-SHA256, under the environment's receipt key, of the
	// receipt with MAC empty: a receipt a wheel ships (or anyone without
	// the key writes) never passes for pipguard's.
	MAC string `json:"mac"`
}

// TrustedRoot is a trusted root file an install verified against: its
// path, the sha256 of its bytes, and whether only $PIPGUARD_TRUSTED_ROOT
// named it.
type TrustedRoot struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	FromEnv bool   `json:"from_env,omitempty"`
}

// Attestation is one verified attestation's predicate and signer.
type Attestation struct {
	PredicateType string `json:"predicate_type"`
	Signer        string `json:"signer"`
	SourceRef     string `json:"source_ref,omitempty"`
	SourceDigest  string `json:"source_digest,omitempty"`
}

// IndexProvenance is what an install found of an index file's PEP 740
// provenance.
type IndexProvenance struct {
	// State is ProvenanceVerified, ProvenanceUnattested or ProvenanceOff.
	State string `json:"state"`
	// Publisher is the identity the verified attestation's signing
	// certificate names (never the index's own claim); only when
	// verified.
	Publisher *Publisher `json:"publisher,omitempty"`
	// LogIndex is the transparency log index of the verified
	// attestation's entry; only when verified.
	LogIndex *int64 `json:"log_index,omitempty"`
	// Source is where the provenance came from (credentials masked).
	Source string `json:"source,omitempty"`
	// Cached says the verification was pipguard's own, of the same bytes
	// for the same expected publisher, read from its authenticated cache.
	Cached bool `json:"cached,omitempty"`
	// Rule is the policy rule that decided; Why says why a file is
	// unattested.
	Rule string `json:"rule,omitempty"`
	Why  string `json:"why,omitempty"`
}

// Publisher is a PEP 740 Trusted Publisher identity as a verified
// certificate names it: Kind "GitHub" (Repository OWNER/REPO, Workflow
// FILE.yml), "GitLab" (Repository, WorkflowFilepath) or "Google" (Email);
// Kind "" for an identity that is not a Trusted Publisher (Issuer and SAN
// say who).
type Publisher struct {
	Kind             string `json:"kind"`
	Repository       string `json:"repository,omitempty"`
	Workflow         string `json:"workflow,omitempty"`
	WorkflowFilepath string `json:"workflow_filepath,omitempty"`
	Email            string `json:"email,omitempty"`
	Issuer           string `json:"issuer,omitempty"`
	SAN              string `json:"san,omitempty"`
	Ref              string `json:"ref,omitempty"`
	Digest           string `json:"digest,omitempty"`
}

// String is the identity as pipguard verify --publisher takes it.
func (p Publisher) String() string {
	switch p.Kind {
	case "GitHub":
		return "GitHub:" + p.Repository + "/" + p.Workflow
	case "GitLab":
		return "GitLab:" + p.Repository + "//" + p.WorkflowFilepath
	case "Google":
		return "Google:" + p.Email
	case "":
		return "(no Trusted Publisher: " + p.SAN + " from " + p.Issuer + ")"
	}
	return p.Kind + ":" + p.Repository
}

// MaxReceipt bounds a receipt.
const MaxReceipt = 1 << 20

// WriteReceipt binds r to the distribution's RECORD as it is now,
// authenticates it with key (see LoadReceiptKey), writes it into the
// .dist-info and lists it in RECORD with its hash and size, as pip lists
// the files it installs.
func (d Dist) WriteReceipt(r Receipt, key []byte) error {
	if len(key) < MinReceiptKey {
		return errors.New("writing a receipt needs the environment's receipt key")
	}
	rec, err := d.recordWithoutReceipt()
	if err != nil {
		return err
	}
	r.Schema = ReceiptSchema
	sum := sha256.Sum256(rec)
	r.RecordSHA256 = hex.EncodeToString(sum[:])
	r.MAC = ""
	r.MAC = receiptMAC(r, key)
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	path := filepath.Join(d.Dir, ReceiptFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	line := receiptRow(filepath.Base(d.Dir), data) + "\n"
	f, err := os.OpenFile(filepath.Join(d.Dir, "RECORD"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrNoReceipt means the distribution has no pipguard receipt.
var ErrNoReceipt = errors.New("no pipguard receipt")

// ReceiptError is a receipt that pipguard cannot trust: not authenticated
// under the environment's key, not pipguard's, or not bound to what is
// installed now.
type ReceiptError struct {
	Dist   string
	Reason string
	// Unauthenticated: the MAC is missing or wrong, or there is no key.
	Unauthenticated bool
}

func (e *ReceiptError) Error() string { return ReceiptFile + " of " + e.Dist + ": " + e.Reason }

// Receipt reads the distribution's receipt, strictly, and checks that it
// is authenticated under key and bound to the installed RECORD. Without a
// key (nil) it is read but reported as unauthenticated.
func (d Dist) Receipt(key []byte) (*Receipt, error) {
	f, err := os.Open(filepath.Join(d.Dir, ReceiptFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoReceipt
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxReceipt+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReceipt {
		return nil, fmt.Errorf("%s is larger than %d KiB", ReceiptFile, MaxReceipt>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Receipt
	if err := dec.Decode(&r); err != nil {
		var probe struct {
			Schema string `json:"schema"`
		}
		if json.Unmarshal(data, &probe) == nil && probe.Schema != ReceiptSchema {
			return nil, &ReceiptError{Dist: d.Name, Unauthenticated: true, Reason: fmt.Sprintf("schema %q is not %q: it is not authenticated (written by an older pipguard, or not by pipguard)", probe.Schema, ReceiptSchema)}
		}
		return nil, fmt.Errorf("%s: %v", ReceiptFile, err)
	}
	if r.Schema != ReceiptSchema {
		return nil, &ReceiptError{Dist: d.Name, Unauthenticated: true, Reason: fmt.Sprintf("schema %q, expected %q", r.Schema, ReceiptSchema)}
	}
	if len(key) == 0 {
		return &r, &ReceiptError{Dist: d.Name, Unauthenticated: true, Reason: "the environment has no receipt key (" + ReceiptKeyFile + " in its prefix), so the receipt cannot be authenticated"}
	}
	if r.MAC == "" || !hmac.Equal([]byte(r.MAC), []byte(receiptMAC(r, key))) {
		return nil, &ReceiptError{Dist: d.Name, Unauthenticated: true, Reason: "its MAC does not verify under the environment's receipt key: pipguard did not write it (a wheel may ship one), or it was changed since"}
	}
	rec, err := d.recordWithoutReceipt()
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(rec); hex.EncodeToString(sum[:]) != r.RecordSHA256 {
		return nil, &ReceiptError{Dist: d.Name, Reason: fmt.Sprintf("RECORD changed since pipguard installed it (expected sha256:%s, got sha256:%s)", r.RecordSHA256, hex.EncodeToString(sum[:]))}
	}
	if !strings.EqualFold(Normalize(r.Name), Normalize(d.Name)) {
		return nil, fmt.Errorf("%s does not describe %s (name %q, from %q, tag %q)", ReceiptFile, d.Name, r.Name, r.From, r.Tag)
	}
	if r.From == FromIndex {
		if why := r.indexProblem(); why != "" {
			return nil, fmt.Errorf("%s does not describe an index install of %s: %s", ReceiptFile, d.Name, why)
		}
	} else if r.Commit == "" || (r.From == FromRelease) == (r.SHA256 == "") || !r.Pinned && r.Tag == "" || r.Provenance != nil || r.File != "" || r.Index != "" {
		return nil, fmt.Errorf("%s does not describe %s (name %q, from %q, tag %q)", ReceiptFile, d.Name, r.Name, r.From, r.Tag)
	}
	if err := d.receiptListedByPipguard(data); err != nil {
		return nil, err
	}
	return &r, nil
}

// indexProblem says what makes r, an index receipt, not one pipguard
// writes ("" when nothing does): the file and its sha256, a known state,
// and a publisher and log index exactly when verified.
func (r Receipt) indexProblem() string {
	p := r.Provenance
	switch {
	case len(r.SHA256) != 64 || strings.Trim(strings.ToLower(r.SHA256), "0123456789abcdef") != "":
		return fmt.Sprintf("sha256 %q is not a sha256 digest", r.SHA256)
	case r.File == "":
		return "it names no file"
	case r.Commit != "" || r.Tag != "" || r.Repository != "" || r.Pinned || r.Built || len(r.Attestations) > 0:
		return "it records a repository, commit or tag, as only a release or git install does"
	case p == nil:
		return "it records no provenance state"
	}
	switch p.State {
	case ProvenanceVerified:
		if p.Publisher == nil || p.LogIndex == nil {
			return "verified provenance without its publisher or log index"
		}
	case ProvenanceUnattested, ProvenanceOff:
		if p.Publisher != nil || p.LogIndex != nil {
			return "a publisher or log index for provenance that did not verify"
		}
	default:
		return fmt.Sprintf("provenance state %q is not verified, unattested or off", p.State)
	}
	return ""
}

// receiptMAC authenticates r (with r.MAC as it is; callers clear it).
func receiptMAC(r Receipt, key []byte) string {
	r.MAC = ""
	data, _ := json.Marshal(r)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pipguard-receipt-v2\x00"))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// recordWithoutReceipt is RECORD without pipguard's receipt row: RECORD as
// pip wrote it.
func (d Dist) recordWithoutReceipt() ([]byte, error) {
	f, err := os.Open(filepath.Join(d.Dir, "RECORD"))
	if err != nil {
		return nil, fmt.Errorf("%s: RECORD: %v", d.Name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(d.Dir) + "/" + ReceiptFile + ","
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(prefix)) {
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), nil
}

// receiptRow is the RECORD row pipguard writes for its receipt, hashed
// with sha512. The row proves nothing by itself: pip keeps a wheel's own
// RECORD row (hash and algorithm) for every file it installs unchanged, so
// a wheel can ship a receipt with a row just like this one. What keeps a
// receipt a wheel ships from passing for pipguard's is its MAC under the
// environment's receipt key (and pipguard's plan, which refuses a wheel
// that ships a pipguard-* file in its .dist-info).
func receiptRow(distInfo string, data []byte) string {
	sum := sha512.Sum512(data)
	return fmt.Sprintf("%s/%s,sha512=%s,%d", distInfo, ReceiptFile, base64.RawURLEncoding.EncodeToString(sum[:]), len(data))
}

// receiptListedByPipguard checks that RECORD lists the receipt only as
// pipguard does: one sha512 row matching its content. Any other row means
// pip installed a file of that name from the distribution itself (a sha512
// row can be the wheel's own too: only the receipt's MAC tells them apart).
func (d Dist) receiptListedByPipguard(data []byte) error {
	f, err := os.Open(filepath.Join(d.Dir, "RECORD"))
	if err != nil {
		return fmt.Errorf("%s: RECORD: %v", ReceiptFile, err)
	}
	defer f.Close()
	rec, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return err
	}
	base := filepath.Base(d.Dir)
	want := receiptRow(base, data)
	found := false
	for _, line := range strings.Split(string(rec), "\n") {
		line = strings.TrimRight(line, "\r")
		path, _, _ := strings.Cut(line, ",")
		if path != base+"/"+ReceiptFile {
			continue
		}
		if !strings.HasPrefix(line, path+",sha512=") {
			return fmt.Errorf("the distribution itself ships a file named %s: it is not pipguard's", ReceiptFile)
		}
		if line != want {
			return fmt.Errorf("%s does not match its RECORD row (changed after pipguard wrote it)", ReceiptFile)
		}
		found = true
	}
	if !found {
		return fmt.Errorf("%s is not listed in RECORD", ReceiptFile)
	}
	return nil
}
