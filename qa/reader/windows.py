"""Question + passage -> token windows for the passage reader, and spans back out of its logits.

A window is ``[CLS] question [SEP] part of the passage [SEP]``, at most :data:`MAX_TOKENS`
tokens. A passage longer than one window is read in overlapping windows that advance by
``room - STRIDE`` tokens (so neighbouring windows share :data:`STRIDE` tokens), as Hugging Face's
question-answering pipeline and Haystack's extractive reader do (``max_seq_length`` 384,
``doc_stride`` 128). Every token keeps its character span in its passage, so a span of tokens maps
back to exact character offsets.

Decoding (:func:`best_spans`) works on plain arrays, so it is tested with hand-built logits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .runtime import load_tokenizer  # noqa: F401 - the tokenizer windows are made with

MAX_TOKENS = 384  #: question + passage window, special tokens included
MAX_QUESTION_TOKENS = 64
STRIDE = 128  #: tokens shared by neighbouring windows of one passage
MAX_ANSWER_TOKENS = 64  #: longest answer, in tokens (a clause, a list, a definition)
#: What a span across a sentence start loses from its score (start + end logit): an answer may run over two
#: sentences only when the model holds it well above the best one inside a sentence (held-out SQuADShifts answers
#: that crossed were mostly wrong; docs/benchmarks.md, "An answer stays inside one sentence"); 0: no penalty.
SENTENCE_PENALTY = 2.0


@dataclass
class Windows:
    """Token windows of one or more (question, passage) pairs, padded to the longest."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    context: np.ndarray  #: bool: the token belongs to the passage (the only place an answer can be)
    offsets: np.ndarray  #: (windows, tokens, 2): each token's character span in its passage; (0, 0) elsewhere
    owner: np.ndarray  #: position (in the passages given) of the passage each window reads
    #: bool: an answer may not run from the token before to this one (a blank line between them, or markup)
    walls: np.ndarray | None = None
    #: bool: the token is markup, never part of an answer (a Markdown table's ``|``, a heading's ``#``)
    markup: np.ndarray | None = None
    #: bool: a sentence starts at the token (an answer across it pays :data:`SENTENCE_PENALTY`)
    sentences: np.ndarray | None = None

    def feed(self) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask,
                "token_type_ids": self.token_type_ids}

    def __len__(self) -> int:
        return len(self.owner)


#: A Markdown table's line: it starts with ``|``, or it is the row of dashes under the header.
_TABLE_LINE = re.compile(r"^[ \t]*(\|.*|:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)+\|?)[ \t]*$", re.M)
#: The row of dashes under a table's header (``|---|:--:|``). Each cell after the first starts with its ``|``, so a
#: run of dashes can be read one way only (a pattern that let cells split a run took exponential time on a long one).
_DELIMITER_ROW = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_HEADING_MARKS = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]", re.M)
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


def in_table(text: str, start: int) -> bool:
    """Whether character ``start`` of ``text`` is on a line of a Markdown table.

    >>> t = "Prices\\n| Item | Price |\\n|---|---|\\n| Wok | 39.50 |\\n"
    >>> in_table(t, t.index("39.50")), in_table(t, t.index("Prices"))
    (True, False)
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    return _TABLE_LINE.fullmatch(text, line_start, len(text) if line_end < 0 else line_end) is not None


def table_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every Markdown table line of ``text`` (as :func:`in_table` finds them).

    >>> t = "Prices\\n| Item | Price |\\n|---|---|\\n| Wok | 39.50 |\\n"
    >>> [t[s:e] for s, e in table_lines(t)]
    ['| Item | Price |', '|---|---|', '| Wok | 39.50 |']
    """
    return [(m.start(), m.end()) for m in _TABLE_LINE.finditer(text)]


