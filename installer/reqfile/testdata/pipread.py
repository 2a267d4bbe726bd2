# Reads requirements and requirements files with the interpreter's own pip
# (pip's req_file, constructors, vcs and vendored packaging), for
# parity_test.go. Input on stdin, output on stdout, both JSON.
import json
import logging
import os
import sys
import warnings

warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

import pip
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import (
    install_req_from_line,
    install_req_from_parsed_requirement,
)
from pip._internal.req.req_file import (
    RequirementsFileParser,
    get_line_parser,
    handle_requirement_line,
)
from pip._internal.vcs import vcs
from pip._vendor.packaging.markers import Marker
from pip._vendor.packaging.specifiers import SpecifierSet


def err(e):
    return {"error": "%s: %s" % (type(e).__name__, str(e)[:300])}


def describe(ireq):
    req, link = ireq.req, ireq.link
    d = {
        "name": req.name if req else "",
        "extras": sorted(x.lower() for x in ireq.extras),
        "specifier": str(req.specifier) if req else "",
        "marker": str(ireq.markers) if ireq.markers else "",
        "kind": "index",
    }
    if link is not None:
        if link.is_vcs:
            backend = vcs.get_backend_for_scheme(link.scheme)
            url, rev, _ = backend.get_url_rev_and_auth(link.url_without_fragment)
            d.update(kind="vcs", url=url, ref=rev or "", subdirectory=link.subdirectory_fragment or "")
        elif link.scheme == "file":
            d.update(kind="path", path=link.file_path)
        else:
            d.update(kind="url", url=link.url)
    return d


def read_req(text):
    try:
        return describe(install_req_from_line(text))
    except (Exception, RecursionError) as e:
        return err(e)


def options(opts, filename):
    out = []
    if opts.no_index:
        out.append(["--no-index"])
    if opts.index_url:
        out.append(["--index-url", opts.index_url])
    for v in opts.extra_index_urls or []:
        out.append(["--extra-index-url", v])
    if opts.find_links:
        value = opts.find_links[0]
        rel = os.path.join(os.path.dirname(os.path.abspath(filename)), value)
        if os.path.exists(rel):
            value = rel
        out.append(["--find-links", value])
    for f, v in (("--pre", opts.pre), ("--prefer-binary", opts.prefer_binary), ("--require-hashes", opts.require_hashes)):
        if v:
            out.append([f])
    for v in opts.trusted_hosts or []:
        out.append(["--trusted-host", v])
    for v in opts.features_enabled or []:
        out.append(["--use-feature", v])
    # pip 26's --all-releases / --only-final (and --pre, which it turns
    # into --all-releases :all: later, with the finder) and
    # --no-require-hashes; older pips have none of them.
    rc = getattr(opts, "release_control", None)
    if rc is not None and (rc.all_releases or rc.only_final):
        out.append(["release", ",".join(sorted(rc.all_releases)), ",".join(sorted(rc.only_final))])
    if getattr(opts, "no_require_hashes", False):
        out.append(["--no-require-hashes"])
    fc = opts.format_control
    if fc is not None and (fc.no_binary or fc.only_binary):
        out.append(["format", ",".join(sorted(fc.no_binary)), ",".join(sorted(fc.only_binary))])
    return out


SESSION = PipSession()


def is_requirement(pl):
    # pip 23 to 25 set ParsedLine.is_requirement; pip 26 removed it, and a
    # line is a requirement when its requirement (args, else the first -e)
    # is not None, which is the same test.
    v = getattr(pl, "is_requirement", None)
    if v is None:
        return pl.requirement is not None
    return v


def read_file(path):
    entries = []
    try:
        parser = RequirementsFileParser(SESSION, get_line_parser(None))
        for pl in parser.parse(path, False):
            features = list(pl.opts.features_enabled or [])
            # pip's option default is one list shared by every line's
            # parser: reset it, so each line shows its own --use-feature.
            if pl.opts.features_enabled:
                del pl.opts.features_enabled[:]
            pl.opts.features_enabled = features
            if is_requirement(pl):
                preq = handle_requirement_line(pl)
                if preq.is_editable:
                    entries.append({"file": pl.filename, "line": pl.lineno, "editable": preq.requirement})
                    continue
                d = describe(install_req_from_parsed_requirement(preq))
                o = preq.options or {}
                d.update(
                    file=pl.filename,
                    line=pl.lineno,
                    constraint=pl.constraint,
                    hashes=o.get("hashes") or {},
                    config=o.get("config_settings") or {},
                    global_options=o.get("global_options") or [],
                )
                entries.append(d)
            else:
                opts = options(pl.opts, pl.filename)
                if opts:
                    entries.append({"file": pl.filename, "line": pl.lineno, "options": opts})
    except (Exception, RecursionError) as e:
        return err(e)
    return {"entries": entries}


def nested_names_cleaned():
    # How this pip names a nested -r file: pip 23 and 24 by the joined
    # path (os.path.join(dirname, value)), pip 26 by its os.path.abspath.
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "a.txt"), "w") as f:
            f.write("-r ./b.txt\n")
        with open(os.path.join(d, "b.txt"), "w") as f:
            f.write("x\n")
        parser = RequirementsFileParser(SESSION, get_line_parser(None))
        for pl in parser.parse(os.path.join(d, "a.txt"), False):
            if pl.filename == os.path.join(d, "b.txt"):
                return True
            if pl.filename == os.path.join(d, "./b.txt"):
                return False
    raise SystemExit("cannot tell how this pip names nested files")


def norm(f, s):
    try:
        return str(f(s))
    except Exception as e:
        return "!" + type(e).__name__


def main():
    q = json.load(sys.stdin)
    out = {
        "pip": pip.__version__,
        "nested_names_cleaned": nested_names_cleaned(),
        "reqs": [read_req(t) for t in q["reqs"]],
        "files": [read_file(p) for p in q["files"]],
        "specs": {s: norm(SpecifierSet, s) for s in q["specs"]},
        "markers": {s: norm(Marker, s) for s in q["markers"]},
    }
    json.dump(out, sys.stdout)


main()
