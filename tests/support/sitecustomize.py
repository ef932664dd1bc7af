"""Test support: record which params each stage reads, to check dvc.yaml's `params:` lists.

With LATENTLAB_RECORD_PARAMS=<folder> and this folder on PYTHONPATH, every Python process that
imports latentlab.config gets a `load_config` whose result records each leaf key read from it
(e.g. `train.lr`), and writes them with the process's command line, and the times it imported the
config module and exited, to <folder> when it exits.
Other processes (dvc itself) are untouched: nothing happens until latentlab.config is imported.
"""

import dataclasses
import importlib.abc
import importlib.util
import json
import os
import sys
import time

FOLDER = os.environ.get("LATENTLAB_RECORD_PARAMS")


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


class Recorder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Wraps latentlab.config.load_config right after the module is first imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "latentlab.config":
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
        reads = set()
        started = time.time()
        load = module.load_config
        module.load_config = lambda *args, **kwargs: recorded(load(*args, **kwargs), "", reads)

        import atexit

        def write():
            with open(os.path.join(FOLDER, f"{os.getpid()}.json"), "w") as f:
                json.dump({"argv": sys.argv, "reads": sorted(reads), "started": started, "ended": time.time()}, f)

        atexit.register(write)


if FOLDER:
    sys.meta_path.insert(0, Recorder())
