"""The held-out passage-size benchmark (bench/chunking_heldout.py) builds whole-article documents whose
gold answer spans point at the answer's characters, and splits SQuADShifts into the same halves as the
other benchmarks."""

from __future__ import annotations


import pytest

from conftest import bench_script


@pytest.fixture(scope="module")
def bench():
    with bench_script("chunking_heldout") as module:
        yield module


def _article(title: str, contexts: list[tuple[str, str]]) -> dict:
    paragraphs = []
    for n, (context, answer) in enumerate(contexts):
        start = context.index(answer)
        paragraphs.append({"context": context, "qas": [
            {"id": f"{title}-{n}", "question": f"what {n}?", "answers": [{"text": answer, "answer_start": start}]}]})
    return {"title": title, "paragraphs": paragraphs}


DATA = [_article("First_one", [("Alpha beta gamma.", "beta"), ("Delta is epsilon.", "epsilon")]),
        _article("Second", [("Zeta eta theta iota.", "theta iota"), ("Kappa.", "Kappa"), ("Lambda mu.", "mu")])]


def test_answer_spans_point_at_the_answer_in_the_article(bench):
    docs, questions = bench.articles_as_documents(DATA)
    assert set(docs) == {"a000", "a001"}
    assert docs["a000"].startswith("First one\n\nAlpha beta gamma.\n\nDelta is epsilon.")
    assert len(questions) == 5
    for q in questions:
        text = docs[q["doc"].removesuffix(".txt")]
        assert [text[s:e] for s, e in q["spans"]] == q["answers"]


def test_kept_paragraphs_select_questions_but_documents_stay_whole(bench):
    docs, questions = bench.articles_as_documents(DATA, keep={(1, 2)})
    assert [q["id"] for q in questions] == ["Second-2"]
    assert "Zeta eta" in docs["a001"] and "Alpha" in docs["a000"]


def test_halves_partition_the_paragraphs(bench):
    cal, test = bench.half(DATA, 0), bench.half(DATA, 1)
    assert cal.isdisjoint(test)
    assert cal | test == {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)}
    assert len(cal) == 2


def test_fresh_questions_avoid_the_first_sample(bench):
    questions = [{"id": f"q{i:04d}"} for i in range(1000)]
    first = {q["id"] for q in bench.questions_asked(questions, 400, fresh=False)}
    fresh = bench.questions_asked(questions, 500, fresh=True)
    assert len(first) == 400 and len(fresh) == 500
    assert first.isdisjoint(q["id"] for q in fresh)


def test_paired_difference_and_test(bench):
    same = [0.0, 1.0, 0.5] * 20
    assert bench.paired(same, same) == (0.0, 1.0)
    better = [1.0] * 40 + [0.0] * 20
    worse = [0.0] * 40 + [0.0] * 20
    diff, p = bench.paired(better, worse)
    assert diff == pytest.approx(100 * 40 / 60)
    assert p < 0.001
    diff, p = bench.paired([1.0, 0.0] * 30, [0.0, 1.0] * 30)
    assert diff == 0.0 and p > 0.5
