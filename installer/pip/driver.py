"""pipguard's pip driver: one target-interpreter process for a whole install.

Protocol (JSON lines): pipguard writes requests on fd 3 and reads answers on
fd 4; pip's own output goes to fd 1 and 2 as usual.

  -> {"markers": [...], "separate": false, "marker": "...", "source": "..."}
  <- {"info": {...}, "pip": "23.2.1"}           (the probe)
  -> {"args": ["install", ...], "expect": {...},
      "allow_links": [...], "keep_dir": "..."}  (any number)
  <- {"status": 0, "mode": "in-process", "kept": [...]}
                                                (after the marker line on fd 2)
  <- {"refused": ["..."]}                       (pip's effective options differ)
  <- {"refused_links": [{"url": ..., "chain": [...]}], "status": 1, ...}
                                                (a link nothing verified)
  <- {"held": true}                             (a request with "hold": true,
                                                once pip has resolved)
  -> {"go": true} or {"go": false}              (pip writes, or stops)
  -> {"check": true}
  <- {"conflicts": [...]}                       (pip check, as data)
  (fd 3 closed: exit)

pip runs through its CLI entry point, pip._internal.cli.main.main, the
function the "pip" console script calls, in this process: the interpreter
starts and imports pip once, while pipguard verifies. A pip that cannot be
driven that way (older than 23.0, or without that entry point) runs as a
child process of this same driver instead; so does every pip when asked
("separate": true). Either way the guards below are in place before pip
parses its options.

The guards (install_guards) hold pip to pipguard's rule that no code runs
that nothing verified: before pip prepares a link (downloads it, unpacks
it, builds its metadata or its wheel), the link must be a wheel that pip's
own finder found on an index or find-links page (an sdist too when source
builds are allowed), or one of the exact links pipguard allows for this
request. Anything else aborts the resolution, and the answer names every
such link with the chain of requirements that led to it. They also keep the
bytes: after a dry run's resolution, every file the report will list is
copied (or hard-linked) into the keep directory, downloaded through pip's
own downloader when pip did not download it.
"""
import sys

