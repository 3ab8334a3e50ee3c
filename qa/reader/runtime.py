"""Running the reader models: the bundled tokenizer, and an ONNX Runtime session checked for the
inputs and outputs that ``python -m qa.train`` exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError

INPUTS = {"input_ids", "attention_mask", "token_type_ids"}
OUTPUTS = {"start_logits", "end_logits", "has_answer"}


def load_tokenizer(model_dir: Path):
    """The bundled model's WordPiece tokenizer (``tokenizer.json``), without padding or truncation."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def open_session(model_file: Path, threads: int, command: str):
    """An ONNX Runtime session of ``model_file`` on ``threads`` CPU threads; a clear
    :class:`ModelError` when the file cannot be loaded or is not a reader model (``command`` names
    the ``python -m qa.train`` command that exports one)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(threads, 1)
    options.inter_op_num_threads = 1
    # no spin-waiting between the threads' shares of an operator: with another process on a core, a
    # spinning thread holds its own core while it waits for the busy one (90 ms a passage on 2 threads
    # against 59 ms without spinning and 71 ms on one thread, docs/benchmarks.md "Reading on two threads")
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid files
        raise ModelError(f"cannot load the reader model {str(model_file)!r}: {exc}") from None
    names = ({i.name for i in session.get_inputs()}, {o.name for o in session.get_outputs()})
    if names != (INPUTS, OUTPUTS):
        raise ModelError(f"{str(model_file)!r} is not a reader model of `python -m qa.train {command}`: it takes "
                         f"{sorted(names[0])} and gives {sorted(names[1])}")
    return session


def run_rows(session, feed: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
    """``session.run(names, feed)`` one row at a time, each row cut to its own tokens (its
    ``attention_mask``), the per-token outputs padded back with -10,000.

    Why not one padded batch: the int8 models quantise their activations per tensor
    (``DynamicQuantizeLinear``), so every row of a batch shares one scale, set by the widest row
    and by the padding; and the padding is computed too. Row by row answered as well (F1 51.8 against
    51.6 on the SQuADShifts calibration half, 50.6 against 50.7 on the test half, 1,200 questions each)
    in three quarters of the time (``bench/read_first.py``)."""
    mask = feed["attention_mask"]
    rows, width = mask.shape
    out: list[list[np.ndarray]] = [[] for _ in names]
    for r in range(rows):
        n = int(mask[r].sum())
        got = session.run(names, {k: v[r: r + 1, :n] for k, v in feed.items()})
        for o, g in zip(out, got):
            if g.ndim == 2 and g.shape[1] == n:  # per token: pad back to the batch's width
                g = np.pad(g, ((0, 0), (0, width - n)), constant_values=-1e4)
            o.append(g)
    return [np.concatenate(o) for o in out]
