"""Start-up in the background: the app listens at once while the index is built or checked,
the models load and ranx's kernels compile. No UI framework here.

>>> w = Warmup(pipeline)            # doctest: +SKIP
>>> w.start(); w.wait(60); w.ready  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from ..ingest.documents import SUFFIXES
from ..errors import NoDocumentsError, QAError

log = logging.getLogger("qa")


class Warmup:
    """Runs ``pipeline.warm_up`` once in a daemon thread and says how far it got."""

    def __init__(self, pipeline, metrics: bool = True, clock=time.monotonic):
        self.pipeline = pipeline
        self.metrics = metrics
        self.fraction = 0.0
        self.message = "starting"
        self._clock = clock
        self._step = (self.message, 0.0, clock())  #: the current step, its fraction and time at its start
        self.error: str | None = None
        #: the document folder is there and holds no document yet: the app serves, and asks for some
        self.empty = False
        self.total = self._count_files()
        self._ready = threading.Event()
        self._metrics_ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _count_files(self) -> int:
        docs = self.pipeline.settings.docs
        try:
            return sum(1 for p in docs.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        except OSError:
            return 0

    def start(self) -> "Warmup":
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qa-warmup", daemon=True)
                self._thread.start()
                if self.metrics:  # after the index (see _warm_metrics): loading or compiling numba kernels
                    threading.Thread(target=self._warm_metrics, name="qa-warm-metrics", daemon=True).start()
                else:
                    self._metrics_ready.set()
        return self

    def _progress(self, fraction: float, message: str) -> None:
        if message != self._step[0]:
            self._step = (message, float(fraction), self._clock())
        self.fraction, self.message = float(fraction), message

    def seconds_left(self) -> float | None:
        """Time the current step still needs at its pace so far; ``None`` until it has run 2 s and
        done 5 % of itself."""
        message, start, t0 = self._step
        elapsed, done = self._clock() - t0, self.fraction - start
        if message != self.message or elapsed < 2 or done < 0.05 or self.fraction >= 1:
            return None
        return elapsed * (1 - self.fraction) / done

    def _run(self) -> None:
        try:
            self.message = "loading the language model"
            self.pipeline.embedder.warm_up()
            self.message = "checking the index"
            self.pipeline.warm_up(progress=self._progress)
        except NoDocumentsError as exc:
            if self.pipeline.settings.docs.is_dir():  # there and empty: documents can be added in the page
                self.empty = True
            else:
                self.error = str(exc)
        except QAError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown in the page instead of a dead app
            log.error("start-up failed:\n%s", traceback.format_exc())
            self.error = f"start-up failed ({type(exc).__name__}: {exc})"
        finally:
            self.fraction = 1.0
            self._ready.set()

    def _warm_metrics(self) -> None:
        """Compile the evaluation's kernels once the index is ready: not beside it, where the embedder's first
        import of torch let scipy (in the paired test) see a half-imported torch ("partially initialized module
        'torch' has no attribute 'Tensor'") and the kernels went unprepared."""
        self._ready.wait()
        try:
            from ..eval import warm_up

            log.info("evaluation metrics ready (%.1f s)", warm_up())
        except Exception:  # noqa: BLE001 - evaluation then compiles on first use
            log.warning("could not prepare the evaluation metrics:\n%s", traceback.format_exc())
        finally:
            self._metrics_ready.set()

    @property
    def ready(self) -> bool:
        """Start-up finished (check :attr:`error`)."""
        return self._ready.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def wait_metrics(self, timeout: float | None = None) -> bool:
        return self._metrics_ready.wait(timeout)

    def describe(self) -> str:
        """What start-up is doing, in words: "Indexing 5 documents: embedding passages (40%, about 30 s left)..."."""
        n = f"{self.total} document{'s' if self.total != 1 else ''}"
        step = self.message
        if step in ("reading documents", "splitting documents") and self.total:
            step = f"reading document {min(self.total, int(self.fraction * self.total) + 1)} of {self.total}"
        elif self.fraction:
            left = self.seconds_left()
            step = f"{step} ({self.fraction:.0%}{', ' + _about(left) + ' left' if left is not None else ''})"
        return f"Indexing {n}: {step}. Questions are answered when it is done."


def _about(seconds: float) -> str:
    """"about 40 s", "about 3 min": rounded, as a person would say it."""
    if seconds < 60:
        return f"about {max(5, 5 * round(seconds / 5))} s"
    return f"about {round(seconds / 60)} min"
