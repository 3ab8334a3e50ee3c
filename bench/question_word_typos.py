#!/usr/bin/env python
"""How many questions of each held-out set the question-word rule can touch: a word of four letters or more, not
an English word, one edit from a question word (the rule's only trigger)."""
import gzip
import json

from qa.index.spelling import QUESTION_WORDS, english_words, one_edit, _heads
eng = english_words()
sets = {"squad-dev": "/work/shared/benchmarks/squad_v1.1_dev/dev-v1.1.json"}
for n in ("new_wiki", "reddit", "amazon_reviews"):
    sets[n] = f"/work/shared/benchmarks/training/squadshifts_v1.0/{n}_v1.0.json.gz"
for name, path in sets.items():
    op = gzip.open if path.endswith(".gz") else open
    data = json.load(op(path, "rt"))["data"]
    qs = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    hit = []
    for q in qs:
        for h in _heads(q):
            w = h.lower()
            if len(w) >= 4 and w not in eng and any(x in one_edit(w) for x in QUESTION_WORDS):
                hit.append((q, h))
                break
    print(f"{name}: {len(qs)} questions, {len(hit)} with a word the rule can touch", [h for _, h in hit[:8]])
