"""What both stages of the question encoder's training share (:mod:`qa.index.question_training`, then
:mod:`qa.index.claim_training`): the bundled model's vectors of texts, cached, and the ranking loss against
passage vectors that stay fixed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np


def embed_cached(embedder, texts: list[str], work: Path, name: str) -> np.ndarray:
    """The bundled model's vectors of ``texts``, kept in ``work`` under the hash of the texts."""
    key = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    path = work / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    t0 = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=16, progress=True)
    np.save(path, vectors)
    print(f"embedded {len(texts)} {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return vectors


def fixed_passage_loss(model, passages: np.ndarray, anchors: np.ndarray, scale: float, anchor: float,
                       fixed: np.ndarray | None = None, statement_anchor: float = 0.0, corpus: int = 0):
    """The loss module for sentence-transformers' trainer: labels are rows of ``[question, own paragraph,
    negatives...]`` indices into ``anchors`` (the bundled model's question vectors) and ``passages``; with
    ``fixed`` (the bundled model's vectors of statements), the features hold a second column of statements
    and each row ends with its statement's index into ``fixed``. With ``corpus`` > 0, the own paragraph is
    ranked against the ``corpus`` rows of ``passages`` nearest the question's vector (all of them when
    ``corpus`` is as many), and the row's other indices are paragraphs left out (a repeat of the own
    paragraph is padding)."""
    import torch
    from torch import nn

    class FixedPassageLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.register_buffer("passages", torch.from_numpy(passages), persistent=False)
            self.register_buffer("anchors", torch.from_numpy(anchors), persistent=False)
            if fixed is not None:
                self.register_buffer("fixed", torch.from_numpy(fixed), persistent=False)

        def forward(self, features, labels):
            q = nn.functional.normalize(self.model(features[0])["sentence_embedding"].float(), dim=-1)
            labels = labels.to(q.device)
            if corpus:  # in float32 even under bfloat16 autocast: thousands of near scores are told apart
                with torch.autocast(q.device.type, enabled=False):
                    scores = scale * q @ self.passages.T
                own, left_out = labels[:, 1], labels[:, 2:]
                low = torch.finfo(scores.dtype).min
                scores = scores.scatter(1, left_out, torch.where(left_out == own[:, None], scores.gather(1, left_out),
                                                                 low))
                if corpus < len(self.passages) - 1:  # the nearest others, found among all
                    nearest = scores.scatter(1, own[:, None], low).topk(corpus, dim=1).indices
                    scores = torch.cat([scores.gather(1, own[:, None]), scores.gather(1, nearest)], dim=1)
                    own = torch.zeros_like(own)
                ranking = nn.functional.cross_entropy(scores, own)
            else:
                paragraphs = labels[:, 1:-1] if fixed is not None else labels[:, 1:]
                columns, where = torch.unique(paragraphs, return_inverse=True)
                scores = scale * q @ self.passages[columns].T
                ranking = nn.functional.cross_entropy(scores, where[:, 0])
            drift = (1 - (q * self.anchors[labels[:, 0]]).sum(-1)).mean()
            losses = {"ranking": ranking, "anchor": anchor * drift}
            if fixed is not None:
                st = nn.functional.normalize(self.model(features[1])["sentence_embedding"].float(), dim=-1)
                losses["statements"] = statement_anchor * (1 - (st * self.fixed[labels[:, -1]]).sum(-1)).mean()
            return losses

    return FixedPassageLoss()
