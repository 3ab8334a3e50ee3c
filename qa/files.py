"""Crash-safe file writing and file hashes, shared by the document collection and the index.

Neither stage owns these: documents are copied into the folder and the index's manifest is replaced
the same way (temporary name, fsync, rename, fsync of the folder), so a crash leaves the old file or
the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a full disk leaves no half-written temporary file behind
        raise
    fsync_dir(path.parent)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["atomic_write_bytes", "fsync_dir", "sha256_file"]


def weights_file(model_dir: Path) -> Path:
    """The folder's weights (sentence-transformers saves ``model.safetensors``; older folders
    ``pytorch_model.bin``)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise SystemExit(f"{model_dir} holds no model.safetensors: name a sentence-transformers folder "
                     "(python -m qa.train encoder saves one)")


def write_model_record(int8: Path, args, result: dict) -> dict:
    """The training record beside an exported model (``x.onnx`` -> ``x.json``): the date, the command's
    arguments, checksums of the training data and of the model, its size, and ``result``; printed too
    (without the long list of held-out titles)."""
    import json
    import time

    train = getattr(args, "train", None)  # none: trained from prepared data (its checksum in ``result``), or no SQuAD
    record = {"trained": time.strftime("%Y-%m-%d"), "args": {k: str(v) for k, v in vars(args).items()},
              "train_sha256": sha256_file(train) if train else None, "model_sha256": sha256_file(int8),
              "model_mb": round(int8.stat().st_size / 2**20, 1), **result}
    int8.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in record.items() if k != "val_titles"}, indent=1))
    return record
