"""Whether a query is worded as a question: what ``question_model="auto"`` routes on.

The question encoder trained here (:mod:`qa.index.question_training`) learned from SQuAD questions; on
queries that are not questions — scientific claims, keywords — it does worse than the bundled model
(docs/benchmarks.md, "Question encoder trained here"). So ``auto`` encodes a query by the trained
encoder only when it reads as a question, and any other query by the statement encoder (trained further on
claims, :mod:`qa.index.claim_training`), with its own fusion weight (``Settings.statement_fusion_weight``). A query
reads as a question when it ends with a question mark, or starts with a question word
or an auxiliary verb that opens a question ("What ...", "How many ...", "Is ...", "Did ..."), or an
imperative that asks for an answer ("Name ...", "List ..."). The rule is fixed, not fitted: it sends
99.6-99.99 % of the questions of SQuAD v1.1 dev and SQuADShifts and none of BEIR SciFact's 1,109 claims
to the trained encoder.
"""

from __future__ import annotations

import re

#: Words that open a question (a preposition may come first: "In what year ...", "By whom ...").
_OPENERS = (
    "what|who|whom|whose|when|where|why|which|how|whats|is|are|was|were|am|do|does|did|can|could|should|would|will|"
    "shall|may|might|must|has|have|had|name|list|give|tell|describe|explain|define"
)
_QUESTION = re.compile(
    r"^\W*(?:(?:in|on|at|to|for|from|by|of|with|during|after|before|since|until|about|under|over|into|through)\s+)?"
    r"(?:" + _OPENERS + r")\b",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """True when ``text`` is worded as a question (see the module's doc)."""
    text = text.strip()
    return text.endswith("?") or bool(_QUESTION.match(text))
