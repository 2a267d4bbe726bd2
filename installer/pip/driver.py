"""pipguard's pip driver: one target-interpreter process for a whole install.

Protocol (JSON lines): pipguard writes requests on fd 3 and reads answers on
fd 4; pip's own output goes to fd 1 and 2 as usual.

  -> {"markers": [...], "separate": false, "marker": "..."}   (first line)
  <- {"info": {...}, "pip": "23.2.1"}           (the probe)
  -> {"args": ["install", ...], "expect": {...}} (any number)
  <- {"status": 0, "mode": "in-process"}       (after the marker line on fd 2)
  <- {"refused": ["..."]}                       (pip's effective options differ)
  (fd 3 closed: exit)

pip runs through its CLI entry point, pip._internal.cli.main.main, the
function the "pip" console script calls, in this process: the interpreter
starts and imports pip once, while pipguard verifies. A pip that cannot be
driven that way (older than 23.0, or without that entry point) runs as
"python -m pip" child processes instead; so does every pip when asked
("separate": true).
"""
import json
import os
import subprocess
import sys


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
    }
    for m in markers:
        try:
            out["markers"][m] = pmarkers.Marker(m).evaluate()
        except Exception as e:  # an invalid marker is reported, not raised
            out["markers"][m] = str(e)
    return out


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


def check(args, expect):
    """What is wrong with the options pip would run with.

    pip merges its configuration files, PIP_* environment variables and the
    command line (abbreviated and glued forms included) into one set of
    options; pipguard checks that set, as pip's own parser makes it, not
    just the words it passed.
    """
    from pip._internal.commands import create_command

    cmd = create_command("install", isolated=("--isolated" in args))
    try:
        options, rest = cmd.parse_args(list(args[1:]))
    except SystemExit:
        return ["pip does not accept these options: " + " ".join(args[1:])]
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
    want("--ignore-installed", bool(options.ignore_installed), False)
    want("--dry-run", bool(options.dry_run), expect["dry_run"])
    want("--report", options.json_report_file, expect["report"])
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


def run_separate(args):
    child = subprocess.Popen([sys.executable, "-I", "-m", "pip"] + args, stdin=subprocess.DEVNULL)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            # The child got the same SIGINT (one process group): let pip
            # undo the uninstall it is in the middle of, as subprocess.call
            # would not (it kills the child after 0.25 s). pipguard ends
            # the group if it takes too long.
            continue


def serve():
    requests = os.fdopen(3, "r", encoding="utf-8")
    answers = os.fdopen(4, "w", encoding="utf-8")

    def answer(obj):
        answers.write(json.dumps(obj) + "\n")
        answers.flush()

    first = json.loads(requests.readline() or "{}")
    try:
        import pip
    except ImportError:
        answer({"error": "it has no pip (python -m ensurepip installs it; python -m venv makes environments with it)"})
        return

    answer({"info": probe(first.get("markers", [])), "pip": pip.__version__})
    main = None if first.get("separate") else in_process_main()
    marker = (first.get("marker", "") + "\n").encode()
    for line in requests:
        request = json.loads(line)
        args = request["args"]
        try:
            refused = check(args, request["expect"])
        except Exception as e:  # a pip whose options cannot be read is not run
            refused = ["cannot read pip %s's options: %r" % (pip.__version__, e)]
        if refused:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(2, marker)
            answer({"refused": refused})
            continue
        if main is not None:
            status, mode = run_in_process(main, args), "in-process"
        else:
            status, mode = run_separate(args), "separate"
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything pip printed is in the pipe before this line, which
        # pipguard waits for (and does not show) before it reads pip's last
        # words.
        os.write(2, marker)
        answer({"status": status, "mode": mode})


try:
    serve()
except KeyboardInterrupt:
    sys.exit(130)
