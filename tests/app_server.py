"""Serve the real app on a free loopback port for the API and browser tests."""

from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Iterator

from qa.pipeline import Pipeline
from qa.web.app import build_app, launch


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(pipeline: Pipeline) -> Iterator[str]:
    """The app over ``pipeline``, launched as ``app.py`` launches it; yields its URL."""
    settings = pipeline.settings.replace(host="127.0.0.1", port=free_port())
    app = build_app(pipeline)
    _, url, _ = launch(app, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        app.close()
