"""Running the reader models: the bundled tokenizer, and an ONNX Runtime session checked for the
inputs and outputs that ``python -m qa.train`` exports."""

from __future__ import annotations

from pathlib import Path

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
    try:
        session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid files
        raise ModelError(f"cannot load the reader model {str(model_file)!r}: {exc}") from None
    names = ({i.name for i in session.get_inputs()}, {o.name for o in session.get_outputs()})
    if names != (INPUTS, OUTPUTS):
        raise ModelError(f"{str(model_file)!r} is not a reader model of `python -m qa.train {command}`: it takes "
                         f"{sorted(names[0])} and gives {sorted(names[1])}")
    return session
