"""The pure parts of the readers and the app, tested on hand-built values: no model, no tokenizer,
no gradio."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qa.reader import sentence, windows
from qa.reader.passage import Calibration, WindowSpan, choose
from qa.reader.windows import best_spans

def logits(n: int, **at: float) -> np.ndarray:
    """A row of ``n`` logits: 0, but for the tokens named (``t3=2.0``: token 3 has 2.0)."""
    row = np.zeros(n)
    for name, value in at.items():
        row[int(name[1:])] = value
    return row


# -- best_spans -----------------------------------------------------------------------------------


def test_the_best_span_is_the_highest_start_plus_end():
    start = np.array([logits(6, t1=1.0, t3=4.0)])
    end = np.array([logits(6, t2=3.0, t4=2.0)])
    ctx = np.array([[False, True, True, True, True, False]])
    assert best_spans(start, end, ctx) == [(3, 4, 6.0)]  # 4 + 2 beats 1 + 3


def test_tokens_outside_the_context_are_never_part_of_a_span():
    start = np.array([logits(5, t0=50.0, t2=1.0)])  # [CLS] and the question carry big logits
    end = np.array([logits(5, t1=50.0, t3=1.0)])
    ctx = np.array([[False, False, True, True, False]])
    assert best_spans(start, end, ctx) == [(2, 3, 2.0)]


def test_a_span_never_ends_before_it_starts():
    start = np.array([logits(4, t3=5.0)])
    end = np.array([logits(4, t1=5.0)])
    ctx = np.ones((1, 4), dtype=bool)
    a, b, score = best_spans(start, end, ctx)[0]
    assert a <= b and score == 5.0  # the start at 3 with an end at 3, or the end at 1 with a start before it


# one token: (1, 1) = 4 + 0; two: (2, 3) = 2 + 3; three or more: (1, 3) = 4 + 3
@pytest.mark.parametrize("max_len, expected", [(1, (1, 1, 4.0)), (2, (2, 3, 5.0)), (3, (1, 3, 7.0)),
                                               (64, (1, 3, 7.0))])
def test_the_longest_answer_is_max_len_tokens(max_len, expected):
    start = np.array([logits(5, t1=4.0, t2=2.0)])
    end = np.array([logits(5, t3=3.0)])
    ctx = np.array([[False, True, True, True, False]])
    assert best_spans(start, end, ctx, max_len=max_len) == [expected]


def test_each_window_is_decoded_on_its_own_and_a_window_without_context_scores_minus_infinity():
    start = np.array([logits(3, t1=1.0), logits(3, t2=9.0)])
    end = np.array([logits(3, t1=1.0), logits(3, t2=9.0)])
    ctx = np.array([[False, True, True], [False, False, False]])
    first, second = best_spans(start, end, ctx)
    assert first == (1, 1, 2.0)
    assert second[2] == float("-inf")


def test_the_sentence_reader_decodes_with_the_same_function_and_its_own_longest_answer():
    n = 40
    start, end = np.array([logits(n, t1=1.0)]), np.array([logits(n, t35=1.0)])
    ctx = np.ones((1, n), dtype=bool)
    assert sentence.best_spans(start, end, ctx) == windows.best_spans(start, end, ctx, sentence.MAX_ANSWER_TOKENS)
    assert sentence.best_spans(start, end, ctx)[0][1] - sentence.best_spans(start, end, ctx)[0][0] < 30


# -- calibration ------------------------------------------------------------------------------------


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_the_default_calibration_is_the_sigmoid_of_the_has_answer_logit():
    c = Calibration()
    assert c.confidence(0.0, 123.0) == pytest.approx(0.5)
    assert c.confidence(2.0, -7.0) == pytest.approx(0.8807970779778823)  # 1 / (1 + e^-2)


def test_calibration_weighs_the_has_answer_logit_and_the_span_score():
    c = Calibration(has_answer=0.5, span=0.1, bias=-1.0)
    # z = 0.5 * 3 + 0.1 * 12 - 1 = 1.7
    assert c.confidence(3.0, 12.0) == pytest.approx(sigmoid(1.7))
    assert c.confidence(3.0, 12.0) == pytest.approx(0.8455347349164652)


def test_calibration_saturates_instead_of_overflowing():
    c = Calibration(has_answer=1.0)
    assert c.confidence(1e6, 0.0) == pytest.approx(1.0) and c.confidence(-1e6, 0.0) == pytest.approx(0.0)
    assert 0.0 < c.confidence(-1e6, 0.0)  # clipped at z = -50


def test_calibration_is_read_from_the_model_card_and_ignores_what_it_does_not_know(tmp_path):
    model = tmp_path / "m.onnx"
    model.with_suffix(".json").write_text(json.dumps({"calibration": {"has_answer": 0.75, "bias": -0.5,
                                                                      "answer": 0.6, "color": "red",
                                                                      "span": "high"}}))
    c = Calibration.beside(model)
    assert c == Calibration(has_answer=0.75, bias=-0.5, answer=0.6)
    assert c.confidence(2.0, 40.0) == pytest.approx(sigmoid(0.75 * 2.0 - 0.5))
    assert Calibration.beside(tmp_path / "none.onnx") == Calibration()


def test_the_answer_is_the_best_scoring_span_with_its_calibrated_confidence():
    c = Calibration(has_answer=1.0, span=0.5, bias=-6.0)
    spans = [WindowSpan(1, 5, 9, 12.0, -1.0), WindowSpan(0, 0, 4, 3.0, 5.0)]  # best score first
    best, confidence = choose(spans, c)
    assert best is spans[0] and confidence == pytest.approx(sigmoid(-1.0 + 6.0 - 6.0))
    assert choose([], c) == (None, 0.0)


# -- the renderers, without gradio ------------------------------------------------------------------

NO_GRADIO = r"""
import sys
sys.modules["gradio"] = None  # importing gradio now fails
from qa.types import Answer
from qa.web import render
page = render.render_answer(Answer.none(0.1, message="Not in the documents."))
assert "Not in the documents." in page, page
print(sorted(m for m in sys.modules if m.split(".")[0] in ("gradio", "gradio_client")))
"""


def test_the_renderers_import_and_render_without_gradio():
    out = subprocess.run([sys.executable, "-c", NO_GRADIO], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['gradio']"  # only the blocked entry itself
