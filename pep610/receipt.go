package pep610

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
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

// ReceiptSchema versions the receipt.
const ReceiptSchema = "pipguard.receipt/v1"

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
	// From is "release" or "git".
	From string `json:"from"`
	// Pinned: resolved and pinned, never verified (policy verify = "pin").
	Pinned       bool          `json:"pinned,omitempty"`
	Attestations []Attestation `json:"attestations,omitempty"`
	// PolicySHA256 is the sha256 of the effective policy's JSON.
	PolicySHA256 string `json:"policy_sha256"`
	Pipguard     string `json:"pipguard"`
	InstalledAt  string `json:"installed_at"`
}

// Attestation is one verified attestation's predicate and signer.
type Attestation struct {
	PredicateType string `json:"predicate_type"`
	Signer        string `json:"signer"`
	SourceRef     string `json:"source_ref,omitempty"`
	SourceDigest  string `json:"source_digest,omitempty"`
}

// MaxReceipt bounds a receipt.
const MaxReceipt = 1 << 20

// WriteReceipt writes r into the distribution's .dist-info and lists it in
// RECORD with its hash and size, as pip lists the files it installs.
func (d Dist) WriteReceipt(r Receipt) error {
	r.Schema = ReceiptSchema
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

// Receipt reads the distribution's receipt, strictly.
func (d Dist) Receipt() (*Receipt, error) {
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
		return nil, fmt.Errorf("%s: %v", ReceiptFile, err)
	}
	if r.Schema != ReceiptSchema {
		return nil, fmt.Errorf("%s: schema %q, expected %q", ReceiptFile, r.Schema, ReceiptSchema)
	}
	if r.Commit == "" || (r.From == "release") == (r.SHA256 == "") || !strings.EqualFold(Normalize(r.Name), Normalize(d.Name)) || !r.Pinned && r.Tag == "" {
		return nil, fmt.Errorf("%s does not describe %s (name %q, from %q, tag %q)", ReceiptFile, d.Name, r.Name, r.From, r.Tag)
	}
	if err := d.receiptListedByPipguard(data); err != nil {
		return nil, err
	}
	return &r, nil
}

// receiptRow is the RECORD row pipguard writes for its receipt. Its hash
// is sha512, which pip never writes (pip hashes what it installs with
// sha256): a receipt a wheel ships gets a sha256 row from pip, so it can
// never pass for pipguard's.
func receiptRow(distInfo string, data []byte) string {
	sum := sha512.Sum512(data)
	return fmt.Sprintf("%s/%s,sha512=%s,%d", distInfo, ReceiptFile, base64.RawURLEncoding.EncodeToString(sum[:]), len(data))
}

// receiptListedByPipguard checks that RECORD lists the receipt only as
// pipguard does: one sha512 row matching its content. A sha256 row means
// pip installed a file of that name from the distribution itself.
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
