"""The ``qa`` command line. Heavy libraries are imported only by the commands that need them,
so ``qa --help`` answers at once."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
from pathlib import Path

from . import __version__
from .config import MODES, READER_ALIASES, READERS, Settings
from .errors import QAError
from .types import confidence_text, plain_quote, shown_section, untitled


class _Parser(argparse.ArgumentParser):
    """Reports a usage mistake in one line, like the program's other errors."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _common(p: argparse.ArgumentParser, default=None) -> None:
    """The options every command takes. They may come before the command too (``qa --docs D ask ...``): the main
    parser has them, and a command's parser, whose ``default`` is ``argparse.SUPPRESS``, sets only those given
    after it (argparse copies a command's values over the main parser's)."""
    def add(*names, **kw):
        p.add_argument(*names, default=default, **kw)

    add("--docs", type=Path, help="document folder (default ./seeds, or QA_DOCS)")
    add("--index", type=Path, help="index folder (default ./vectorstore, or QA_INDEX)")
    add("--model", help="local sentence-transformers model folder (default: the model shipped in "
        "qa/models/encoder when there is one, else the bundled all-MiniLM-L6-v2, which "
        "all-MiniLM-L6-v2 always names)")
    add("--encoder", choices=("torch", "onnx"),
        help="question encoder: onnx (default: int8, no torch when answering) or torch (or QA_ENCODER)")
    add("--question-model", metavar="M",
        help="question encoder for the bundled model's passages: auto (default: trained for questions, "
        "the statement encoder for other queries), bundled, trained, or an .onnx file from "
        "`python -m qa.train question` (or QA_QUESTION_MODEL)")
    add("--reader", choices=READERS + tuple(READER_ALIASES),
        help="answer reader: passage (default), sentence, combined or heuristic (or QA_READER)")
    add("--reader-model", help="the reader's model: a local .onnx file (default: bundled)")
    add("--rerank", type=int, metavar="N",
        help="rerank the best N passages of a search with the trained model (default 0: off)")