# The interpreter runs with -S: the site module's main() (which executes
# every .pth file's import lines and sitecustomize) has not run, so no code
# an installed distribution ships runs in this process before or after
# pip. What main() would have done that pip needs is done here, without
# any .pth file: a virtual environment's prefix (site.venv: pyvenv.cfg
# beside the executable or one directory up makes the executable's parent
# directory sys.prefix) and the site directories on sys.path, from which
# nothing but pip is imported (see _NothingFromSiteButPip).
if sys.flags.no_site:
    import os as _os
    import site as _site

    def _venv():
        exe = sys.executable
        if sys.platform == "darwin" and "__PYVENV_LAUNCHER__" in _os.environ:
            exe = _os.environ["__PYVENV_LAUNCHER__"]
        exe_dir = _os.path.dirname(_os.path.abspath(exe))
        site_prefix = _os.path.dirname(exe_dir)
        for d in (exe_dir, site_prefix):
            cfg = _os.path.join(d, "pyvenv.cfg")
            if _os.path.isfile(cfg):
                system_site = "true"
                with open(cfg, encoding="utf-8") as f:
                    for line in f:
                        key, sep, value = line.partition("=")
                        if sep and key.strip().lower() == "include-system-site-packages":
                            system_site = value.strip().lower()
                return site_prefix, system_site == "true"
        return None, False

    _prefix, _system_site = _venv()
    _prefixes = [sys.prefix, sys.exec_prefix]
    if _prefix is not None:
        sys.prefix = sys.exec_prefix = _prefix
        _prefixes = [_prefix] + (_prefixes if _system_site else [])
    _site_dirs = []
    for _d in _site.getsitepackages(_prefixes):
        if _os.path.isdir(_d) and _d not in sys.path:
            sys.path.append(_d)
            _site_dirs.append(_d)

    # The site directories are on sys.path for pip to read the installed
    # distributions, not to import them: pip (and what it vendors) tries
    # optional top-level modules that are no part of the standard library
    # (packaging's _manylinux, urllib3's urllib3_secure_extra and socks,
    # rich's attr, keyring, ...), and any wheel installed here could ship
    # one. This finder, ahead of the path finder, refuses every top-level
    # module the site directories would provide, but pip itself: pip gets
    # ModuleNotFoundError, as if it were not installed (which it handles:
    # each is optional), and nothing the environment ships runs here.
    import importlib.machinery as _machinery

    _site_set = {_os.path.normcase(_os.path.abspath(_d)) for _d in _site_dirs}

    def _is_site(entry):
        try:
            return _os.path.normcase(_os.path.abspath(entry)) in _site_set
        except (TypeError, ValueError):
            return False

    class _InertNamespaces:
        """The loader of pip's vendored pkg_resources (pip's metadata
        backend before Python 3.11): at import, pkg_resources activates
        every installed distribution, and declaring the namespace packages
        a namespace_packages.txt names (one already imported, as json is)
        has its path importer run the portion it finds in a site directory
        (loader.load_module), no meta path finder asked. Here the module is
        executed with the site directories off sys.path (its master
        working set starts empty), namespace declaration does nothing, and
        the site directories are then added to the working set, in
        sys.path's order: pip reads the same distributions, and no
        portion's code runs."""

        def __init__(self, loader):
            self._loader = loader

        def create_module(self, spec):
            return self._loader.create_module(spec)

        def exec_module(self, module):
            saved = list(sys.path)
            sys.path[:] = [e for e in saved if not _is_site(e)]
            try:
                self._loader.exec_module(module)
            finally:
                sys.path[:] = saved
            module.declare_namespace = lambda packageName: None
            module.fixup_namespace_packages = lambda path_item, parent=None: None
            ws = getattr(module, "working_set", None)
            if ws is not None:
                for e in saved:
                    if _is_site(e):
                        ws.add_entry(e)

    class _NothingFromSiteButPip:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "pip._vendor.pkg_resources" and path is not None:
                spec = _machinery.PathFinder.find_spec(name, path)
                if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _InertNamespaces(spec.loader)
                return spec
            if path is not None or name == "pip":
                # A submodule is found in its package's own directories;
                # its package passed here first.
                return None
            site = [e for e in sys.path if _is_site(e)]
            if not site:
                return None
            rest = [e for e in sys.path if not _is_site(e)]
            spec = _machinery.PathFinder.find_spec(name, rest)
            if spec is not None and spec.origin not in (None, "namespace"):
                return None  # the standard library's (first on sys.path)
            if _machinery.PathFinder.find_spec(name, site) is not None:
                raise ModuleNotFoundError("No module named %r (pipguard's driver imports nothing from the environment but pip)" % name, name=name)
            return None

        @staticmethod
        def invalidate_caches():
            pass

    _at = next((i for i, f in enumerate(sys.meta_path) if f is _machinery.PathFinder), len(sys.meta_path))
    sys.meta_path.insert(_at, _NothingFromSiteButPip)

import json
import os
import shutil
import subprocess
import tempfile

# The distribution name the probe asks pip's install scheme for; pipguard
# replaces it with the real name (headers are per distribution).
PLACEHOLDER = "pipguard0dist0placeholder"

SOURCE = None  # this driver's own source, for a child (separate mode)


def probe(markers):
    import sysconfig
    from pip._vendor.packaging import markers as pmarkers, tags

    paths = sysconfig.get_paths()
    out = {
        "tags": [str(t) for t in tags.sys_tags()],
        "site": [paths["purelib"], paths["platlib"]],
        "prefix": sys.prefix,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "markers": {},
        "environment": pmarkers.default_environment(),
        "cache_tag": sys.implementation.cache_tag or "",
        "stdlib": stdlib_dirs(paths),
    }
    for m in markers:
        try:
            out["markers"][m] = pmarkers.Marker(m).evaluate()
        except Exception as e:  # an invalid marker is reported, not raised
            out["markers"][m] = str(e)
    try:
        out["scheme"] = install_scheme(PLACEHOLDER)
    except Exception as e:
        out["scheme_error"] = "pip's locations.get_scheme: %r" % (e,)
    return out


def stdlib_dirs(paths):
    """The interpreter's own library directories, which no wheel may write
    into: sysconfig's stdlib and platstdlib and every directory on
    sys.path that is no site directory (lib-dynload, a distributor's
    additions), whether or not it exists: lib/pythonXY.zip is on sys.path
    ahead of the standard library though no pyenv, Docker or conda
    interpreter has one, and a wheel that created it would be imported
    from first. The site directories inside them (a non-venv
    interpreter's lib/pythonX.Y/site-packages) stay the wheels'."""
    site = globals().get("_is_site")
    out = []
    for d in [paths.get("stdlib"), paths.get("platstdlib")] + list(sys.path):
        if not d or not isinstance(d, str):
            continue
        if site is not None and site(d):
            continue
        d = os.path.abspath(d)
        if d not in out:
            out.append(d)
    return out


