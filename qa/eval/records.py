"""The results of an evaluation as typed records (see :mod:`qa.eval` for what each metric means).

:func:`qa.eval.evaluate` returns an :class:`Evaluation`: per retrieval mode a :class:`ModeResult`
(retrieval metrics, :class:`AnswerMetrics`, breakdowns by question type, one :class:`QueryResult`
per query), and for several modes the paired tests between them (:class:`Significance`).

Each record's ``to_dict`` writes the JSON that ``qa eval --json`` prints and ``--report`` saves
(the same keys in the same order), and ``from_dict`` reads it back. Retrieval metrics stay a
mapping from the metric's name (``recall@5``, ``mrr@10``, ...) to its value, as ranx names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True, kw_only=True)
class AnswerScores:
    """The scores of one answer to one query (:func:`qa.eval.answer_scores`). ``exact_match``,
    ``f1``, ``evidence_hit`` and ``partly_right`` are ``None`` where they do not apply (an
    unanswerable query; no gold text for a query given by character ranges)."""

    answerable: bool  #: whether the query has an answer in the documents
    exact_match: float | None
    f1: float | None
    evidence_hit: bool | None  #: the answer's sentence holds a gold answer (or overlaps a relevant range)
    abstained: bool
    correct: bool  #: exact match; for a range-only query the evidence; for an unanswerable one, abstaining
    status: str  #: the answer's state: ``answer``, ``tentative`` or ``none``
    partly_right: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"answerable": self.answerable, "exact_match": self.exact_match, "f1": self.f1,
                "evidence_hit": self.evidence_hit, "abstained": self.abstained, "correct": self.correct,
                "status": self.status, "partly_right": self.partly_right}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AnswerScores":
        return cls(answerable=d["answerable"], exact_match=d["exact_match"], f1=d["f1"],
                   evidence_hit=d["evidence_hit"], abstained=d["abstained"], correct=d["correct"],
                   status=d.get("status") or ("none" if d["abstained"] else "answer"),
                   partly_right=d.get("partly_right"))


@dataclass(frozen=True, kw_only=True)
class QueryResult:
    """One query in one retrieval mode: what was retrieved and answered, and its scores."""

    id: str
    question: str
    type: str | None = None
    paraphrase: bool = False
    gold: tuple[str, ...] = ()  #: the query's gold answers
    rank: int | None = None  #: rank of the first relevant passage; ``None``: none in the top k (or unanswerable)
    #: the same in the evidence the answer shows (the passages read first, then the rest of the search); the reader
    #: moves the answer's passage first, and one it found further down the list too
    shown_rank: int | None = None
    answer: str | None = None  #: the answer's text; ``None``: it abstained
    confidence: float | None = None
    doc: str | None = None  #: the answer's document
    sentence: str | None = None  #: the sentence(s) around the answer
    top_docs: tuple[str, ...] = ()  #: documents of the first three passages
    error: str | None = None  #: why the question could not be asked (then it counts as an abstention)
    scores: AnswerScores

    @property
    def answerable(self) -> bool:
        return self.scores.answerable

    def to_dict(self) -> dict[str, Any]:
        """The fields flat, the scores last (``error`` only when there is one)."""
        d = {"id": self.id, "question": self.question, "type": self.type, "paraphrase": self.paraphrase,
             "answerable": self.answerable, "gold": list(self.gold), "rank": self.rank, "shown_rank": self.shown_rank,
             "answer": self.answer,
             "confidence": self.confidence, "doc": self.doc, "sentence": self.sentence,
             "top_docs": list(self.top_docs)}
        if self.error is not None:
            d["error"] = self.error
        scores = self.scores.to_dict()
        del scores["answerable"]
        return {**d, **scores}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "QueryResult":
        return cls(id=d["id"], question=d["question"], type=d.get("type"), paraphrase=bool(d.get("paraphrase")),
                   gold=tuple(d.get("gold") or ()), rank=d.get("rank"), shown_rank=d.get("shown_rank"),
                   answer=d.get("answer"),
                   confidence=d.get("confidence"), doc=d.get("doc"), sentence=d.get("sentence"),
                   top_docs=tuple(d.get("top_docs") or ()), error=d.get("error"), scores=AnswerScores.from_dict(d))


@dataclass(frozen=True, kw_only=True)
class AnswerMetrics:
    """Answer metrics averaged over queries (:func:`qa.eval.answer_metrics`); ``None`` where no
    query counts (e.g. ``abstain_correct`` without an unanswerable query)."""

    exact_match: float | None = None  #: over answerable queries, as the next five
    f1: float | None = None
    partly_right: float | None = None
    evidence_hit: float | None = None
    abstain_correct: float | None = None  #: share of unanswerable queries where it abstained
    abstain_wrong: float | None = None  #: share of answerable queries where it abstained
    share_answer: float | None = None  #: share of all queries answered in this state ...
    accuracy_answer: float | None = None  #: ... and the share of those that are right
    share_tentative: float | None = None
    accuracy_tentative: float | None = None
    share_none: float | None = None
    accuracy_none: float | None = None  #: share of "none" on queries the documents do not answer

    def to_dict(self) -> dict[str, Any]:
        return {"exact_match": self.exact_match, "f1": self.f1, "partly_right": self.partly_right,
                "evidence_hit": self.evidence_hit, "abstain_correct": self.abstain_correct,
                "abstain_wrong": self.abstain_wrong, "share_answer": self.share_answer,
                "accuracy_answer": self.accuracy_answer, "share_tentative": self.share_tentative,
                "accuracy_tentative": self.accuracy_tentative, "share_none": self.share_none,
                "accuracy_none": self.accuracy_none}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AnswerMetrics":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True)
class GroupMetrics:
    """The metrics of one group of queries (a question type, or paraphrased or not)."""

    n: int  #: queries in the group
    recall_at_5: float | None  #: written as ``recall@5``
    shown_recall_at_5: float | None = None  #: the same in the evidence shown; written as ``shown recall@5``
    answer: AnswerMetrics

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "recall@5": self.recall_at_5, "shown recall@5": self.shown_recall_at_5,
                **self.answer.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GroupMetrics":
        return cls(n=d["n"], recall_at_5=d.get("recall@5"), shown_recall_at_5=d.get("shown recall@5"),
                   answer=AnswerMetrics.from_dict(d))


@dataclass(frozen=True, kw_only=True)
class ModeResult:
    """Every query evaluated in one retrieval mode."""

    mode: str
    n_queries: int
    n_answerable: int
    retrieval: Mapping[str, float]  #: ``recall@1/3/5/10``, ``mrr@10``, ``ndcg@10`` (over answerable queries)
    #: the same metrics of the evidence shown with the answer (:attr:`QueryResult.shown_rank`)
    shown: Mapping[str, float] = field(default_factory=dict)
    recall_curve: tuple[float, ...]  #: recall@1 .. recall@k
    answer: AnswerMetrics
    by_type: Mapping[str, GroupMetrics] = field(default_factory=dict)
    by_paraphrase: Mapping[str, GroupMetrics] = field(default_factory=dict)
    seconds: float = 0.0
    per_query: tuple[QueryResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "n_queries": self.n_queries, "n_answerable": self.n_answerable,
                "retrieval": dict(self.retrieval), "shown": dict(self.shown), "recall_curve": list(self.recall_curve),
                "answer": self.answer.to_dict(), "by_type": {k: g.to_dict() for k, g in self.by_type.items()},
                "by_paraphrase": {k: g.to_dict() for k, g in self.by_paraphrase.items()}, "seconds": self.seconds,
                "per_query": [r.to_dict() for r in self.per_query]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModeResult":
        return cls(mode=d["mode"], n_queries=d["n_queries"], n_answerable=d["n_answerable"],
                   retrieval=dict(d["retrieval"]), shown=dict(d.get("shown") or {}),
                   recall_curve=tuple(d["recall_curve"]),
                   answer=AnswerMetrics.from_dict(d["answer"]),
                   by_type={k: GroupMetrics.from_dict(g) for k, g in (d.get("by_type") or {}).items()},
                   by_paraphrase={k: GroupMetrics.from_dict(g) for k, g in (d.get("by_paraphrase") or {}).items()},
                   seconds=d.get("seconds", 0.0), per_query=tuple(QueryResult.from_dict(r) for r in d["per_query"]))


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """One metric compared between two modes: ``a``'s score minus ``b``'s, and the paired test's p-value."""

    a: str
    b: str
    metric: str
    difference: float
    p_value: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "metric": self.metric, "difference": self.difference,
                "p_value": self.p_value, "significant": self.significant}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Comparison":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True)
