"""Test queries: the JSON Lines format (see :mod:`qa.eval`) read into :class:`EvalQuery` records."""

from __future__ import annotations

import itertools  # issue 17: query cap
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..config import Settings
from ..errors import QAError
from ..types import Span


@dataclass(frozen=True)
class EvalQuery:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()  #: empty: any document counts
    relevant: tuple[Span, ...] = ()
    type: str | None = None
    paraphrase: bool = False
    line: int = 0  #: line number in the file, from 1

    @property
    def answerable(self) -> bool:
        return bool(self.answers or self.relevant)


def _strings(value, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'"{key}" must be a list of strings')
    return tuple(value)


def _spans(value) -> tuple[Span, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError('"relevant" must be a list of {"doc", "start", "end"} objects')
    spans = []
    for item in value:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("doc"), str)
            and all(isinstance(item.get(k), int) and not isinstance(item.get(k), bool) for k in ("start", "end"))
        )
        if not ok:
            raise ValueError('each "relevant" entry needs "doc" (text) and integer "start" and "end"')
        if not 0 <= item["start"] < item["end"]:
            raise ValueError(f'"relevant" range {item["start"]}..{item["end"]} is empty or negative')
        spans.append(Span(item["doc"], item["start"], item["end"]))
    return tuple(spans)


def parse_query(obj, line: int) -> EvalQuery:
    """One decoded line as a :class:`EvalQuery`; raises ``ValueError`` saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError('"question" is missing or empty')
    qid = obj.get("id", f"line-{line}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise ValueError('"id" must be text')
    if "answers" not in obj and "relevant" not in obj:
        raise ValueError('give "answers" (an empty list for an unanswerable question) or "relevant"')
    answers = _strings(obj.get("answers"), "answers")
    if any(not a.strip() for a in answers):
        raise ValueError('"answers" holds an empty string')
    kind = obj.get("type")
    return EvalQuery(
        id=str(qid),
        question=question,
        answers=answers,
        docs=_strings(obj.get("docs"), "docs"),
        relevant=_spans(obj.get("relevant")),
        type=kind if isinstance(kind, str) else None,
        paraphrase=obj.get("paraphrase") is True,
        line=line,
    )


# -- cap on the number of queries (issue 17: an evaluation file must not run without bound) -----

def _capped(lines: Iterable[str], max_queries: int | None, source) -> list:
    """The lines, or :class:`QAError` when more than ``max_queries`` of them are not blank."""
    lines = list(lines) if max_queries is None else list(itertools.islice(lines, 50 * max_queries + 1))
    if max_queries is not None:
        count = sum(1 for line in lines if (line.strip() if isinstance(line, (str, bytes)) else line))
        if count > max_queries or len(lines) > 50 * max_queries:
            name = f"query file {str(source)!r}" if isinstance(source, (str, Path)) else "the query list"
            raise QAError(f"{name} holds more than {max_queries:,} queries (QA_MAX_EVAL_QUERIES): "
                          "evaluate a sample, split it, or raise the limit")
    return lines


def load_queries(source: str | Path | Iterable[str],
                 max_queries: int | None = Settings.max_eval_queries) -> tuple[list[EvalQuery], list[str]]:
    """Read test queries from a path (str or Path) or from an iterable of lines.

    Returns the valid queries and a list of problems, one human-readable string per bad line
    (with its line number); bad lines are skipped, blank lines ignored. More than ``max_queries``
    non-blank lines (``QA_MAX_EVAL_QUERIES``; ``None``: no cap) raise :class:`QAError`.

    >>> qs, problems = load_queries(['{"id": "a", "question": "Who?", "answers": ["Ann"]}', '{oops'])
    >>> [q.id for q in qs], problems
    (['a'], ['line 2: not valid JSON (Expecting property name enclosed in double quotes, column 2)'])
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except FileNotFoundError:
            raise QAError(f"query file {str(path)!r} does not exist: pass a JSON Lines file of test queries") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise QAError(f"cannot read query file {str(path)!r} ({exc}): save it as UTF-8 JSON Lines") from None
    else:
        lines = source
    lines = _capped(lines, max_queries, source)
    queries: list[EvalQuery] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for n, text in enumerate(lines, start=1):
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        try:
            query = parse_query(obj, n)
        except ValueError as exc:
            problems.append(f"line {n}: {exc}")
            continue
        if query.id in first_line:
            problems.append(f"line {n}: duplicate id {query.id!r} (first on line {first_line[query.id]}); skipped")
            continue
        first_line[query.id] = n
        queries.append(query)
    return queries, problems
