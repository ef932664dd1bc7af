"""Test support, active only in processes started with tests/support on PYTHONPATH:

- LATENTLAB_RECORD_PARAMS=<folder>: every process that imports latentlab.config gets a `load_config`
  whose result records each leaf key read from it (e.g. `train.lr`), and writes them with the
  process's command line, and the times it imported the config module and exited, to <folder> when
  it exits (to check dvc.yaml's `params:` lists).
- LATENTLAB_KILL_BEFORE=<module>:<function>[:<n>]: the n-th call (default the first) of that function
  (or method: `Class.method`) SIGKILLs the process's whole process group (dvc, the stage and its
  workers) just before it would run: a kill at an exact point of a stage, e.g.
  `latentlab.checkpoint:save_checkpoint` (trained, nothing written yet) or
  `latentlab.resume:ResumeFile.save:2` (the first epoch saved, the second trained but not saved).

Other processes (dvc itself) are untouched: nothing happens until the named module is imported.
"""

import dataclasses
import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import time

FOLDER = os.environ.get("LATENTLAB_RECORD_PARAMS")
KILL = os.environ.get("LATENTLAB_KILL_BEFORE")


def recorded(value, path, reads):
    """A copy of a config dataclass whose field reads add their dotted path to `reads` (leaves only)."""
    cls = type(value)

    def get(self, name):
        item = object.__getattribute__(self, name)
        if name in cls.__dataclass_fields__:
            key = f"{path}.{name}" if path else name
            if dataclasses.is_dataclass(item):
                return recorded(item, key, reads)
            reads.add(key)
        return item

    wrapper = type(cls.__name__, (cls,), {"__getattribute__": get})
    copy = object.__new__(wrapper)
    for field in dataclasses.fields(value):
        object.__setattr__(copy, field.name, getattr(value, field.name))
    return copy


def record_params(module):
    reads = set()
    started = time.time()
    load = module.load_config
    module.load_config = lambda *args, **kwargs: recorded(load(*args, **kwargs), "", reads)

    import atexit

    def write():
        with open(os.path.join(FOLDER, f"{os.getpid()}.json"), "w") as f:
            json.dump({"argv": sys.argv, "reads": sorted(reads), "started": started, "ended": time.time()}, f)

    atexit.register(write)


def kill_before(attribute, nth):
    def patch(module):
        *owners, name = attribute.split(".")
        owner = module
        for part in owners:
            owner = getattr(owner, part)
        original, calls = getattr(owner, name), []

        def killed(*args, **kwargs):
            calls.append(1)
            if len(calls) == nth:
                os.killpg(os.getpgid(0), signal.SIGKILL)
            return original(*args, **kwargs)

        setattr(owner, name, killed)

    return patch


class Hook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs `patch(module)` right after module `name` is first imported."""

    def __init__(self, name, patch):
        self.name, self.patch = name, patch

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        self.original = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self.original.create_module(spec)

    def exec_module(self, module):
        self.original.exec_module(module)
        self.patch(module)


if FOLDER:
    sys.meta_path.insert(0, Hook("latentlab.config", record_params))
if KILL:
    module_name, attribute, *nth = KILL.split(":")
    sys.meta_path.insert(0, Hook(module_name, kill_before(attribute, int(nth[0]) if nth else 1)))
