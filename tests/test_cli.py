"""The ``qa`` command, run as a user runs it (``python -m qa ...`` in a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEEDS, TINY_DOCS, write_docs
from qa.index import store
from qa.ingest.chunking import split_passages
from qa.config import Settings
from qa.ingest.documents import load_folder
from qa.index.indexer import update_index

ALEPPO = "Whose help was the victory in Aleppo credited to?"
ALEPPO_DOC = "001_bccfd2e8e94a07d8.txt"
ALEPPO_SENTENCE = "The victory of Aleppo was credited to Russian support"
METHOD = "What research method did the study of Iran's strategy against ISIS employ?"
METHOD_DOC = "002_7b4c4c91d958a4ef.txt"


def qa(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa"), result.stderr
    for word in words:
        assert word in lines[0]


def read_text(path: Path) -> str:
    """A document's text as the program sees it (UTF-8, byte-order mark dropped, line ends kept)."""
    return path.read_bytes().decode("utf-8-sig")


def test_help_lists_the_commands(tmp_path):
    result = qa("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("index", "search", "ask", "list"):
        assert command in result.stdout
    assert qa("search", "--help", cwd=tmp_path).returncode == 0


def test_no_documents_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(qa("index", "--docs", tmp_path / "empty", "--index", tmp_path / "i", cwd=tmp_path),
                          "no readable", "--docs")
    assert_one_line_error(qa("index", "--docs", tmp_path / "missing", "--index", tmp_path / "i", cwd=tmp_path),
                          "does not exist")


def test_folder_options_may_come_before_the_command_or_after_it(tmp_path):
    """``qa --docs D --index I list`` is read as ``qa list --docs D --index I`` (it was "invalid choice: 'D'");
    given in both places, the one after the command counts."""
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    (tmp_path / "other").mkdir()
    before = qa("--docs", docs, "--index", tmp_path / "i", "list", "--json", cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert {d["id"] for d in json.loads(before.stdout)} == set(TINY_DOCS)
    after = qa("list", "--json", "--docs", docs, "--index", tmp_path / "i", cwd=tmp_path)
    assert json.loads(after.stdout) == json.loads(before.stdout)
    both = qa("--docs", tmp_path / "other", "list", "--docs", docs, "--index", tmp_path / "i", "--json", cwd=tmp_path)
    assert json.loads(both.stdout) == json.loads(before.stdout)


def test_unknown_mode_is_one_clear_line(tmp_path):
    result = qa("search", "--mode", "fuzzy", "river", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_error(result, "fuzzy", "hybrid")


@pytest.mark.parametrize("question", ["", "   ", "?!", "x" * 5000], ids=["empty", "spaces", "punctuation", "long"])
def test_unusable_question_is_one_clear_line(tmp_path, question):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    assert_one_line_error(qa("search", "--docs", docs, "--index", tmp_path / "i", question, cwd=tmp_path),
                          "question")


def test_unloadable_model_is_one_clear_line(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    result = qa("search", "--docs", docs, "--index", tmp_path / "i", "--model", "/nonexistent", "river",
                cwd=tmp_path)
    assert_one_line_error(result, "/nonexistent", "never downloaded")
    assert not (tmp_path / "i" / "manifest.json").exists()


def test_missing_reader_model_is_one_clear_line(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    result = qa("ask", "--docs", docs, "--index", tmp_path / "i", "--reader", "trained", "--reader-model",
                tmp_path / "mine.onnx", "Where does the river flow?", cwd=tmp_path)
    assert_one_line_error(result, "mine.onnx", "no such file")
    assert not (tmp_path / "i").exists()  # refused before any indexing work


def test_index_folder_that_is_a_file_is_one_clear_line(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    (tmp_path / "not-a-folder").write_text("x")
    assert_one_line_error(qa("index", "--docs", docs, "--index", tmp_path / "not-a-folder", cwd=tmp_path),
                          "not-a-folder")


@pytest.mark.integration
def test_acceptance_aleppo_question_cites_the_exact_passage(seed_index_dir):
    result = qa("search", ALEPPO, "--json", "--docs", seed_index_dir / "docs", "--index", seed_index_dir / "index",
                cwd=seed_index_dir)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits and {"rank", "score", "doc", "title", "start", "end", "text"} <= set(hits[0])
    top = hits[0]
    assert top["rank"] == 1 and top["doc"] == ALEPPO_DOC and ALEPPO_SENTENCE in top["text"]
    for hit in hits:
        assert read_text(seed_index_dir / "docs" / hit["doc"])[hit["start"]:hit["end"]] == hit["text"]


@pytest.mark.integration
def test_search_with_rerank_keeps_the_cited_passage_first_and_shows_the_reranker_rank(seed_index_dir):
    result = qa("search", ALEPPO, "--json", "--rerank", "10", "-k", "3", "--docs", seed_index_dir / "docs",
                "--index", seed_index_dir / "index", cwd=seed_index_dir)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3] and all("reranker" in h["ranks"] for h in hits)
    assert hits[0]["doc"] == ALEPPO_DOC and ALEPPO_SENTENCE in hits[0]["text"]
    for hit in hits:
        assert read_text(seed_index_dir / "docs" / hit["doc"])[hit["start"]:hit["end"]] == hit["text"]


@pytest.mark.integration
def test_odd_characters_in_a_question_still_get_an_answer(seed_index_dir):
    """Arabic, Chinese, emoji, a control character and bytes that are not UTF-8 in one question."""
    question = "\u0645\u062a\u0649 \u706b\u5c71 \U0001F30B Aleppo\x07 victory credited? ".encode() + b"\xff\xfe"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    result = subprocess.run([sys.executable, "-m", "qa", "search", "--json", "--docs", str(seed_index_dir / "docs"),
                             "--index", str(seed_index_dir / "index"), question], cwd=seed_index_dir, env=env,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    hits = json.loads(result.stdout)
    assert hits and hits[0]["doc"] == ALEPPO_DOC


@pytest.mark.integration
def test_changing_one_seed_re_embeds_only_that_file(seed_index_dir, tmp_path):
    shutil.copytree(seed_index_dir / "docs", tmp_path / "docs")
    shutil.copytree(seed_index_dir / "index", tmp_path / "index")
    changed = tmp_path / "docs" / "002_7b4c4c91d958a4ef.txt"
    changed.write_text(read_text(changed) + "\nA closing sentence added for this test.\n", encoding="utf-8")
    result = qa("index", "--docs", tmp_path / "docs", "--index", tmp_path / "index", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = next(d for d in load_folder(tmp_path / "docs").documents if d.id == changed.name)
    passages = len(split_passages(doc, Settings().chunk_size, Settings().chunk_overlap))
    assert f"changed 1: {changed.name}" in result.stdout.splitlines()
    assert f"({passages} passages embedded, the vectors of their " in result.stdout  # sentences pooled
    assert "added" not in result.stdout and "rebuilding" not in result.stdout


@pytest.mark.integration
def test_search_repairs_a_truncated_index_and_still_answers(seed_pipeline, tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)  # with the smallest seed: a short rebuild
    shutil.copy(SEEDS / METHOD_DOC, docs)
    s = Settings()
    update_index(docs, tmp_path / "index", seed_pipeline.embedder, s.chunk_size, s.chunk_overlap)
    old = store.load(tmp_path / "index")
    vectors = tmp_path / "index" / old.segments[0] / "passage_vectors.npy"
    with open(vectors, "r+b") as fh:
        fh.truncate(vectors.stat().st_size // 2)
    result = qa("search", METHOD, "--json", "--docs", docs, "--index", tmp_path / "index", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rebuilding the whole index: damaged index: passage_vectors.npy" in result.stderr
    top = json.loads(result.stdout)[0]
    assert top["doc"] == METHOD_DOC and "descriptive\u2014analytical method" in top["text"]
    assert read_text(docs / METHOD_DOC)[top["start"]:top["end"]] == top["text"]
    assert store.load(tmp_path / "index").generation != old.generation


@pytest.mark.integration
def test_ask_with_the_combined_reader_gives_an_answer_state_in_json(seed_index_dir):
    result = qa("ask", ALEPPO, "--json", "--reader", "combined", "--docs", seed_index_dir / "docs", "--index",
                seed_index_dir / "index", cwd=seed_index_dir)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] in ("answer", "tentative") and "Russia" in answer["answer"]
    doc = read_text(seed_index_dir / "docs" / answer["doc"])
    assert doc[answer["start"]:answer["end"]] == answer["answer"] and answer["doc"] == ALEPPO_DOC


def test_a_mode_in_capitals_is_that_mode_on_the_command_line():
    from qa.cli import build_parser

    args, _ = build_parser().parse_known_args(["ask", "When?", "--mode", "BM25"])
    assert args.mode == "bm25"
    args, _ = build_parser().parse_known_args(["eval", "q.jsonl", "--mode", "ALL"])
    assert args.eval_mode == "all"


def test_version_prints_the_package_version(tmp_path):
    from qa import __version__

    result = qa("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"qa {__version__}"


def test_verbose_output_leaves_out_faiss_loading_its_library(tmp_path):
    """``-v`` shows qa's own steps; FAISS's loader logs which CPU build it tried ("Could not load library with
    AVX512 support ...") at INFO, which says nothing to a user."""
    script = ("import sys\nfrom qa import cli\n\n"
              "def listing(args):\n    import faiss  # noqa: F401 - its loader logs as it imports\n    return 0\n\n"
              "cli.COMMANDS['list'] = listing\nsys.exit(cli.main(['-v', 'list']))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "faiss" not in result.stderr.lower() and "AVX" not in result.stderr, result.stderr


def test_a_question_encoder_file_that_is_not_there_is_one_clear_line(tmp_path):
    result = qa("--question-model", tmp_path / "nope.onnx", "ask", "Where does the river flow?", cwd=tmp_path)
    assert_one_line_error(result, "nope.onnx", "no such file")


class StubPipeline:
    """What a command reads from the pipeline, given: ``hits`` for search, ``answer`` for ask, ``docs`` for list."""

    def __init__(self, hits=(), answer=None, docs=()):
        self.hits, self.answer, self.docs = list(hits), answer, list(docs)

    def correct(self, question):
        return None

    def search(self, question, **kw):
        return self.hits

    def ask(self, question, **kw):
        return self.answer

    def documents(self):
        return self.docs


def run_cli(monkeypatch, capsys, pipeline: StubPipeline, *args: str) -> str:
    from qa import cli

    monkeypatch.setattr(cli, "_pipeline", lambda parsed: pipeline)
    assert cli.main(list(args)) == 0
    return capsys.readouterr().out


def test_a_document_whose_title_is_its_file_name_is_shown_as_untitled(monkeypatch, capsys):
    """As the app shows it: "(untitled)", not the file name a second time beside the citation."""
    from qa.types import Answer, DocumentInfo, Hit, Passage

    untitled = Passage(doc=METHOD_DOC, title=METHOD_DOC, ordinal=3, start=1647, end=2116, text="A method.")
    titled = Passage(doc=ALEPPO_DOC, title="Prisoners Of Assad", ordinal=20, start=12940, end=13579, text="Aleppo.")
    hits = [Hit(untitled, 2.0, 1, "hybrid"), Hit(titled, 1.0, 2, "hybrid")]
    stub = StubPipeline(hits, Answer.none(0.0, hits), [DocumentInfo(id=METHOD_DOC, title=METHOD_DOC),
                                                       DocumentInfo(id=ALEPPO_DOC, title="Prisoners Of Assad")])

    asked = run_cli(monkeypatch, capsys, stub, "ask", METHOD).splitlines()
    assert f"[1] (untitled) ({METHOD_DOC} [1647:2116])" in asked
    assert f"[2] Prisoners Of Assad ({ALEPPO_DOC} [12940:13579])" in asked
    searched = run_cli(monkeypatch, capsys, stub, "search", METHOD).splitlines()
    assert f"[1] 2.0000 hybrid  (untitled)  ({METHOD_DOC} [1647:2116])" in searched
    assert f"[2] 1.0000 hybrid  Prisoners Of Assad  ({ALEPPO_DOC} [12940:13579])" in searched
    listed = run_cli(monkeypatch, capsys, stub, "list").splitlines()
    assert listed[0].startswith(METHOD_DOC) and listed[0].endswith("  (untitled)")
    assert listed[1].endswith("  Prisoners Of Assad")


def test_eval_says_each_warning_once_on_stderr_not_again_in_its_report(tmp_path, monkeypatch, capsys):
    from conftest import FakeEmbedder
    from qa import cli
    from qa.pipeline import Pipeline

    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"id": "q1", "question": "Where does the Danube end?", "answers": ["Black Sea"],
                                   "docs": ["nowhere.txt"]}) + "\n")

    def make(args):
        settings = cli._settings(args).replace(chunk_size=200, chunk_overlap=40, reader="heuristic")
        return Pipeline(settings, embedder=FakeEmbedder())

    monkeypatch.setattr(cli, "_pipeline", make)
    code = cli.main(["eval", str(queries), "--docs", str(docs), "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "unknown document(s) nowhere.txt" not in out and "warnings:" not in out
    assert err.count("unknown document(s) nowhere.txt") == 1
    assert "queries (1 answerable" in out or "query (1 answerable" in out  # the report itself is printed
    code = cli.main(["eval", str(queries), "--json", "--docs", str(docs), "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert any("nowhere.txt" in w for w in json.loads(out)["warnings"])  # the JSON keeps them: it is data
