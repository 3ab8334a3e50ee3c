"""Keep a cold start light: bm25s without numba, scipy and tqdm.

bm25s imports numba and ``scipy.sparse`` whenever they are installed, and tqdm (seconds of a cold
``qa ask``, measured in docs/benchmarks.md, "Cold start"), although qa only uses its numpy backends
(``bm25s.BM25(backend="numpy", csc_backend="numpy")``, the defaults; see :mod:`qa.index.lexical`) and
never its progress bars (``show_progress=False``).

:func:`install` adds an import hook that runs the *first* import of bm25s with those modules hidden,
as if they were not installed (and bm25s' own ``DISABLE_TQDM`` set); bm25s then takes its own
fallback paths. Nothing else changes: the hidden modules import normally afterwards (numba and scipy
for ``ranx`` in ``qa eval``, tqdm for the progress bars of ``qa index``), and a module already
imported is left visible.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

#: For each library, the modules hidden during its first import (when not imported yet); ``scipy``
#: itself too, so that the package is not loaded for nothing.
HIDDEN = {"bm25s": ("numba", "scipy", "scipy.sparse")}
#: Environment variables set during that import.
ENVIRONMENT = {"bm25s": {"DISABLE_TQDM": "1"}}


class _LightLoader(importlib.abc.Loader):
    def __init__(self, name: str, loader):
        self._name, self._loader = name, loader

    def __getattr__(self, attr):  # anything else (is_package, get_resource_reader ...) as the library's own
        return getattr(self._loader, attr)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        hidden = [n for n in HIDDEN[self._name] if n not in sys.modules]
        saved = {k: os.environ.get(k) for k in ENVIRONMENT.get(self._name, {})}
        for n in hidden:
            sys.modules[n] = None  # ``import n`` raises ImportError
        os.environ.update(ENVIRONMENT.get(self._name, {}))
        try:
            self._loader.exec_module(module)
        finally:
            for n in hidden:
                if n in sys.modules and sys.modules[n] is None:
                    del sys.modules[n]
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class _LightImports(importlib.abc.MetaPathFinder):
    def __init__(self):
        self.pending = set(HIDDEN)

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        self.pending.discard(name)
        if not self.pending:
            uninstall()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _LightLoader(name, spec.loader)
        return spec


_FINDER = _LightImports()


# ``sys.meta_path`` is replaced, never changed in place: an import in another thread may be walking the list at
# that moment (the app's server imports its protocol modules while the index loads, and bm25s with it), and
# removing the finder from the list under that walk would skip the finder after it: that import would fail as if
# its module were not installed.


def install() -> None:
    _FINDER.pending = {n for n in HIDDEN if n not in sys.modules}
    if _FINDER.pending and _FINDER not in sys.meta_path:
        sys.meta_path = [_FINDER, *sys.meta_path]


def uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path = [f for f in sys.meta_path if f is not _FINDER]