def _query_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("-k", type=int, help="number of passages (default 5)")
    p.add_argument("--mode", choices=MODES, type=str.lower, help="retrieval mode (default hybrid)")
    p.add_argument("--doc", action="append", dest="docs_filter", metavar="ID",
                   help="only search this document id (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--spelling", choices=("on", "off"),
                   help="on (default): words with typos are searched corrected (shown as 'Searched for: ...'); "
                        "off: as typed (or QA_SPELLING)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qa", description="Extractive question answering over a folder of documents, with citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show more detail")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.subcommands = sub.choices  # name -> its parser, for errors that point to its own help

    p = sub.add_parser("index", help="build or update the index from the document folder")
    _common(p, argparse.SUPPRESS)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--verify", action="store_true",
                   help="read every index file again and check its checksum (otherwise files unchanged since "
                        "they were last checked are trusted); damage found is repaired")
    p.add_argument("--chunk-size", type=int, help="passage size in characters")
    p.add_argument("--chunk-overlap", type=int, help="overlap between passages in characters")

    p = sub.add_parser("search", help="print the passages that best match a question, with citations")
    _common(p, argparse.SUPPRESS)
    _query_args(p)

    p = sub.add_parser("ask", help="answer a question with a span from the documents, and its evidence")
    _common(p, argparse.SUPPRESS)
    _query_args(p)

    p = sub.add_parser("list", help="list the indexed documents: title, type, pages, passages, when indexed")
    _common(p, argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("add", help="copy documents (.txt .md .pdf .html) into the document folder and index them")
    _common(p, argparse.SUPPRESS)
    p.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR", help="files, or folders of documents")
    p.add_argument("--link", action="store_true",
                   help="index the files where they are instead of copying them (their paths are recorded)")
    p.add_argument("--replace", action="store_true",
                   help="replace a document of the same name (default: keep both, the new one as 'name (2).ext')")

    p = sub.add_parser("remove", help="remove documents from the collection and the index (see `qa list` for ids); "
                                      "files go to the trash beside the index, `qa restore` puts them back")
    _common(p, argparse.SUPPRESS)
    p.add_argument("ids", nargs="+", metavar="ID", help="document id as `qa list` shows it")

    p = sub.add_parser("trash", help="list removed documents that `qa restore` can put back")
    _common(p, argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("restore", help="put removed documents back into the document folder and index them")
    _common(p, argparse.SUPPRESS)
    p.add_argument("ids", nargs="+", metavar="ID", help="document id as `qa trash` shows it")

    p = sub.add_parser("eval", help="measure retrieval and answers on a JSON Lines file of test queries")
    _common(p, argparse.SUPPRESS)
    p.add_argument("queries", type=Path, help="test queries, one JSON object a line (see qa.eval)")
    p.add_argument("--mode", dest="eval_mode", choices=MODES + ("all",), default="hybrid", type=str.lower,
                   help="retrieval mode, or all to compare them (default hybrid)")
    p.add_argument("-k", type=int, default=10, help="passages retrieved per query; length of the recall curve "
                   "(at least 10: MRR@10 and nDCG@10 need the first 10)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--report", type=Path, metavar="DIR", help="write JSON, a Markdown summary and recall@k curves")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    spelling = getattr(args, "spelling", None)  # "on" or "off"; None: not given
    return Settings.from_env(
        docs=getattr(args, "docs", None),
        index=getattr(args, "index", None),
        model=getattr(args, "model", None),
        encoder=getattr(args, "encoder", None),
        question_model=getattr(args, "question_model", None),
        chunk_size=getattr(args, "chunk_size", None),
        chunk_overlap=getattr(args, "chunk_overlap", None),
        mode=getattr(args, "mode", None),
        reader=getattr(args, "reader", None),
        reader_model=getattr(args, "reader_model", None),
        rerank=getattr(args, "rerank", None),
        spelling=None if spelling is None else spelling == "on",
    )


def _pipeline(args):
    from .pipeline import Pipeline

    return Pipeline(_settings(args))


#: Characters a terminal may act on instead of showing: C0 and C1 controls (escape sequences start
#: with ESC or CSI), DEL, and the bidirectional overrides that make text read other than it is.
_UNSAFE_TERMINAL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_UNSAFE_IN_JSON = re.compile(r"[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class _SafeFormatter(logging.Formatter):
    """Log lines (reports of indexing, which name documents) printed like the rest: escapes visible."""

    def format(self, record: logging.LogRecord) -> str:
        return show(super().format(record))


def show(text: object) -> str:
    """Document text made safe to print: every control character is written visibly as an escape
    (``\\x1b``), so a document cannot move the cursor, recolour or retitle the user's terminal.

    >>> show("red \\x1b[31mtext")
    'red \\\\x1b[31mtext'
    """
    return _UNSAFE_TERMINAL.sub(lambda m: ascii(m.group())[1:-1], str(text))


def _json(obj) -> str:
    """JSON with every control character escaped (``ensure_ascii=False`` leaves C1 controls raw)."""
    text = json.dumps(obj, ensure_ascii=False, indent=1)  # C0 controls in strings are escaped already
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _title(title: str, doc: str) -> str:
    """A document's title as shown: "(untitled)" when it is only its file name, as in the app."""
    return "(untitled)" if untitled(title, doc) else show(title)


def _cite(hit) -> str:
    p = hit.passage
    where = f"{show(p.doc)} [{p.start}:{p.end}]"
    if p.page:
        where += f" p. {p.page}"
    section = shown_section(p.section, p.title)
    if section:
        where += f" § {show(section)}"
    return where


def cmd_index(args) -> int:
    qa = _pipeline(args)
    report = qa.index(force=args.rebuild, show_bar=sys.stderr.isatty(), verify=args.verify)
    for line in report.lines():
        print(show(line))
    return 0


def _searched_for(corrected: str | None) -> None:
    if corrected is not None:
        print(f"Searched for: {show(corrected)}   (as typed: --spelling off)\n")


def cmd_search(args) -> int:
    qa = _pipeline(args)
    corrected = qa.correct(args.question)
    hits = qa.search(args.question, k=args.k, mode=args.mode, docs=args.docs_filter)
    if args.json:  # each passage says what it was found for (None: the question as typed)
        print(_json([{**h.to_dict(), "searched_for": corrected} for h in hits]))
        return 0
    _searched_for(corrected)
    if not hits:
        print("no passage matches the question")
    for h in hits:
        print(f"[{h.rank}] {h.score:.4f} {h.mode}  {_title(h.passage.title, h.passage.doc)}  ({_cite(h)})")
        text = " ".join(h.passage.text.split())
        print("    " + show(text if len(text) <= 400 else text[:400] + " ..."))
    return 0


def cmd_ask(args) -> int:
    qa = _pipeline(args)
    answer = qa.ask(args.question, k=args.k, mode=args.mode, docs=args.docs_filter)
    if args.json:
        print(_json(answer.to_api()))
        return 0
    _searched_for(answer.searched_for)
    if answer.status == "none":
        print(show(answer.message or "The documents do not seem to answer this."))
        print(f"  confidence {confidence_text(answer.confidence)}: no span is likely enough to be the answer")
        print("\nClosest passages:")
    else:
        # a line break inside the answer (a PDF's line end) is shown as a space, as the sentence's are
        text = f"{show(' '.join(answer.text.split()))}   [{answer.cited}] confidence {confidence_text(answer.confidence)}"
        print(f"Possible answer (not sure): {text}" if answer.status == "tentative" else text)
        print(f"  \u201c{show(plain_quote(answer.sentence or ''))}\u201d")
        print(f"  {show(answer.doc)} [{answer.start}:{answer.end}]" + (f" p. {answer.page}" if answer.page else "")
              + (f" \u00a7 {show(answer.section)}" if answer.section else ""))
        if answer.message:  # why a possible answer is not stated as sure
            print(f"  Not sure: {answer.message}")
        if answer.found_deeper:
            print(f"  From further down: the passages read first gave no sure answer; this one was retrieved "
                  f"#{answer.citations[answer.cited - 1].rank}")
        print("\nEvidence:")
    for n, h in enumerate(answer.citations, start=1):
        print(f"[{n}] {_title(h.passage.title, h.passage.doc)} ({_cite(h)})")
    return 0


def cmd_list(args) -> int:
    qa = _pipeline(args)
    docs = qa.documents()
    if args.json:
        print(_json([d.to_dict() for d in docs]))
        return 0
    width = max((len(show(d.id)) for d in docs), default=0)  # the columns line up whatever the ids' lengths
    for d in docs:
        pages = f"{d.pages:>4} pages" if d.pages else " " * 9
        indexed = (d.indexed or "")[:16].replace("T", " ")
        passages = f"{d.passages:>4} passage{'s' if d.passages != 1 else ' '}"
        print(f"{show(d.id):<{width}}  {d.kind:<8}  {pages}  {passages}  {indexed:<16}  {_title(d.title, d.id)}")
    return 0


def _quiet(line: str) -> None:
    """Index reports the command prints itself are not logged a second time."""


def cmd_add(args) -> int:
    qa = _pipeline(args)
    added, report = qa.add(args.paths, link=args.link, replace=args.replace, notify=_quiet)  # printed once, below
    for name, why in added.skipped:  # a warning, apart from what was done
        print(f"qa: skipped {show(name)}: {show(why)}", file=sys.stderr)
    for line in added.lines(report, skipped=False):
        print(show(line))
    if not added.changed and not added.unchanged:
        print("qa: error: nothing was added", file=sys.stderr)
        return 1
    return 0


def cmd_remove(args) -> int:
    qa = _pipeline(args)
    for line in qa.remove(args.ids, notify=_quiet).lines():  # printed once, here
        print(show(line))
    return 0


def cmd_trash(args) -> int:
    entries = _pipeline(args).trashed()
    if args.json:
        print(_json([e.to_dict() for e in entries]))
        return 0
    if not entries:
        print("the trash is empty")
    for e in entries:
        where = f"linked file {e.link} (forgotten, not moved)" if e.link else e.file
        print(f"{show(e.id)}  removed {e.removed[:19].replace('T', ' ')}  {show(where)}")
    return 0


def cmd_restore(args) -> int:
    qa = _pipeline(args)
    report = qa.restore(args.ids, notify=_quiet)  # printed once, below
    print(f"restored {len(args.ids)}: {show(', '.join(args.ids))}")
    for line in report.lines() if report is not None else []:
        print(show(line))
    return 0


def cmd_eval(args) -> int:
    from .eval import evaluate, format_text, load_queries, write_report
    from .eval.ranking import RANK_DEPTH

    qa = _pipeline(args)
    queries, problems = load_queries(args.queries, max_queries=qa.settings.max_eval_queries)
    for problem in problems:
        print(f"qa: {show(args.queries)}: {show(problem)}", file=sys.stderr)
    qa.warm_up(show_bar=sys.stderr.isatty())
    if args.k < RANK_DEPTH:  # said, not done quietly
        print(f"qa: -k {args.k} is below {RANK_DEPTH}: evaluating the top {RANK_DEPTH} (MRR@10 and nDCG@10 need "
              "them)", file=sys.stderr)
    modes = MODES if args.eval_mode == "all" else (args.eval_mode,)
    result = evaluate(qa, queries, modes=modes, k=args.k, show_bar=sys.stderr.isatty())
    result = dataclasses.replace(result, problems=tuple(problems))
    for warning in result.warnings:  # said once, here, where the file's problems are (not again in the text below)
        print(f"qa: {show(args.queries)}: {show(warning)}", file=sys.stderr)
    if args.report:
        for path in write_report(result, args.report):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:  # the warnings stay in the JSON: it is data, read by programs
        print(_json(result.to_dict()))
    else:
        print("\n".join(map(show, format_text(dataclasses.replace(result, warnings=())).split("\n"))))
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search, "ask": cmd_ask, "list": cmd_list, "add": cmd_add,
            "remove": cmd_remove, "trash": cmd_trash, "restore": cmd_restore, "eval": cmd_eval}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # an unknown option belongs to the subcommand: point to its own help
        parser.subcommands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s",
                        stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setFormatter(_SafeFormatter("%(message)s"))
    logging.getLogger("qa").setLevel(logging.INFO)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it tried, even with -v
    try:
        return COMMANDS[args.command](args)
    except QAError as exc:
        print(f"qa: error: {show(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # whoever read the output stopped early (``qa search ... | head``): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a folder that cannot be read or written
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        print(f"qa: error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
