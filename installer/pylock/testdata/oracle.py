"""Differential oracle: pip 26's vendored packaging (pylock, markers,
specifiers) run on inputs the Go tests send as JSON on stdin; answers as
JSON on stdout. Run with the interpreter internal/tools/pip26/fetch.sh
sets up."""
import json
import sys
import tomllib

import pip
from pip._vendor.packaging import markers, pylock, specifiers, tags


def select(lock, case):
    env = case["env"]
    tag_list = [t for s in case["tags"] for t in sorted(tags.parse_tag(s), key=str)]
    out = []
    for pkg, src in lock.select(
        environment=env,
        tags=tag_list,
        extras=case.get("extras"),
        dependency_groups=case.get("groups"),
    ):
        idx = next(i for i, p in enumerate(lock.packages) if p is pkg)
        kind = {
            pylock.PackageWheel: "wheel",
            pylock.PackageSdist: "sdist",
            pylock.PackageArchive: "archive",
            pylock.PackageVcs: "vcs",
            pylock.PackageDirectory: "directory",
        }[type(src)]
        rec = {"index": idx, "name": pkg.name, "version": str(pkg.version) if pkg.version else "", "kind": kind}
        if kind in ("wheel", "sdist"):
            rec["filename"] = src.filename
        if kind in ("wheel", "sdist", "archive"):
            rec["url"] = src.url or ""
            rec["path"] = src.path or ""
            rec["size"] = src.size
            rec["hashes"] = dict(src.hashes)
        if kind == "vcs":
            rec["url"] = src.url or ""
            rec["commit"] = src.commit_id
        out.append(rec)
    return out


def lock_case(case):
    try:
        d = tomllib.loads(case["toml"])
    except Exception as e:
        return {"toml_error": str(e)}
    try:
        lock = pylock.Pylock.from_dict(d)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}
    res = {"ok": True, "packages": len(lock.packages)}
    if "env" in case:
        try:
            res["selected"] = select(lock, case)
        except Exception as e:
            res["select_error"] = f"{type(e).__name__}: {e}"
    return res


def marker_case(case):
    try:
        m = markers.Marker(case["marker"])
    except Exception as e:
        return {"parse_error": f"{type(e).__name__}: {e}"}
    env = dict(case["env"])
    env["extras"] = frozenset(case.get("extras") or [])
    env["dependency_groups"] = frozenset(case.get("groups") or [])
    try:
        return {"value": bool(m.evaluate(env, context="lock_file"))}
    except Exception as e:
        return {"eval_error": f"{type(e).__name__}: {e}"}


def spec_case(case):
    try:
        s = specifiers.SpecifierSet(case["spec"])
    except Exception as e:
        return {"parse_error": str(e)}
    return {"value": s.contains(case["version"])}


def main():
    req = json.load(sys.stdin)
    fn = {"lock": lock_case, "marker": marker_case, "spec": spec_case}[req["mode"]]
    json.dump({"pip": pip.__version__, "results": [fn(c) for c in req["cases"]]}, sys.stdout)


main()