def install_scheme(name):
    """pip's install scheme for a distribution, as pip installs a wheel
    (pip._internal.locations.get_scheme, no --user, --root or --prefix)."""
    import logging
    from pip._internal.locations import get_scheme

    # pip warns (on its own logger) when sysconfig and distutils disagree;
    # that is for pip's users, not for the probe's answer.
    log = logging.getLogger("pip._internal.locations")
    disabled, log.disabled = log.disabled, True
    try:
        s = get_scheme(name)
    finally:
        log.disabled = disabled
    return {k: os.path.abspath(getattr(s, k)) for k in ("purelib", "platlib", "scripts", "data", "headers")}


def in_process_main():
    """pip's CLI entry point, or None when this pip cannot be driven in process."""
    try:
        import pip

        major, minor = (int(x) for x in pip.__version__.split(".")[:2])
        if (major, minor) < (23, 0):
            return None
        from pip._internal.cli.main import main

        # The install command's modules are most of pip's start-up; import
        # them now, while pipguard verifies.
        import pip._internal.commands.install  # noqa: F401
        return main
    except Exception:
        return None


def run_in_process(main, args):
    try:
        status = main(args)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 1 if status is None else status


def index_urls(args):
    """The package indexes pip's effective options name (its configuration,
    PIP_* variables and the arguments merged), in pip's order: where the
    files it resolved came from, and so where their provenance is."""
    from pip._internal.commands import create_command

    cmd = create_command("install", isolated=("--isolated" in args))
    options, _ = cmd.parse_args(list(args[1:]))
    if options.no_index:
        return []
    return [options.index_url] + list(options.extra_index_urls or [])


def check(args, expect):
    """What is wrong with the options pip would run with.

    pip merges its configuration files, PIP_* environment variables and the
    command line (abbreviated and glued forms included) into one set of
    options; pipguard checks that set, as pip's own parser makes it, not
    just the words it passed.
    """
    from pip._internal.commands import create_command

    import contextlib
    import io

    cmd = create_command("install", isolated=("--isolated" in args))
    said = io.StringIO()
    try:
        # pip's parser prints its usage and error on a refusal: kept, so
        # that pipguard says what it means (an old pip, an option) once.
        with contextlib.redirect_stderr(said):
            options, rest = cmd.parse_args(list(args[1:]))
    except SystemExit:
        why = said.getvalue().strip().splitlines()
        tail = (": " + why[-1].strip()) if why else ""
        return ["pip does not accept these options: " + " ".join(args[1:]) + tail]
    wrong = []

    def want(what, got, expected):
        if got != expected:
            wrong.append("pip would run with %s %r (from its configuration, PIP_* environment variables or the arguments after --), expected %r" % (what, got, expected))

    want("requirements files", list(options.requirements), expect["requirements"])
    want("constraints files", list(options.constraints), [])
    want("editable requirements", list(options.editables), [])
    want("requirements on its command line", list(rest), [])
    want("--target", options.target_dir, None)
    want("--prefix", options.prefix_path, None)
    want("--root", options.root_path, None)
    want("--user", bool(options.use_user_site), False)
    want("--ignore-installed", bool(options.ignore_installed), bool(expect.get("ignore_installed", False)))
    want("--dry-run", bool(options.dry_run), expect["dry_run"])
    want("--report", options.json_report_file, expect["report"])
    # --python (PIP_PYTHON, python = ... in a configuration file) makes
    # pip run itself again under another interpreter: not the one pipguard
    # probed, and without the guards.
    want("--python", getattr(options, "python", None), None)
    # pip opens its log file (--log, PIP_LOG, log = in a configuration
    # file, the environment's own pip.conf included, which --isolated still
    # reads) as it starts, before its resolution and so before pipguard has
    # surveyed and stashed the environment: never inside it.
    # So is its cache directory (--cache-dir, PIP_CACHE_DIR, cache-dir =):
    # pip writes its http cache there during the resolution.
    def inside_env(path):
        # Compared without regard to case, for the file systems that have
        # none (macOS's): a false refusal costs a clear message, a missed
        # one a write before the stash.
        where, prefix = os.path.realpath(os.path.abspath(path)).lower(), os.path.realpath(sys.prefix).lower()
        return where == prefix or where.startswith(prefix.rstrip(os.sep) + os.sep)

    log = getattr(options, "log", None)
    if log and inside_env(log):
        wrong.append("pip would write its log file %s inside the environment %s (from its configuration, PIP_LOG or the arguments after --)" % (log, sys.prefix))
    cache = getattr(options, "cache_dir", None)
    if cache and isinstance(cache, str) and inside_env(cache):
        wrong.append("pip would write its cache directory %s inside the environment %s (from its configuration, PIP_CACHE_DIR or the arguments after --): pass --no-cache-dir or a cache directory outside it" % (cache, sys.prefix))
    # The guards follow the resolver pip uses by default.
    want("--use-deprecated legacy-resolver", "legacy-resolver" in (getattr(options, "deprecated_features_enabled", None) or []), False)
    if expect.get("local"):
        # A local install: only the files pipguard put in its find-links
        # directories, never an index.
        want("--no-index", bool(options.no_index), True)
        want("find-links", list(options.find_links or []), list(expect.get("find_links") or []))
    allowed = expect.get("indexes")
    if allowed is not None:
        allowed = {a.rstrip("/") for a in allowed}
        sources = [] if options.no_index else [options.index_url] + list(options.extra_index_urls or [])
        for u in sources + list(options.find_links or []):
            if u.rstrip("/") not in allowed:
                wrong.append("pip would use the package source %s, which the policy's indexes do not list" % u)
    if not expect["allow_source_builds"]:
        fc = options.format_control
        want("--no-binary", sorted(fc.no_binary), [])
        want("--only-binary", sorted(fc.only_binary), [":all:"])
        want("--global-option", list(getattr(options, "global_options", None) or []), [])
        want("--build-option", list(getattr(options, "build_options", None) or []), [])
    return wrong


