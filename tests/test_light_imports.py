"""The import hook that keeps bm25s' first import light (:mod:`qa._imports`) and imports in other threads."""

from __future__ import annotations

import sys

from qa import _imports


def test_taking_the_hook_out_never_disturbs_an_import_walking_the_finders():
    """An import walks ``sys.meta_path`` finder by finder (importlib's ``_find_spec``). When bm25s' first import
    takes the hook out while an import in another thread is half-way through that walk (the app's server imports
    its protocol modules while the index loads), the walk must still meet every other finder: the one after the
    hook was skipped, and the server's import failed as if its module were not installed."""
    saved, pending = sys.meta_path, _imports._FINDER.pending
    try:
        _imports._FINDER.pending = {"bm25s"}  # as before bm25s is first imported
        if _imports._FINDER not in sys.meta_path:
            sys.meta_path = [_imports._FINDER, *sys.meta_path]
        finders = list(sys.meta_path)
        start = finders.index(_imports._FINDER)
        walk = iter(sys.meta_path)  # another thread's import, as _find_spec walks the list
        for _ in range(start + 1):
            next(walk)  # up to and including the hook
        _imports.uninstall()  # bm25s' first import takes the hook out meanwhile
        assert list(walk) == finders[start + 1:]
        assert _imports._FINDER not in sys.meta_path
    finally:
        sys.meta_path, _imports._FINDER.pending = saved, pending
