"""The command line says what the README says it says: the tour's commands run and print the
README's lines; every command prints its report once; a usage mistake points to the
subcommand's own help."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TINY_DOCS, write_docs


def qa(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m qa ARGS`` with this checkout's package (not an installed one) and no QA_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)

README = ROOT / "README.md"


def tour() -> list[tuple[list[str], list[str]]]:
    """(arguments, printed lines) of each ``$ qa ...`` command in the README's tour."""
    block = README.read_text(encoding="utf-8").split("## A short tour", 1)[1].split("```console", 1)[1]
    block = block.split("```", 1)[0]
    commands: list[tuple[list[str], list[str]]] = []
    for line in block.strip().splitlines():
        if line.startswith("$ qa "):
            commands.append((shlex.split(line[len("$ qa "):]), []))
        elif commands:
            commands[-1][1].append(line)
    return commands


def test_the_readme_tour_lists_its_commands():
    assert [args[0] for args, _ in tour()] == ["index", "ask", "ask", "search"]


def test_the_readme_shows_search_json_laid_out_as_the_command_prints_it():
    """One field a line, the passage's text whole: ``qa search --json`` prints it so, not squeezed or cut."""
    from qa.cli import _json

    shown = next("\n".join(lines) for args, lines in tour() if "--json" in args)
    assert shown == _json(json.loads(shown))
    assert "..." not in shown


def test_the_readme_quotes_the_read_deeper_line_as_the_cli_and_the_app_say_it(monkeypatch, capsys):
    """The README's example (#8, listed as [1]) in the words ``qa ask`` prints and in the app's longer ones."""
    import html

    from qa import cli
    from qa.types import Answer, Hit, Passage, Span
    from qa.web.render import render_answer

    deeper = Passage(doc="a.txt", title="A", ordinal=9, start=0, end=30, text="It was founded in 1990 by them.")
    first = Passage(doc="a.txt", title="A", ordinal=0, start=40, end=60, text="Something else here.")
    answer = Answer(text="1990", confidence=0.3, span=Span("a.txt", 18, 22), sentence=deeper.text,
                    sentence_span=Span("a.txt", 0, 30), citations=(Hit(deeper, 1.0, 8, "hybrid"),
                                                                    Hit(first, 2.0, 1, "hybrid")),
                    cited=1, status="tentative", title="A", found_deeper=True)

    class Asked:
        def ask(self, question, **kw):
            return answer

    monkeypatch.setattr(cli, "_pipeline", lambda args: Asked())
    assert cli.main(["ask", "When was it founded?"]) == 0
    printed = next(line.strip() for line in capsys.readouterr().out.splitlines()
                   if line.strip().startswith("From further down"))
    shown = html.unescape(re.search(r'<p class="qa-found-deeper">(.*?)</p>', render_answer(answer)).group(1))
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"`qa ask` \"{printed}\"" in readme
    assert f"the app \"{shown}\"" in readme


def test_an_unknown_option_points_to_the_subcommands_help(tmp_path):
    result = qa("ask", "Why?", "--bogus", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "qa ask: error: unrecognized arguments: --bogus (see `qa ask --help`)"


@pytest.mark.integration
def test_add_and_remove_print_their_report_once(tmp_path):
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    new = write_docs(tmp_path / "new", {"tea.txt": "Tea in India\n\nDarjeeling tea has been grown since 1841.\n"})
    where = ["--docs", docs, "--index", tmp_path / "index"]
    assert qa("index", *where, cwd=tmp_path).returncode == 0

    added = qa("add", new / "tea.txt", *where, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    both = added.stdout + added.stderr
    lines = [line for line in both.splitlines() if line.strip()]
    assert both.count("indexed ") == 1 and len(lines) == len(set(lines)), both  # each fact once
    # "copied 1: tea.txt" names the file; the index update does not name it again ("added 1: tea.txt")
    assert sum(line.startswith("copied 1: tea.txt") for line in lines) == 1, both
    assert not any(line.startswith("added ") for line in lines), both
    removed = qa("remove", "tea.txt", *where, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert (removed.stdout + removed.stderr).count("removed") <= 1


@pytest.mark.integration
def test_every_tour_command_prints_what_the_readme_shows(seed_index_dir, tmp_path):
    shutil.copytree(seed_index_dir / "docs", tmp_path / "seeds")
    shutil.copytree(seed_index_dir / "index", tmp_path / "vectorstore")
    for args, shown in tour():
        result = qa(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        if args[0] == "index":  # the README shows a first build; this index is already built
            continue
        if "--json" in args:  # all of it, text included; the score to within the last digits
            printed, expected = json.loads(result.stdout), json.loads("\n".join(shown))
            assert [{k: v for k, v in hit.items() if k != "score"} for hit in printed] == \
                [{k: v for k, v in hit.items() if k != "score"} for hit in expected]
            assert [round(hit["score"], 3) for hit in printed] == [round(hit["score"], 3) for hit in expected]
            continue
        lines = result.stdout.splitlines()
        for line in shown:
            if "..." in line or not line.strip():
                continue
            line = re.sub(r"confidence \d\.\d\d", "confidence", line)
            assert any(re.sub(r"confidence \d\.\d\d", "confidence", got) == line for got in lines), (args, line)