# ---------------------------------------------------------------- guards


class State:
    """What one pip command may prepare, and what it did."""

    def __init__(self, allow_links=(), keep_dir=None, allow_source_builds=False, hold=False):
        from pip._internal.models.link import Link

        self.allow = set()
        self.allow_redacted = set()
        self.allow_paths = set()
        for u in allow_links or ():
            link = Link(u)
            self.allow.add(same_url(link.url_without_fragment))
            self.allow_redacted.add(same_url(redact(link.url_without_fragment)))
            if link.is_file:
                self.allow_paths.add(os.path.normpath(link.file_path))
        self.keep_dir = keep_dir or None
        self.allow_source_builds = bool(allow_source_builds)
        self.found = set()  # url_without_fragment of what the finder found
        # The indexes the finder searched: pip's options as a requirements
        # file's own --index-url and --extra-index-url lines left them.
        self.index_urls = None
        self.dists = {}  # id(InstallRequirement) -> (req, its prepared dist)
        self.refused = []
        self.refused_urls = set()
        self.kept = []
        self.preparer = None
        # hold: after the resolution, before pip writes anything, wait for
        # pipguard's word (see wait_for_go).
        self.hold = bool(hold)

    def answer(self):
        a = {"refused_links": self.refused, "kept": self.kept}
        if self.index_urls is not None:
            a["index_urls"] = self.index_urls
        return a


STATE = None  # the State of the pip command running, if any

# The request and answer pipes, while serve() runs.
REQUESTS = None
ANSWER = None


def current():
    # With no command's state (nothing should prepare then), nothing is
    # allowed but what a finder finds.
    global STATE
    if STATE is None:
        STATE = State()
    return STATE


def redact(url):
    from pip._internal.utils.misc import redact_auth_from_url

    return redact_auth_from_url(url)


def requirement_text(req):
    """req as its requirer wrote it, without credentials."""
    if req.req is not None:
        text = str(req.req)
        url = getattr(req.req, "url", None)
        if url:
            text = text.replace(url, redact(url))
        return text
    if req.link is not None:
        return redact(req.link.url)
    return str(req)


def version_of(req):
    st = current()
    entry = st.dists.get(id(req))
    if entry is not None and entry[0] is req:
        try:
            return str(entry[1].version)
        except Exception:
            pass
    dist = getattr(req, "satisfied_by", None)
    if dist is not None:
        return str(dist.version)
    return "?"


def chain_of(req):
    """Who required req: each requirer with its version, up to the line of
    the requirements file (pip's comes_from)."""
    from pip._internal.req.req_install import InstallRequirement

    out = []
    for _ in range(100):
        parent = req.comes_from
        if isinstance(parent, InstallRequirement):
            out.append("%s %s requires '%s'" % (parent.name, version_of(parent), requirement_text(req)))
            req = parent
            continue
        out.append(str(parent) if parent else "the command line (%s)" % requirement_text(req))
        break
    return out