def markup_chars(text: str) -> np.ndarray:
    """bool per character of ``text``: Markdown markup that no answer holds — the ``|`` of table lines, a
    table's header (the column names) and the row of dashes under it, and the ``#`` marks of headings.

    >>> t = "## Supplies\\n| Item | Supplier |\\n|---|---|\\n| Kerosene | Harbor Oil |\\nA | B"
    >>> "".join(c for c, m in zip(t, markup_chars(t)) if m)
    '##|Item|Supplier||---|---||||'
    """
    marks = np.zeros(len(text), dtype=bool)
    for m in _TABLE_LINE.finditer(text):
        line = m.group(0)
        delimiter = _DELIMITER_ROW.fullmatch(line) is not None
        marks[[m.start() + i for i, c in enumerate(line) if c == "|" or (delimiter and not c.isspace())]] = True
        if delimiter and m.start() > 0:  # the line above is the header: column names, not answers
            above = text.rfind("\n", 0, m.start() - 1) + 1
            marks[[above + i for i, c in enumerate(text[above:m.start() - 1]) if not c.isspace()]] = True
    for m in _HEADING_MARKS.finditer(text):
        marks[m.start(1): m.end(1)] = True
    return marks


def _walls(text: str, spans: list[tuple[int, int]]) -> tuple[list[bool], list[bool]]:
    """Per token (character ``spans`` in ``text``): a wall before it (a blank line since the token before, or
    markup on either side), and whether it is markup."""
    chars = markup_chars(text)
    markup = [bool(chars[a:b].any()) for a, b in spans]
    walls = [False] * len(spans)
    for t in range(1, len(spans)):
        walls[t] = markup[t] or markup[t - 1] or bool(_BLANK_LINE.search(text, spans[t - 1][1], spans[t][0]))
    return walls, markup


def _sentence_starts(spans: list[tuple[int, int]], sentences: list[int] | None) -> list[bool]:
    """Per token (character ``spans``): whether a sentence starts at it (one of the offsets ``sentences`` lies after
    the token before's start and by this one's); never the first token."""
    out, starts, j = [False] * len(spans), sorted(sentences or ()), 0
    for t in range(1, len(spans)):
        while j < len(starts) and starts[j] <= spans[t - 1][0]:
            j += 1
        out[t] = j < len(starts) and starts[j] <= spans[t][0]
    return out


def window_starts(n_tokens: int, room: int, stride: int = STRIDE) -> list[int]:
    """First token of each window over ``n_tokens`` passage tokens, ``room`` tokens a window.

    >>> window_starts(10, 4, 2)
    [0, 2, 4, 6]
    >>> window_starts(3, 4, 2)
    [0]
    """
    if n_tokens <= room:
        return [0]
    step = max(room - stride, 1)
    starts = list(range(0, n_tokens - room, step))
    return starts + [n_tokens - room]


def encode(tokenizer, questions: list[str], passages: list[str], max_tokens: int = MAX_TOKENS,
           stride: int = STRIDE, max_windows: int | None = None,
           sentences: list[list[int]] | None = None) -> Windows:
    """Windows of each (question, passage) pair (``questions`` may be one question for all passages).

    ``max_windows`` caps the windows of one passage (the first ones are kept); ``sentences``: per passage, the
    character offsets where its sentences start (``Windows.sentences``: a span across one pays
    :data:`SENTENCE_PENALTY` in :func:`best_spans`)."""
    if len(questions) == 1 and len(passages) != 1:
        questions = questions * len(passages)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    q_cache: dict[str, list[int]] = {}
    for q, enc in zip(dict.fromkeys(questions), tokenizer.encode_batch(list(dict.fromkeys(questions)),
                                                                        add_special_tokens=False)):
        q_cache[q] = enc.ids[:MAX_QUESTION_TOKENS]
    p_enc = tokenizer.encode_batch(passages, add_special_tokens=False)
    rows, n_q, offs, owner, walls = [], [], [], [], []
    for i, (q, p) in enumerate(zip(questions, p_enc)):
        q_ids = q_cache[q]
        room = max_tokens - len(q_ids) - 3
        starts = window_starts(len(p.ids), room, stride)
        if max_windows:
            starts = starts[:max_windows]
        p_walls, p_markup = _walls(passages[i], p.offsets)
        p_sentences = _sentence_starts(p.offsets, sentences[i] if sentences else None)
        for s in starts:
            ids = p.ids[s: s + room]
            rows.append([cls, *q_ids, sep, *ids, sep])
            n_q.append(len(q_ids))
            offs.append(p.offsets[s: s + room])
            owner.append(i)
            walls.append((p_walls[s: s + room], p_markup[s: s + room], p_sentences[s: s + room]))
    width = max(map(len, rows)) if rows else 0
    n = len(rows)
    ids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    context = np.zeros((n, width), dtype=bool)
    offsets = np.zeros((n, width, 2), dtype=np.int64)
    wall = np.zeros((n, width), dtype=bool)
    markup = np.zeros((n, width), dtype=bool)
    sentence = np.zeros((n, width), dtype=bool)
    for w, (r, nq, off, (w_walls, w_markup, w_sentences)) in enumerate(zip(rows, n_q, offs, walls)):
        ids[w, : len(r)] = r
        mask[w, : len(r)] = 1
        first = nq + 2
        types[w, first: len(r)] = 1
        context[w, first: first + len(off)] = True
        if off:
            offsets[w, first: first + len(off)] = np.asarray(off, dtype=np.int64)
            wall[w, first: first + len(off)] = w_walls
            markup[w, first: first + len(off)] = w_markup
            sentence[w, first: first + len(off)] = w_sentences
    return Windows(ids, mask, types, context, offsets, np.asarray(owner, dtype=np.int64), wall, markup, sentence)