class Significance:
    """Paired tests between modes (:func:`qa.eval.compare_rankings`)."""

    test: str  #: ranx's name of the test (``fisher``: Fisher's randomization test)
    max_p: float  #: p-values below it are significant
    n_queries: int | None = None  #: queries compared; ``None`` when none has a relevant passage
    pairs: tuple[Comparison, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"test": self.test, "max_p": self.max_p}
        if self.n_queries is not None:
            d["n_queries"] = self.n_queries
        d["pairs"] = [p.to_dict() for p in self.pairs]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Significance":
        return cls(test=d["test"], max_p=d["max_p"], n_queries=d.get("n_queries"),
                   pairs=tuple(Comparison.from_dict(p) for p in d.get("pairs") or ()))


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """The result of :func:`qa.eval.evaluate`: every mode's result, the paired tests between the
    modes (several modes only), and what the query file or the index made worth a warning.

    Its JSON has two forms: one mode's result flat with ``k`` and ``warnings`` added; for several
    modes ``{"n_queries", "k", "modes": {mode: result}, "significance", "warnings"}``. ``problems``
    (the query file's bad lines, as ``qa eval`` reports them) comes last when it is set.
    """

    k: int  #: retrieval depth: the length of the recall curve
    modes: Mapping[str, ModeResult]
    significance: Significance | None = None
    warnings: tuple[str, ...] = ()
    problems: tuple[str, ...] | None = None  #: the query file's bad lines; ``None``: not recorded

    @property
    def n_queries(self) -> int:
        return next(iter(self.modes.values())).n_queries if self.modes else 0

    def to_dict(self) -> dict[str, Any]:
        if len(self.modes) == 1 and self.significance is None:
            d = {**next(iter(self.modes.values())).to_dict(), "k": self.k, "warnings": list(self.warnings)}
        else:
            d = {"n_queries": self.n_queries, "k": self.k, "modes": {m: r.to_dict() for m, r in self.modes.items()},
                 "significance": self.significance.to_dict() if self.significance is not None else None,
                 "warnings": list(self.warnings)}
        if self.problems is not None:
            d["problems"] = list(self.problems)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Evaluation":
        """Either form :meth:`to_dict` writes."""
        if "modes" in d:
            modes = {m: ModeResult.from_dict(r) for m, r in d["modes"].items()}
            significance = Significance.from_dict(d["significance"]) if d.get("significance") is not None else None
        else:
            modes, significance = {d["mode"]: ModeResult.from_dict(d)}, None
        problems = d.get("problems")
        return cls(k=d["k"], modes=modes, significance=significance, warnings=tuple(d.get("warnings") or ()),
                   problems=None if problems is None else tuple(problems))