def link_to_check(req):
    """The link whose bytes req stands for: for a wheel pip built earlier
    and found in its cache, the link it was built from."""
    src = getattr(req, "cached_wheel_source_link", None)
    if src is not None:
        return src
    if getattr(req, "original_link_is_in_wheel_cache", False) and req.original_link is not None:
        return req.original_link  # pip 23.0
    return req.link


def same_url(u):
    """u as urllib writes it again: git+file:///p and git+file:/p (what
    newer packaging makes of it) are one URL."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(u))


def allowed(st, link):
    u = link.url_without_fragment
    if same_url(u) in st.allow or same_url(redact(u)) in st.allow_redacted:
        return True
    if link.is_file and os.path.normpath(link.file_path) in st.allow_paths:
        return True
    if u in st.found and not link.is_vcs:
        if link.is_wheel:
            return True
        if st.allow_source_builds:
            return True
    return False


def refuse(st, link, chain):
    u = link.url_without_fragment
    if u in st.refused_urls:
        return
    st.refused_urls.add(u)
    st.refused.append({"url": redact(u), "chain": chain})


def siblings(st, parent):
    """The other direct references parent requires that would be refused:
    the answer names them all at once rather than one per attempt."""
    from pip._internal.models.link import Link

    entry = st.dists.get(id(parent))
    if entry is None or entry[0] is not parent:
        return
    dist = entry[1]
    try:
        deps = list(dist.iter_dependencies(list(parent.extras or ())))
    except Exception:
        return
    for r in deps:
        url = getattr(r, "url", None)
        if not url:
            continue
        link = Link(url)
        if allowed(st, link):
            continue
        text = str(r).replace(url, redact(url))
        refuse(st, link, ["%s %s requires '%s'" % (parent.name, version_of(parent), text)] + chain_of(parent))


def guard(req):
    from pip._internal.req.req_install import InstallRequirement

    st = current()
    link = link_to_check(req)
    if link is None or allowed(st, link):
        return
    refuse(st, link, chain_of(req))
    if isinstance(req.comes_from, InstallRequirement):
        siblings(st, req.comes_from)
    raise LinkRefused(st)


LinkRefused = None  # an InstallationError, defined with the guards


def install_guards():
    """Patches pip, once, so that every link it prepares is checked first,
    the finder's findings are recorded and a dry run keeps its files. Raises
    if this pip lacks one of the places the guards need (pipguard then does
    not run it)."""
    global LinkRefused
    if LinkRefused is not None:
        return
    from pip._internal.exceptions import InstallationError
    from pip._internal.index.package_finder import PackageFinder
    from pip._internal.operations.prepare import RequirementPreparer
    from pip._internal.resolution.resolvelib.resolver import Resolver
    from pip._internal.cli import main_parser

    class _LinkRefused(InstallationError):
        def __init__(self, st):
            lines = ["%s (%s)" % (r["url"], "; ".join(r["chain"])) for r in st.refused]
            super().__init__(
                "pipguard refused to let pip fetch or build a link that is neither an index wheel nor one pipguard verified: " + ", ".join(lines)
            )

    needed = [
        (PackageFinder, "find_all_candidates"),
        (RequirementPreparer, "prepare_linked_requirement"),
        (RequirementPreparer, "prepare_editable_requirement"),
        (Resolver, "resolve"),
    ]
    for cls, name in needed:
        if not callable(getattr(cls, name, None)):
            raise RuntimeError("pip has no %s.%s, where pipguard guards the resolution" % (cls.__name__, name))

    find_all = PackageFinder.find_all_candidates

    def find_all_candidates(self, project_name):
        found = find_all(self, project_name)
        st = current()
        if st.index_urls is None:
            scope = getattr(self, "search_scope", None)
            urls = getattr(scope, "index_urls", None)
            if urls is not None:
                st.index_urls = list(urls)
        for c in found:
            st.found.add(c.link.url_without_fragment)
        return found

    PackageFinder.find_all_candidates = find_all_candidates

    def wrap_prepare(orig):
        def prepare(self, req, *args, **kwargs):
            st = current()
            st.preparer = self
            guard(req)
            dist = orig(self, req, *args, **kwargs)
            if dist is not None:
                st.dists[id(req)] = (req, dist)
            return dist

        return prepare

    for name in ("prepare_linked_requirement", "_prepare_linked_requirement", "prepare_editable_requirement"):
        orig = getattr(RequirementPreparer, name, None)
        if callable(orig):
            setattr(RequirementPreparer, name, wrap_prepare(orig))

    prepare_installed = getattr(RequirementPreparer, "prepare_installed_requirement", None)
    if callable(prepare_installed):
        def prepare_installed_requirement(self, req, *args, **kwargs):
            dist = prepare_installed(self, req, *args, **kwargs)
            if dist is not None:
                current().dists[id(req)] = (req, dist)
            return dist

        RequirementPreparer.prepare_installed_requirement = prepare_installed_requirement

    resolve = Resolver.resolve

    def resolve_guarded(self, root_reqs, *args, **kwargs):
        st = current()
        # Every direct reference the requirements files name, at once,
        # before any of them is prepared.
        for r in root_reqs:
            link = link_to_check(r)
            if link is not None and not allowed(st, link):
                refuse(st, link, chain_of(r))
        if st.refused:
            raise LinkRefused(st)
        req_set = resolve(self, root_reqs, *args, **kwargs)
        if st.keep_dir:
            preparer = st.preparer or getattr(getattr(self, "factory", None), "preparer", None)
            reqs = getattr(req_set, "requirements_to_install", None)
            if reqs is None:
                reqs = [r for r in req_set.all_requirements if not r.constraint and not r.satisfied_by]
            for r in reqs:
                keep(st, preparer, r)
        if st.hold:
            st.hold = False
            wait_for_go()
        return req_set

    Resolver.resolve = resolve_guarded

    # pip's main() runs pip again under the interpreter --python names
    # before the command's own options are read: never in this driver.
    def no_other_python(*args, **kwargs):
        from pip._internal.exceptions import CommandError

        raise CommandError("pipguard does not let pip run itself under another interpreter (--python)")

    if hasattr(main_parser, "identify_python_interpreter"):
        main_parser.identify_python_interpreter = no_other_python
    if hasattr(main_parser, "subprocess"):
        class NoSubprocess:
            SubprocessError = subprocess.SubprocessError
            run = staticmethod(no_other_python)
            Popen = staticmethod(no_other_python)
            call = staticmethod(no_other_python)

        main_parser.subprocess = NoSubprocess
    LinkRefused = _LinkRefused


def wait_for_go():
    """Holds pip between its resolution and its first write: says so on the
    answer pipe and waits for pipguard's word. pip's install command writes
    nothing (no report, no file in the environment) before its resolution
    returns; pipguard plans and stashes meanwhile. Anything but {"go": true}
    (pipguard refusing the plan, or gone: end of file) stops pip here, with
    nothing written."""
    go = False
    if REQUESTS is not None and ANSWER is not None:
        ANSWER({"held": True})
        line = REQUESTS.readline()
        try:
            go = bool(line) and json.loads(line).get("go") is True
        except ValueError:
            go = False
    if not go:
        from pip._internal.exceptions import InstallationError

        raise InstallationError("pipguard stopped pip after its resolution: nothing was installed")


def speed_ups():
    """Makes pip faster without changing what it does (each one best effort:
    a pip without the place patched runs as it is)."""
    memoize_supported_tags()
    memoize_wheel_metadata()


def memoize_supported_tags():
    """Supported tags: pip before 24.1 asks compatibility_tags.get_supported()
    again for every candidate it looks up in the wheel cache (about 7 ms
    each on Linux, where the manylinux tags are generated anew: a third of
    a second for 50 requirements, in each of pipguard's two pip commands).
    Its answer without arguments depends only on the interpreter, which
    does not change in this process; pip 24.1 and later ask once per
    resolution (the factory's _supported_tags_cache), which is what this
    does here."""
    try:
        from pip._internal.resolution.resolvelib import factory
    except Exception:
        return
    orig = getattr(factory, "get_supported", None)
    if not callable(orig) or getattr(orig, "_pipguard", False):
        return
    cached = []

    def get_supported(*args, **kwargs):
        if args or kwargs:
            return orig(*args, **kwargs)
        if not cached:
            cached.append(orig())
        return cached[0]

    get_supported._pipguard = True
    factory.get_supported = get_supported


def memoize_wheel_metadata():
    """Wheel metadata: InstallRequirement.get_dist() opens a wheel's zip
    and reads its .dist-info again at every call (four times for each
    requirement of one pip install, 2 ms each here: a tenth of a second for
    50 wheels, in each of pipguard's two pip commands), in every pip up to
    26. The answer depends only on the file and the name: it is kept per
    file as the file system describes it (device, inode, size, modification
    and change times, which every change of the file changes) and per name.
    A wheel pip cannot read is not kept (pip's error comes again)."""
    try:
        from pip._internal.req import req_install
    except Exception:
        return
    orig = getattr(req_install, "get_wheel_distribution", None)
    if not callable(orig) or getattr(orig, "_pipguard", False):
        return
    memo = {}

    def get_wheel_distribution(wheel, canonical_name):
        location = getattr(wheel, "location", None)
        try:
            st = os.stat(location)
        except (OSError, TypeError, ValueError):
            return orig(wheel, canonical_name)
        key = (location, canonical_name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        dist = memo.get(key)
        if dist is None:
            dist = orig(wheel, canonical_name)
            memo[key] = dist
        return dist

    get_wheel_distribution._pipguard = True
    req_install.get_wheel_distribution = get_wheel_distribution


def keep(st, preparer, req):
    """Copies req's file into the keep directory, downloading it through
    pip's own downloader if pip did not."""
    link = req.link
    if link is None or link.is_vcs or link.is_existing_dir():
        return  # no file: a checkout or a directory
    path = getattr(req, "local_file_path", None)
    if not path or not os.path.isfile(path):
        path = None
    if path is None and link.is_file:
        path = link.file_path
    downloaded = False
    if path is None:
        from pip._internal.operations.prepare import get_http_url

        if preparer is None:
            raise RuntimeError("no preparer to download %s with" % redact(link.url))
        f = get_http_url(link, preparer._download, download_dir=None, hashes=req.hashes(trust_internet=True))
        path, downloaded = f.path, True
    name = os.path.basename(link.filename if not link.is_file else path)
    if name in ("", ".", ".."):
        name = os.path.basename(path)
    dest = os.path.join(st.keep_dir, name)
    tmp = dest + ".pipguard-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    linked = False
    if downloaded or not link.is_file:
        # A file pip (or the driver) downloaded into pip's temporary
        # directory, which nothing else writes: a hard link is as good as a
        # copy. A local file is copied: its owner may change it later.
        try:
            os.link(path, tmp)
            linked = True
        except OSError:
            pass
    if not linked:
        shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
    name, version = req.name or "", ""
    entry = st.dists.get(id(req))
    if entry is not None and entry[0] is req:
        try:
            name, version = entry[1].raw_name, str(entry[1].version)
        except Exception:
            pass
    st.kept.append({"name": name, "version": version, "url": redact(link.url_without_fragment), "path": dest})


def run_guarded(main, request):
    """Runs pip (main) for request under the guards; returns its status and
    the State."""
    global STATE
    expect = request["expect"]
    st = State(request.get("allow_links"), request.get("keep_dir"), expect.get("allow_source_builds"), request.get("hold") and not expect.get("dry_run"))
    STATE = st
    try:
        return run_in_process(main, request["args"]), st
    finally:
        STATE = None


# ---------------------------------------------------------------- pip check


def check_dependencies():
    """pip check, as data: pip's own operations.check on the environment as
    it is on disk now."""
    import importlib

    importlib.invalidate_caches()
    from pip._internal.operations import check as pcheck

    saved = getattr(pcheck, "get_default_environment", None)
    if saved is not None:
        # pip's pkg_resources backend reads the working set once, at import:
        # a fresh environment sees what pip installed since.
        from pip._internal.metadata import get_environment

        pcheck.get_default_environment = lambda: get_environment(None)
    try:
        package_set, _ = pcheck.create_package_set_from_installed()
        missing, conflicting = pcheck.check_package_set(package_set)
    finally:
        if saved is not None:
            pcheck.get_default_environment = saved
    out = []
    for project in missing:
        version = str(package_set[project].version)
        for dep in missing[project]:
            out.append({"dist": str(project), "version": version, "requirement": str(dep[1]), "dependency": str(dep[0]), "missing": True})
    for project in conflicting:
        version = str(package_set[project].version)
        for dep_name, dep_version, req in conflicting[project]:
            out.append({"dist": str(project), "version": version, "requirement": str(req), "dependency": str(dep_name), "installed": str(dep_version)})
    return out


# ---------------------------------------------------------------- separate


def run_separate(request):
    """Runs pip in a child process of this driver, under the same guards.
    A held request waits for pipguard's word before the child starts (the
    child has no answer pipe): the same promise, pip writes nothing until
    then, without the overlap."""
    if request.get("hold") and not request["expect"].get("dry_run"):
        request = dict(request, hold=False)
        try:
            wait_for_go()
        except KeyboardInterrupt:
            return {"status": 1, "stopped": True}
        except Exception as e:
            print("ERROR: %s" % (e,), file=sys.stderr)
            return {"status": 1, "stopped": True}
    fd, path = tempfile.mkstemp(prefix="pipguard-child-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(request, f)
        env = dict(os.environ, PIPGUARD_DRIVER_CHILD=path)
        child = subprocess.Popen([sys.executable, "-I", "-S", "-B", "-c", SOURCE], stdin=subprocess.DEVNULL, env=env)
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:
                # The child got the same SIGINT (one process group): let pip
                # undo the uninstall it is in the middle of, as subprocess.call
                # would not (it kills the child after 0.25 s). pipguard ends
                # the group if it takes too long.
                continue
        try:
            with open(path, encoding="utf-8") as f:
                result = json.load(f)
        except ValueError:
            result = {}
        result.setdefault("status", status)
        return result
    finally:
        os.unlink(path)


def child(path):
    """The child of run_separate: pip under the guards, its outcome written
    back into path."""
    del os.environ["PIPGUARD_DRIVER_CHILD"]
    with open(path, encoding="utf-8") as f:
        request = json.load(f)
    result = {}
    try:
        install_guards()
        speed_ups()
        from pip._internal.cli.main import main
    except Exception as e:
        result = {"guard_error": "pipguard cannot guard this pip's resolution: %r" % (e,)}
    else:
        status, st = run_guarded(main, request)
        result = st.answer()
        result["status"] = status
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    sys.stdout.flush()
    sys.stderr.flush()


# ---------------------------------------------------------------- serve


def serve():
    global SOURCE, REQUESTS, ANSWER
    requests = os.fdopen(3, "r", encoding="utf-8")
    answers = os.fdopen(4, "w", encoding="utf-8")

    def answer(obj):
        answers.write(json.dumps(obj) + "\n")
        answers.flush()

    REQUESTS, ANSWER = requests, answer

    first = json.loads(requests.readline() or "{}")
    SOURCE = first.get("source")
    try:
        import pip
    except ImportError:
        answer({"error": "it has no pip (python -m ensurepip installs it; python -m venv makes environments with it)"})
        return

    answer({"info": probe(first.get("markers", [])), "pip": pip.__version__})
    main = None if first.get("separate") else in_process_main()
    guard_error = None
    if main is None and not SOURCE:
        guard_error = "pipguard cannot run pip %s in a child process without the driver's source" % pip.__version__
    elif main is not None:
        try:
            install_guards()
        except Exception as e:
            guard_error = "pipguard cannot guard pip %s's resolution: %r" % (pip.__version__, e)
        else:
            speed_ups()
    marker = (first.get("marker", "") + "\n").encode()

    def synced(obj):
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything pip printed is in the pipe before this line, which
        # pipguard waits for (and does not show) before it reads pip's last
        # words.
        os.write(2, marker)
        answer(obj)

    for line in requests:
        request = json.loads(line)
        if "go" in request:
            # The word for a pip that stopped before it read it (an
            # interrupt while it was held): nothing waits for it now.
            continue
        if request.get("check"):
            try:
                synced({"conflicts": check_dependencies()})
            except Exception as e:
                synced({"error": "pip's dependency check failed: %r" % (e,)})
            continue
        args = request["args"]
        try:
            refused = check(args, request["expect"])
        except Exception as e:  # a pip whose options cannot be read is not run
            refused = ["cannot read pip %s's options: %r" % (pip.__version__, e)]
        if not refused and guard_error:
            refused = [guard_error]
        if refused:
            synced({"refused": refused})
            continue
        if main is not None:
            status, st = run_guarded(main, request)
            result = st.answer()
            result["status"], result["mode"] = status, "in-process"
        else:
            result = run_separate(request)
            result["mode"] = "separate"
            if result.get("guard_error"):
                result = {"refused": [result["guard_error"]]}
        if request["expect"].get("dry_run") and "refused" not in result and result.get("index_urls") is None:
            # No finder searched (nothing to find): the options say.
            try:
                result["index_urls"] = index_urls(args)
            except Exception:  # the options were read once already
                result["index_urls"] = []
        synced(result)


if os.environ.get("PIPGUARD_DRIVER_CHILD"):
    child(os.environ["PIPGUARD_DRIVER_CHILD"])
elif __name__ == "__main__":
    try:
        serve()
    except KeyboardInterrupt:
        sys.exit(130)
    # pipguard has closed the request pipe: every pip command has returned
    # (each cleans its temporary directories before it does). What is left
    # is the interpreter's finalization of pip's thousands of objects, a
    # tenth of a second pipguard would wait for: the output is flushed,
    # pip's log handlers closed, and the process ends now.
    try:
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)
