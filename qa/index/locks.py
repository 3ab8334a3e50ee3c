"""Writing the index safely: the writer lock, and clear errors for a full or read-only disk."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import IndexProblem, IndexWriteError
from ..types import Document, Passage

#: errno values that mean "this folder cannot be written".
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def write_lock(folder: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively; wait up to ``timeout`` seconds for another writer.

    A folder this call made is removed again when the lock file is all it holds at the end (an update
    refused before it wrote anything leaves nothing behind), with the folders made above it."""
    made, fd = _open_lock(folder)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise IndexProblem(
                        f"another process is writing the index in {str(folder)!r} "
                        f"(waited {timeout:.0f} s); try again when it has finished"
                    ) from None
                time.sleep(0.2)
                continue
            if _same_file(fd, folder / ".lock"):
                break
            # the writer before us removed the folder it had made (it wrote nothing): lock a new one
            os.close(fd)
            fd = -1
            made, fd = _open_lock(folder)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        if fd >= 0:
            if made:
                _remove_if_only_the_lock(folder, made)
            os.close(fd)  # closing releases the lock


def _open_lock(folder: Path) -> tuple[list[Path], int]:
    """Make ``folder`` when needed and open its lock file: (the folders made, from ``folder`` up; the descriptor)."""
    made = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        made.append(parent)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return made, os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_problem(folder, exc) from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _remove_if_only_the_lock(folder: Path, made: list[Path]) -> None:
    """Remove the lock file and the folders in ``made`` (this writer made them) when nothing else was written."""
    with contextlib.suppress(OSError):
        if [p.name for p in folder.iterdir()] != [".lock"]:
            return
        (folder / ".lock").unlink()
        for path in made:  # from the index folder up; one that is not empty stops it
            path.rmdir()


def write_problem(folder: Path, exc: OSError, needed: int | None = None) -> IndexWriteError:
    """A clear :class:`IndexWriteError` for an ``OSError`` met while writing the index."""
    where = str(folder)
    if exc.errno in _FULL:
        return IndexWriteError(f"disk full: {_space(folder, needed)} in {where!r}; the previous index is "
                               "unchanged and still answers: free some space, then run `qa index` again")
    if exc.errno in _READ_ONLY:
        return IndexWriteError(f"the index folder {where!r} is read-only ({exc.strerror or exc}): questions "
                               "are answered from the index as it is; to update it, make the folder writable "
                               "or pass --index DIR")
    return IndexWriteError(f"cannot write the index in {where!r} ({exc.strerror or exc}); the previous index "
                           "is unchanged and still answers")


def _space(folder: Path, needed: int | None) -> str:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    mb = lambda n: f"{n / 2**20:,.1f} MB"  # noqa: E731
    need = f"about {mb(needed)} needed" if needed else "more space needed"
    return need + (f", {mb(free)} free" if free is not None else "")


def estimate_bytes(documents: list[Document], passages: list[Passage], *arrays: np.ndarray) -> int:
    """About how many bytes a segment of these documents takes on disk (texts twice: the documents
    file and the tokens; passage vectors twice: the arrays and the vector index)."""
    text = sum(len(d.text.encode("utf-8", "surrogatepass")) for d in documents)
    return int(2.2 * text + 200 * len(passages) + sum(a.nbytes for a in arrays) + (arrays[0].nbytes if arrays else 0)
               + (1 << 20))


def check_space(folder: Path, needed: int) -> None:
    """Raise the disk-full :class:`IndexWriteError` at once when ``needed`` bytes are not free."""
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder).free < needed:
            raise write_problem(folder, OSError(errno.ENOSPC, "No space left on device"), needed)
