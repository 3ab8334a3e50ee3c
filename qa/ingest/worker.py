"""A worker process for work on untrusted input: one job at a time, each under a time limit.

:class:`Worker` starts a process that imports a job function (``"module:function"``), sends it
jobs and waits at most ``timeout`` seconds for each answer. A job that runs longer is stopped by
killing the process; the next job gets a new one. A job that crashes the process (a segmentation
fault in a C library, the out-of-memory killer) is reported the same way. Whatever the job does,
it cannot hold this process's GIL.

Processes come from the ``forkserver`` start method where the platform has it: a server process
imports the job's libraries once (``preload``) and each new worker is forked from it in tens of
milliseconds; elsewhere from ``spawn``. Either way the worker starts from a fresh interpreter,
never as a copy of this (threaded) process, and unlike multiprocessing's default it does not run
the caller's main script again (so a script without an ``if __name__ == "__main__":`` guard
does not start over in the worker).

Jobs and answers cross the pipe as JSON (text, numbers, lists, dicts), never as pickles: nothing
the worker sends back can make this process run code, even if its input took the worker over.
The worker ignores Ctrl+C (its parent stops it), ends when its parent's end of the pipe closes,
and when the parent is gone while a job runs, ends by itself soon after the job's time limit
(from a C-level timer, so even a job stuck in C code holding its GIL cannot keep it alive).

>>> with Worker("qa.ingest.parse_job:handle") as worker:                     # doctest: +SKIP
...     worker.call({"path": "/docs/a.pdf", ...}, timeout=60)
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import traceback
import types
from contextlib import contextmanager
from multiprocessing import forkserver
from multiprocessing.connection import wait
from typing import Iterator

#: Seconds a new worker may take to import its job's modules before it is given up on.
START_TIMEOUT = 120.0
#: Seconds after its time limit a job's worker ends by itself when its parent is gone.
ORPHAN_GRACE = 10.0


class WorkerError(Exception):
    """The worker could not do the job."""


class JobTimeout(WorkerError):
    """The job ran past its time limit; the worker was killed."""


class WorkerCrashed(WorkerError):
    """The worker ended without answering (killed by a signal, out of memory ...)."""


class JobFailed(WorkerError):
    """The job raised an exception in the worker; ``details`` holds the worker's traceback."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class WorkerStartError(WorkerError):
    """No worker process could be started (or it could not import its job)."""


def _encode(obj) -> bytes:
    # lone surrogates (possible in text extracted from a PDF) travel as they are
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _decode(data: bytes):
    return json.loads(data.decode("utf-8", "surrogatepass"))


#: Worker processes start one at a time (see :func:`_without_main`).
_START_LOCK = threading.Lock()


