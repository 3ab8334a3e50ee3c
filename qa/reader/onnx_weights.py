"""The reader models' int8 ONNX files, both ways: :func:`export_int8` writes one from a torch
model, :func:`weights_from_onnx` reads its float weights back (de-quantised) and
:func:`init_from_onnx` loads them into a torch model to train on from there."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def export_int8(model, example: tuple, int8: Path) -> Path:
    """``model`` run on ``example`` (input ids, attention mask, token types: numpy) exported to ONNX
    (opset 17, dynamic batch and length), then quantised to int8 weights at ``int8``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    fp32 = int8.with_name(int8.name + ".fp32.tmp")
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(model, tuple(torch.from_numpy(x) for x in example), str(fp32),
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["start_logits", "end_logits", "has_answer"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "start_logits": axes, "end_logits": axes, "has_answer": {0: "batch"}})
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    fp32.unlink()
    return int8


def weights_from_onnx(path: Path) -> dict[str, np.ndarray]:
    """Float weights of a reader exported by ``python -m qa.train`` (int8 ONNX), by the name of
    the torch parameter they came from: MatMul weights are found through the node that uses them
    (its name is the module's path), then de-quantised and transposed back (as are the weights the
    quantiser stored transposed, such as the has-answer head's in the passage model)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def deq(prefix: str) -> np.ndarray:
        q = init[prefix + "_quantized"].astype(np.float32)
        return (q - init[prefix + "_zero_point"].astype(np.float32)) * init[prefix + "_scale"].astype(np.float32)

    out = {k: v for k, v in init.items() if not any(k.endswith(s) for s in ("_quantized", "_scale", "_zero_point"))
           and not k.startswith("onnx::")}
    for k in list(init):
        if k.endswith("_quantized") and not k.startswith("onnx::"):
            name = k[: -len("_quantized")]
            weight = deq(name)
            if name.endswith("_Transposed"):  # a Gemm's weight, which the quantiser stores transposed
                name, weight = name[: -len("_Transposed")], weight.T
            out[name] = weight
    for node in model.graph.node:
        if node.op_type == "MatMulInteger" and node.input[1].startswith("onnx::"):
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            out[module + ".weight"] = deq(node.input[1][: -len("_quantized")]).T
    return out


def init_from_onnx(model, path: Path) -> list[str]:
    """Load :func:`weights_from_onnx` into ``model``; returns the parameters it did not set."""
    import torch

    weights = weights_from_onnx(path)
    state = model.state_dict()
    missing = []
    for name, value in state.items():
        if name in weights:
            w = weights[name]
            if w.shape != tuple(value.shape) and w.T.shape == tuple(value.shape):
                w = w.T
            state[name] = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)).reshape(value.shape)
        else:
            missing.append(name)
    model.load_state_dict(state)
    return missing