def best_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray,
               max_len: int = MAX_ANSWER_TOKENS, walls: np.ndarray | None = None,
               markup: np.ndarray | None = None, sentences: np.ndarray | None = None,
               sentence_penalty: float | None = None) -> list[tuple[int, int, float]]:
    """Per window, the (start token, end token, score) with the highest start + end logit among
    spans of context tokens with start <= end < start + ``max_len``; score ``-inf`` when the
    window has no context token. With ``walls`` (a wall before a token) no span crosses a wall,
    with ``markup`` no span starts or ends on a markup token, and with ``sentences`` (a sentence starts at a
    token) a span across a sentence start loses ``sentence_penalty`` (default :data:`SENTENCE_PENALTY`).

    >>> s = np.array([[0., 5., 1., 0.]]); e = np.array([[0., 0., 1., 4.]])
    >>> best_spans(s, e, np.array([[False, True, True, True]]))
    [(1, 3, 9.0)]
    >>> best_spans(s, e, np.array([[False, True, True, True]]), max_len=2)
    [(1, 2, 6.0)]
    >>> best_spans(s, e, np.array([[False, True, True, True]]), walls=np.array([[False, False, False, True]]))
    [(1, 2, 6.0)]
    """
    penalty = SENTENCE_PENALTY if sentence_penalty is None else sentence_penalty
    out = []
    for w, (s_log, e_log, ctx) in enumerate(zip(start, end, context)):
        n = len(s_log)
        if markup is not None:
            ctx = ctx & ~markup[w]
        if not ctx.any():
            out.append((0, 0, float("-inf")))
            continue
        s_log = np.where(ctx, s_log, -np.inf)
        e_log = np.where(ctx, e_log, -np.inf)
        scores = s_log[:, None] + e_log[None, :]
        i, j = np.indices((n, n))
        allowed = (j >= i) & (j < i + max_len)
        if walls is not None:
            crossed = np.cumsum(walls[w])  # walls at or before each token: none between i and j when equal
            allowed &= crossed[None, :] == crossed[:, None]
        if sentences is not None and penalty > 0:
            across = np.cumsum(sentences[w])
            across = across[None, :] != across[:, None]  # a sentence starts after i, by j
            scores = scores - np.where(across, penalty, 0.0)  # an infinite penalty: -inf, a hard wall
        scores = np.where(allowed, scores, -np.inf)
        a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
        out.append((int(a), int(b), float(scores[a, b])))
    return out


def char_span(windows: Windows, w: int, a: int, b: int) -> tuple[int, int]:
    """Character offsets in its passage of window ``w``'s tokens ``a`` to ``b`` (inclusive)."""
    return int(windows.offsets[w, a, 0]), int(windows.offsets[w, b, 1])
