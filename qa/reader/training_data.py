"""Training data of the reader models: SQuAD v1.1 files, the held-out articles, and the passage
reader's examples (:mod:`qa.reader.training`).

Each training question of the passage reader gives a positive (its own paragraph) and one negative,
in turn: the paragraph of its article that BM25 (:class:`qa.index.lexical.BM25Index`) ranks highest
without the answer, or its own paragraph with the answer's sentence(s) cut out (a near miss). An
example is read as one token window (:mod:`qa.reader.windows`) with the answer's first and last
token as targets; :func:`collate` pads the windows of a step into arrays.

Also the sentence model's optional entity-swap negatives (:func:`swapped`, ``--swap-negatives``).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..eval.metrics import contains_answer
from ..ingest.chunking import split_sentences
from .windows import MAX_TOKENS, encode


def load_squad(path: Path) -> list[dict]:
    """The articles of a SQuAD v1.1 format file (``.json`` or ``.json.gz``)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)["data"]


def split_articles(articles: list[dict], val_articles: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(training, held-out) articles: ``val_articles`` of them held out, a seeded choice (the same
    for both readers, so neither has seen the other's held-out articles)."""
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    val = set(order[:val_articles])
    return [a for i, a in enumerate(articles) if i not in val], [a for i, a in enumerate(articles) if i in val]


_NAME = re.compile(r"\b(?:[A-Z][a-z][A-Za-z'-]*|\d[\d,.]*\d|\d)\b")
#: a name inside a sentence (after a lower-case word or a comma), not a sentence's first word
_INNER_NAME = re.compile(r"(?<=[a-z,;] )(?:[A-Z][a-z][A-Za-z'-]*|\d[\d,.]*\d|\d)\b")


def swap_pool(paragraph: str, others: list[set[str]]) -> list[str]:
    """Names and numbers used inside sentences of other paragraphs (``others``: each one's
    :func:`inner_names`) that ``paragraph`` never mentions (sorted: the pool :func:`swapped` draws from)."""
    own = set(re.findall(r"[\w'-]+", paragraph))
    return sorted(set().union(*others) - own)


def inner_names(text: str) -> set[str]:
    """The names and numbers used inside the sentences of ``text`` (not a sentence's first word)."""
    return set(_INNER_NAME.findall(text))


def swapped(question: str, sentence: str, pool: list[str], rng: random.Random) -> str | None:
    """The question with one of its names or numbers that the sentence holds swapped for one of
    ``pool`` (:func:`swap_pool`: names and numbers of other paragraphs of the article that its own
    paragraph never mentions; a number for a number) — a question the sentence no longer
    answers, like SQuAD 2.0's entity-swap questions; None when no such swap exists. The
    question's first word is never swapped."""
    words = set(re.findall(r"[\w'-]+", sentence))
    found = [m for m in _NAME.finditer(question) if m.start() > 0 and m.group() in words]
    if not found:
        return None
    m = rng.choice(found)
    number = m.group()[0].isdigit()
    choices = [w for w in pool if w[0].isdigit() == number and w not in question]
    if not choices:
        return None
    return question[: m.start()] + rng.choice(choices) + question[m.end():]


@dataclass
class Example:
    """A question and one passage to read it in, with the answer's place when it is there."""

    question: str
    passage: str
    answer: tuple[int, int] | None  #: character span of the answer in ``passage``; None: no answer here
    answer_text: str = ""


class Questions:
    """SQuAD questions turned into (positive, negative) example pairs, built when first asked
    for and the same for the same seed (so a resumed run sees the same data)."""

    def __init__(self, articles: list[dict], seed: int):
        self.articles = articles
        self.seed = seed
        self.refs = [(a, p, q) for a, art in enumerate(articles) for p, para in enumerate(art["paragraphs"])
                     for q in range(len(para["qas"]))]
        random.Random(seed).shuffle(self.refs)
        self._bm25: dict[int, object] = {}
        self._sentences: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        return len(self.refs)

    def _index(self, a: int):
        if a not in self._bm25:
            from ..index.lexical import BM25Index

            self._bm25[a] = BM25Index.build([p["context"] for p in self.articles[a]["paragraphs"]])
        return self._bm25[a]

    def _sents(self, a: int, p: int) -> list[tuple[int, int]]:
        if (a, p) not in self._sentences:
            self._sentences[(a, p)] = split_sentences(self.articles[a]["paragraphs"][p]["context"])
        return self._sentences[(a, p)]

    def positive(self, n: int) -> Example:
        a, p, q = self.refs[n]
        para = self.articles[a]["paragraphs"][p]
        qa = para["qas"][q]
        ans = qa["answers"][0]
        s = ans["answer_start"]
        return Example(qa["question"], para["context"], (s, s + len(ans["text"])), ans["text"])

    def bm25_negative(self, n: int) -> Example | None:
        a, p, q = self.refs[n]
        paragraphs = self.articles[a]["paragraphs"]
        qa = paragraphs[p]["qas"][q]
        golds = [x["text"] for x in qa["answers"]]
        scores = self._index(a).scores(qa["question"])
        for i in np.argsort(-scores, kind="stable")[:10]:
            i = int(i)
            if i != p and not contains_answer(paragraphs[i]["context"], golds):
                return Example(qa["question"], paragraphs[i]["context"], None)
        return None

    def near_miss(self, n: int) -> Example | None:
        """The question's own paragraph without the sentence(s) that hold its answer."""
        a, p, q = self.refs[n]
        para = self.articles[a]["paragraphs"][p]
        context, qa = para["context"], para["qas"][q]
        golds = [x["text"] for x in qa["answers"]]
        a_s = qa["answers"][0]["answer_start"]
        a_e = a_s + len(qa["answers"][0]["text"])
        kept = [(s, e) for s, e in self._sents(a, p) if e <= a_s or s >= a_e]
        text = " ".join(context[s:e] for s, e in kept)
        if len(text) < 40 or contains_answer(text, golds):
            return None
        return Example(qa["question"], text, None)

    def pair(self, n: int) -> list[Example]:
        """The positive and one negative (near miss for every other question, else BM25's; the
        other kind when the first cannot be made)."""
        first, second = (self.near_miss, self.bm25_negative) if n % 2 == 0 else (self.bm25_negative, self.near_miss)
        neg = first(n) or second(n)
        return [self.positive(n)] + ([neg] if neg else [])


def answer_tokens(windows, w: int, answer: tuple[int, int]) -> tuple[int, int] | None:
    """First and last token of ``answer`` (character span) in window ``w``, or None when the
    window does not hold all of it."""
    ctx = np.flatnonzero(windows.context[w])
    if len(ctx) == 0:
        return None
    off = windows.offsets[w]
    a_s, a_e = answer
    if off[ctx[0], 0] > a_s or off[ctx[-1], 1] < a_e:
        return None
    first = ctx[off[ctx, 1] > a_s]
    last = ctx[off[ctx, 0] < a_e]
    if len(first) == 0 or len(last) == 0 or first[0] > last[-1]:
        return None
    return int(first[0]), int(last[-1])


def encode_group(tokenizer, examples: list[Example], width: int = MAX_TOKENS):
    """Windows of a question's examples: one window each (for a positive longer than a window,
    the first window that holds the whole answer; for a negative, its first window) and the
    answer's token targets (-1 for a window without it)."""
    chosen, targets = [], []
    for ex in examples:
        win = encode(tokenizer, [ex.question], [ex.passage], max_tokens=width)
        pick, target = 0, (-1, -1)
        if ex.answer is not None:
            for w in range(len(win)):
                t = answer_tokens(win, w, ex.answer)
                if t is not None:
                    pick, target = w, t
                    break
        chosen.append((win, pick))
        targets.append(target)
    return chosen, targets


def collate(groups):
    """Stack the chosen windows of several groups into padded arrays; (arrays, targets, group sizes)."""
    rows = [(win, w) for chosen, _ in groups for win, w in chosen]
    width = max(int(win.attention_mask[w].sum()) for win, w in rows)
    n = len(rows)
    ids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    ctx = np.zeros((n, width), dtype=bool)
    for i, (win, w) in enumerate(rows):
        m = min(width, win.input_ids.shape[1])
        ids[i, :m] = win.input_ids[w, :m]
        mask[i, :m] = win.attention_mask[w, :m]
        types[i, :m] = win.token_type_ids[w, :m]
        ctx[i, :m] = win.context[w, :m]
    targets = [t for _, ts in groups for t in ts]
    return ids, mask, types, ctx, targets, [len(ts) for _, ts in groups]
