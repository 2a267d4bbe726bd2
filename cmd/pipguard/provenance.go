package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/provenance"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

// provenanceFlags are verify's flags for PEP 740 provenance.
func provenanceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "provenance", Usage: "PEP 740 provenance (or attestation) `FILE` of an index file (repeatable): verify it instead of GitHub attestations"},
		&cli.StringSliceFlag{Name: "publisher", Usage: "with --provenance: the Trusted Publisher that must have attested, `KIND:IDENTITY` (GitHub:OWNER/REPO/WORKFLOW.yml, GitLab:NS/PROJECT//CI_FILE, Google:EMAIL; repeatable: any of them)"},
		&cli.StringFlag{Name: "filename", Usage: "with --provenance and sha256:HEX: the distribution's file `NAME`"},
	}
}

type provenanceOutput struct {
	Schema   string               `json:"schema"`
	Verified bool                 `json:"verified"`
	Filename string               `json:"filename"`
	SHA256   string               `json:"sha256"`
	Results  []*provenance.Result `json:"results"`
}

// verifyProvenance is verify ARTIFACT|sha256:HEX --provenance FILE.
func (e *env) verifyProvenance(cCtx *cli.Context) error {
	if cCtx.NArg() != 1 {
		return usagef("verify --provenance takes one ARTIFACT or sha256:HEX, got %d arguments", cCtx.NArg())
	}
	arg := cCtx.Args().First()
	var a *attest.Artifact
	var err error
	name := cCtx.String("filename")
	if strings.HasPrefix(arg, "sha256:") {
		a, err = attest.ArtifactFromDigest(arg)
		if err == nil && name == "" {
			return usagef("verify sha256:HEX --provenance needs --filename NAME: the attestation names the file it is for")
		}
	} else {
		a, err = attest.ArtifactFromFile(arg)
		if name == "" {
			name = filepath.Base(arg)
		}
	}
	if err != nil {
		return usagef("%v", err)
	}
	sha, _ := a.Digest("sha256")
	var pubs []*provenance.Publisher
	for _, s := range cCtx.StringSlice("publisher") {
		p, err := provenance.ParsePublisher(s)
		if err != nil {
			return usagef("--publisher: %v", err)
		}
		pubs = append(pubs, &p)
	}
	if len(pubs) == 0 {
		pubs = []*provenance.Publisher{nil}
	}
	var docs []*provenance.Provenance
	for _, f := range cCtx.StringSlice("provenance") {
		data, err := readLimited(f, provenance.MaxProvenance)
		if err != nil {
			return usagef("--provenance %s: %v", f, err)
		}
		p, err := provenance.ParseDocument(data)
		if err != nil {
			return usagef("--provenance %s: %v", f, err)
		}
		docs = append(docs, p)
	}
	trust, err := e.trust(cCtx)
	if err != nil {
		return err
	}
	material, err := trust.Material(attest.PublicGood)
	if err != nil {
		return err
	}
	v, err := provenance.NewVerifier(material)
	if err != nil {
		return err
	}
	// Each provenance file must verify, for one of the publishers.
	out := provenanceOutput{Schema: "pipguard.verify-provenance/v1", Verified: true, Filename: name, SHA256: sha}
	var verr error
	for _, doc := range docs {
		var res *provenance.Result
		var err error
		for _, pub := range pubs {
			if res, err = v.VerifyProvenance(doc, provenance.Expected{Filename: name, SHA256: sha, Publisher: pub}); err == nil {
				break
			}
		}
		out.Results = append(out.Results, res)
		if err != nil {
			out.Verified = false
			if verr == nil {
				verr = err
			}
		}
	}
	switch {
	case cCtx.String("format") == "json":
		if err := e.writeJSON(out); err != nil {
			return err
		}
	case !cCtx.Bool("quiet"):
		renderProvenance(e.stdout, out, cCtx.StringSlice("provenance"), cCtx.Bool("verbose"))
	}
	return verr
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("larger than %d bytes: not a provenance file", max)
	}
	return data, err
}

func renderProvenance(w io.Writer, out provenanceOutput, files []string, verbose bool) {
	for i, res := range out.Results {
		verdict := "verified"
		if !res.Verified {
			verdict = "NOT verified"
		}
		fmt.Fprintf(w, "%s %s sha256:%s (provenance %s)\n", verdict, out.Filename, out.SHA256, files[i])
		if res.Publisher != nil {
			fmt.Fprintf(w, "  publisher: %s\n", res.Publisher)
		}
		for _, a := range res.Attestations {
			fmt.Fprintf(w, "  %s: %s, Rekor log index %d\n", a.Source, a.PredicateType, a.LogIndex)
			for _, c := range a.Decision.Checks {
				if c.Outcome == policy.Pass && !verbose {
					continue
				}
				detail := c.Reason
				if detail == "" {
					detail = c.Actual
				}
				fmt.Fprintf(w, "    %-11s %-22s %s\n", c.Outcome, c.Name, detail)
			}
		}
	}
}
