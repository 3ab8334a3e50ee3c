"""Serve the question-answering app in the browser.

    python app.py                      # serve on http://127.0.0.1:7860 at once; index ./seeds meanwhile
    python app.py --docs notes/ --port 8000

The page is served before the index is built or checked: it shows "indexing N documents" with one
progress bar and answers as soon as the index is ready. A port that is taken fails at once.

Settings come from the defaults, then ``QA_*`` environment variables (``QA_HOST``, ``QA_PORT``,
``QA_DOCS``, ``QA_INDEX``, ...), then these flags. The app listens on loopback unless told
otherwise and is never shared through a public link.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from pathlib import Path

from qa.config import Settings
from qa.errors import QAError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the question-answering app in the browser.")
    parser.add_argument("--docs", type=Path, help="document folder (default ./seeds, or QA_DOCS)")
    parser.add_argument("--index", type=Path, help="index folder (default ./vectorstore, or QA_INDEX)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1, or QA_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 7860, or QA_PORT)")
    return parser.parse_args(argv)


def settings_from(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, then ``QA_*`` variables from ``env`` (default: the environment), then the flags in ``argv``."""
    args = parse_args(argv)
    return Settings.from_env(env, docs=args.docs, index=args.index, host=args.host, port=args.port)


#: What to do about each way listening can fail: the host is not an address here, the port is taken or
#: needs privileges; anything else names both settings.
HOST_ADVICE = "choose another host with --host or QA_HOST (127.0.0.1: this machine only)"
PORT_ADVICE = "choose another port with --port or QA_PORT"
PRIVILEGED_ADVICE = "ports below 1024 need privileges: choose one from 1024 up with --port or QA_PORT"
OTHER_ADVICE = "choose another host or port with --host or --port (QA_HOST, QA_PORT)"


def listen_problem(host: str, port: int) -> tuple[str, str] | None:
    """Why ``host:port`` cannot be listened on and what to do about it, or ``None``; checked before
    anything slow is loaded, so a taken port fails in a moment."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # a host name that does not resolve
        return f"no such host: {exc.strerror or exc}", HOST_ADVICE
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name != "nt":  # as the server itself binds (uvicorn): a port whose last connections are still in
            # TIME_WAIT, just after the app was stopped, is free to listen on; one listened on is still refused
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"not an address of this machine: {why}", HOST_ADVICE
            if exc.errno == errno.EADDRINUSE:
                return why, PORT_ADVICE
            if exc.errno == errno.EACCES and 0 < port < 1024:
                return why, PRIVILEGED_ADVICE
            return why, OTHER_ADVICE
    return None


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (taken, not an address here), or ``None``."""
    problem = listen_problem(host, port)
    return problem[0] if problem else None


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("qa").setLevel(logging.INFO)
    # Served from a script, not a notebook: without IPython, Gradio's import and its notebook checks at
    # launch skip importing it (0.5-0.8 s of CPU, docs/benchmarks.md "Cold start"). Inside IPython it stays.
    sys.modules.setdefault("IPython", None)
    try:
        settings = settings_from(argv)
    except QAError as exc:
        print(f"app: error: {exc}", file=sys.stderr)
        return 1
    problem = listen_problem(settings.host, settings.port)
    if problem:
        print(f"app: error: cannot listen on {settings.host}:{settings.port} ({problem[0]}); {problem[1]}",
              file=sys.stderr)
        return 1

    from qa.pipeline import Pipeline
    from qa.web.app import build_app, launch
    from qa.web.warmup import Warmup

    try:
        pipeline = Pipeline(settings)
        warmup = Warmup(pipeline)
        app = build_app(pipeline, warmup)
        try:
            _, url, _ = launch(app, settings, prevent_thread_lock=True, quiet=True)
        except OSError as exc:  # the port was taken between the check above and now, or the server failed to bind
            print(f"app: error: cannot listen on {settings.host}:{settings.port} ({exc}); "
                  "choose another port with --port or QA_PORT", file=sys.stderr)
            return 1
        print(f"Serving on {url} (Ctrl+C to stop); indexing {settings.docs} in the background ...",
              file=sys.stderr)
        warmup.wait()
        if warmup.error:
            print(f"app: error: {warmup.error}", file=sys.stderr)
            app.close()
            return 1
        if warmup.empty:
            print(f"No documents in {settings.docs} yet: add them in the page's Documents tab.", file=sys.stderr)
        else:
            print("Ready: the index is loaded.", file=sys.stderr)
        app.block_thread()
    except QAError as exc:
        print(f"app: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # not the port: a file or folder the app could not read or write
        print(f"app: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
