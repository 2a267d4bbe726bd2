"""Runs one PEP 517 hook for pipguard, in a private build environment.

argv[1] is a JSON request: "path" (prepended to sys.path: the backend-path
entries, then the build environment's lib), "backend" (module[:object]),
"hook" ("get_requires_for_build_wheel" or "build_wheel"), "out" (the wheel
directory) and "answer" (where the result is written as JSON). The process
runs with -I -S -B: no site-packages of the target environment, no user
site, no PYTHONPATH, no bytecode written.
"""
import importlib
import json
import sys

request = json.loads(sys.argv[1])
sys.path[:0] = request["path"]
module_name, _, attrs = request["backend"].partition(":")
backend = importlib.import_module(module_name)
for attr in filter(None, attrs.split(".")):
    backend = getattr(backend, attr)

hook = request["hook"]
if hook == "get_requires_for_build_wheel":
    get = getattr(backend, hook, None)
    result = list(get(None)) if get is not None else []
elif hook == "build_wheel":
    result = backend.build_wheel(request["out"], None)
else:
    raise SystemExit("unknown hook %r" % hook)

with open(request["answer"], "w", encoding="utf-8") as f:
    json.dump({"result": result}, f)
