package installer

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/installer/build"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/installer/wheel"
	"github.com/pipguard/pipguard/internal/redact"
)

// BuildError is a verified source whose wheel pipguard could not build
// with locked build requirements. Nothing was installed.
type BuildError struct {
	Name string
	Err  error
}

func (e *BuildError) Error() string { return "building " + e.Name + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *BuildError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *BuildError) Hint() string {
	return "nothing was installed; the build requirements must be wheels on the index pip uses (pipguard locks them by hash and never builds them): install the project's released wheel instead, or pass --index-url for an index that has them"
}

// buildGuarded builds every guarded requirement that is a source (the
// verified sdist with --allow-sdist, the verified or pinned commit with
// --from git or verify = "pin") into a wheel before pip's resolution, so
// that pip never builds anything: the source's build requirements are
// resolved once (wheels only, as if nothing were installed), every file
// kept and hashed by pipguard, unpacked into a private build environment,
// and the verified backend runs there (get_requires_for_build_wheel, then
// build_wheel). The wheel then stands for the requirement in everything
// that follows.
func buildGuarded(ctx context.Context, py *pip.Session, dir string, o InstallOptions, gs []*Guarded, args []string) error {
	for i, g := range gs {
		if g.PipRequirement == "" || g.Skipped != "" || !g.needsBuild() {
			continue
		}
		if err := buildOne(ctx, py, filepath.Join(dir, fmt.Sprintf("build-%d", i)), o, g, args); err != nil {
			return &BuildError{Name: g.Name, Err: err}
		}
	}
	return nil
}

// needsBuild says whether what was verified (or pinned) is a source.
func (g *Guarded) needsBuild() bool {
	return g.from == FromGit || !strings.HasSuffix(g.Asset, ".whl")
}

func buildOne(ctx context.Context, py *pip.Session, dir string, o InstallOptions, g *Guarded, args []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var src string
	var err error
	if g.from == FromGit {
		src = filepath.Join(dir, "src")
		ref := g.Resolution.Commit
		if g.Resolution.RefName != "" && strings.HasPrefix(g.Resolution.RefName, "refs/tags/") {
			ref = g.Resolution.RefName
		}
		if err := build.Clone(ctx, redact.Environ(pip.Env(os.Environ())), g.req.VCS.TransportURL(), ref, g.Resolution.Commit, src); err != nil {
			return err
		}
		if sub := g.req.VCS.Subdirectory; sub != "" {
			src = filepath.Join(src, filepath.FromSlash(sub))
		}
	} else if src, err = build.Unpack(g.assetPath, filepath.Join(dir, "src")); err != nil {
		return err
	}
	sys, err := build.ReadSystem(src)
	if err != nil {
		return err
	}
	env, err := lockBuildEnv(py, filepath.Join(dir, "env-1"), sys.Requires, args)
	if err != nil {
		return err
	}
	penv := redact.Environ(pip.Env(os.Environ()))
	extra, err := env.Hook(ctx, py.Python(), penv, o.Output, src, sys, "get_requires_for_build_wheel", "")
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		// The backend asked for more: the whole set is locked again, so
		// the environment is one consistent resolution.
		if env, err = lockBuildEnv(py, filepath.Join(dir, "env-2"), append(append([]string{}, sys.Requires...), extra...), args); err != nil {
			return err
		}
	}
	out := filepath.Join(dir, "wheel")
	if err := os.Mkdir(out, 0o700); err != nil {
		return err
	}
	built, err := env.Hook(ctx, py.Python(), penv, o.Output, src, sys, "build_wheel", out)
	if err != nil {
		return err
	}
	f, err := copyHashed(built[0], filepath.Join(dir, filepath.Base(built[0])))
	if err != nil {
		return err
	}
	name, ver, err := wheel.Metadata(f.path)
	if err != nil {
		return err
	}
	version := strings.TrimPrefix(strings.TrimPrefix(g.Tag, "v"), "V")
	if f, err := wheel.Parse(g.Asset); err == nil && g.from != FromGit && f.Sdist {
		// The chosen sdist's own version (the tag's, or the tag's with a
		// local label, as checkAsset compares a wheel's).
		version = f.Version
	}
	if requirement.Normalize(name) != requirement.Normalize(g.Name) || !g.Pinned && wheel.CanonicalVersion(ver) != wheel.CanonicalVersion(version) {
		return fmt.Errorf("the built wheel's METADATA says %s %s, expected %s %s", name, ver, g.Name, version)
	}
	g.wheelPath, g.wheelSHA, g.Built, g.BuildRequirements = f.path, f.sha256, true, env.Installed
	if g.BuildRequirements == nil {
		g.BuildRequirements = []string{}
	}
	extras := ""
	if len(g.req.Extras) > 0 {
		extras = "[" + strings.Join(g.req.Extras, ",") + "]"
	}
	fu := url.URL{Scheme: "file", Path: f.path, Fragment: "sha256=" + f.sha256}
	g.PipRequirement = g.Name + extras + " @ " + fu.String()
	return nil
}

// lockBuildEnv resolves reqs once, wheels only and as if nothing were
// installed, under the same no-code rule as every resolution; hashes every
// file the resolution kept; and unpacks them into a new build environment.
func lockBuildEnv(py *pip.Session, dir string, reqs, args []string) (*build.Env, error) {
	env, err := build.NewEnv(dir)
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return env, nil
	}
	reqFile := filepath.Join(dir, "build-requirements.txt")
	if err := os.WriteFile(reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	rep, err := py.InstallWith(dir, pip.InstallRequest{DryRun: true, Fresh: true, ReqFile: reqFile, Args: buildArgs(args), KeepDir: filepath.Join(dir, "kept")})
	if err != nil {
		return nil, err
	}
	kept := map[string]pip.Kept{}
	for _, k := range rep.Kept {
		kept[requirement.Normalize(k.Name)] = k
	}
	for _, it := range rep.Install {
		if it.IsDirect {
			return nil, fmt.Errorf("build requirement %s %s is a direct reference, which pipguard does not build", it.Metadata.Name, it.Metadata.Version)
		}
		k, ok := kept[requirement.Normalize(it.Metadata.Name)]
		if !ok || !strings.HasSuffix(k.Path, ".whl") {
			return nil, fmt.Errorf("build requirement %s %s has no wheel pipguard could lock", it.Metadata.Name, it.Metadata.Version)
		}
		f, err := copyHashed(k.Path, filepath.Join(dir, filepath.Base(k.Path)))
		if err != nil {
			return nil, err
		}
		if want := it.DownloadInfo.ArchiveInfo.SHA256(); want != "" && !strings.EqualFold(want, f.sha256) {
			return nil, fmt.Errorf("build requirement %s: the file pip resolved has sha256:%s, its report says sha256:%s", it.Metadata.Name, f.sha256, want)
		}
		if err := env.Install(f.path); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// buildArgs are the user's pip arguments for resolving build
// requirements: everything (the package sources above all), with wheels
// only whatever the policy says about index sdists, since a build
// requirement is never built.
func buildArgs(args []string) []string {
	out := []string{"--only-binary", ":all:"}
	for i := 0; i < len(args); i++ {
		if args[i] == "--only-binary" || args[i] == "--no-binary" {
			i++
			continue
		}
		if strings.HasPrefix(args[i], "--only-binary=") || strings.HasPrefix(args[i], "--no-binary=") || args[i] == "--no-cache-dir" {
			continue
		}
		out = append(out, args[i])
	}
	return out
}