@contextmanager
def _without_main() -> Iterator[None]:
    """Hide the main module while a worker starts: multiprocessing would otherwise run the caller's
    script again in the worker (the job lives in a module of its own), and a script without an
    ``if __name__ == "__main__":`` guard would index the folder again there. Only for the few
    milliseconds it takes to send the worker its start-up data."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class Worker:
    """A worker process running ``handler`` (``"module:function"``, the function takes and returns
    JSON-ready data). Started on first use, restarted after a job is stopped; not thread-safe."""

    def __init__(self, handler: str, preload: tuple[str, ...] = (), max_answer_bytes: int = 1 << 30,
                 start_timeout: float = START_TIMEOUT):
        self.handler = handler
        self.preload = preload
        self.max_answer_bytes = max_answer_bytes
        self.start_timeout = start_timeout
        self._process = None
        self._conn = None
        self._ready = False

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The running worker's process id, or ``None``."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the worker if none runs; it imports its job meanwhile (:meth:`call` waits for that)."""
        if self._process is not None:
            return
        ctx = _context()
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child, self.handler), name="qa-worker", daemon=True)
        try:
            if ctx.get_start_method() == "forkserver":
                if self.preload:
                    ctx.set_forkserver_preload(list(self.preload))  # only taken when the server starts
                forkserver.ensure_running()
            with _START_LOCK, _without_main():
                process.start()
        except (OSError, ValueError, RuntimeError, AssertionError) as exc:  # AssertionError: in a daemon process
            parent.close()
            raise WorkerStartError(f"cannot start a worker process ({exc or type(exc).__name__})") from exc
        finally:
            child.close()
        self._process, self._conn, self._ready = process, parent, False

    def _wait_ready(self) -> None:
        process, conn = self._process, self._conn
        if not wait([conn, process.sentinel], self.start_timeout):
            self.stop()
            raise WorkerStartError(f"the worker process did not start in {self.start_timeout:g} s")
        try:
            hello = _decode(conn.recv_bytes(1 << 20))
        except (EOFError, OSError, ValueError, RecursionError):
            process.join(1)
            code = process.exitcode
            self.stop()
            raise WorkerStartError(f"the worker process ended at start ({_ended(code)})") from None
        if hello != {"ready": True}:
            self.stop()
            why = hello.get("error", hello) if isinstance(hello, dict) else hello
            raise WorkerStartError(f"the worker could not load {self.handler} ({why})")
        self._ready = True

    def call(self, job, timeout: float):
        """Run one job; its answer, or :class:`JobTimeout`, :class:`WorkerCrashed`, :class:`JobFailed`
        (then a new worker serves the next job), or :class:`WorkerStartError`."""
        payload = _encode({"job": job, "deadline": timeout + ORPHAN_GRACE})
        for attempt in (1, 2):
            self.start()
            if not self._ready:
                self._wait_ready()
            try:
                self._conn.send_bytes(payload)
                break
            except OSError:  # it ended while idle (killed from outside): once more with a new one
                self.stop()
                if attempt == 2:
                    raise WorkerCrashed("the worker process ended before the job was sent") from None
        process, conn = self._process, self._conn
        if not wait([conn, process.sentinel], timeout):
            self.stop()
            raise JobTimeout(f"the job took longer than {timeout:g} s")
        try:
            answer = _decode(conn.recv_bytes(self.max_answer_bytes))
        except (EOFError, OSError, ValueError, RecursionError):
            process.join(1)
            code = process.exitcode
            self.stop()
            raise WorkerCrashed(f"the worker process {_ended(code)}") from None
        if not isinstance(answer, dict) or not ("ok" in answer or "error" in answer):
            self.stop()
            raise WorkerCrashed("the worker process sent a malformed answer")
        if "error" in answer:
            raise JobFailed(str(answer["error"]), str(answer.get("traceback", "")))
        return answer["ok"]

    def stop(self) -> None:
        """Kill the worker (idle or not) and wait for it to end."""
        process, conn = self._process, self._conn
        self._process, self._conn, self._ready = None, None, False
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.join(10)
            try:
                process.close()
            except ValueError:  # still running: nothing more can be done
                pass


def _ended(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"ended with exit code {code}"


# -- in the worker process ---------------------------------------------------------------------

def _serve(conn, handler: str) -> None:
    """The worker's loop: load the job function, then answer one job at a time until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group: the parent decides
    _end_with_parent()
    try:
        module, _, name = handler.partition(":")
        function = getattr(importlib.import_module(module), name)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which says what failed
        conn.send_bytes(_encode({"error": f"{type(exc).__name__}: {exc}"}))
        return
    conn.send_bytes(_encode({"ready": True}))
    quiet = open(os.devnull, "w")  # noqa: SIM115 - for the timer below, for the worker's life
    while True:
        try:
            request = _decode(conn.recv_bytes())
        except (EOFError, OSError):
            return
        # if the parent is gone and the job is stuck in C code, this timer (a C thread) still ends the process
        faulthandler.dump_traceback_later(request["deadline"], exit=True, file=quiet)
        try:
            answer = {"ok": function(request["job"])}
        except Exception as exc:  # noqa: BLE001 - a bug or a surprise in a parser: one document fails, not the build
            answer = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        faulthandler.cancel_dump_traceback_later()
        try:
            data = _encode(answer)
        except (TypeError, ValueError) as exc:  # not plain data: a bug in the job
            data = _encode({"error": f"the answer is not plain data ({exc})"})
        try:
            conn.send_bytes(data)
        except OSError:
            return


def _end_with_parent() -> None:
    """End this process as soon as its parent ends (a thread waiting on the parent's sentinel)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="qa-worker-parent", daemon=True).start()


__all__ = ["Worker", "WorkerError", "JobTimeout", "WorkerCrashed", "JobFailed", "WorkerStartError"]
