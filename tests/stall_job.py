"""Parse jobs for tests, run in the parse worker (``monkeypatch.setattr(qa.ingest.parsing, "JOB",
"stall_job:handle")``): documents are read and split as usual, except by name:

- ``stall*``: first holds the worker's GIL inside C code for hours (a backtracking regular
  expression), as a parser stuck in a C library would;
- ``crash*``: the worker dies of a segmentation fault;
- ``liar*``: the answer's first passage ends far outside the text.
"""

from __future__ import annotations

import os
import re
import signal

from qa.ingest.parse_job import handle as read_and_split


def handle(job: dict) -> dict:
    name = os.path.basename(job.get("path") or job.get("document", {}).get("id", ""))
    if name.startswith("stall"):
        re.match(r"(a|aa)+$", "a" * 80 + "b")  # exponential backtracking, all in C with the GIL held
    if name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    answer = read_and_split(job)
    if name.startswith("liar") and answer.get("passages"):
        answer["passages"][0][1] = 10**9
    return answer
