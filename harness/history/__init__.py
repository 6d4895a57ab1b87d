"""The operation history of a run: ops, the crash-safe recorder, the loader, pairing, outcomes."""

from harness.history.classify import (
    Classified,
    classify_charge,
    classify_exception,
    classify_response,
)
from harness.history.ops import (
    COMPLETION_TYPES,
    FUNCTIONS,
    OP_TYPES,
    Op,
    Operation,
    OpFields,
    OpType,
    Outcome,
    Pairing,
    decode_op,
    merge_histories,
    op_fields,
    pair_operations,
    read_op,
    read_ops,
    scan_ops,
)
from harness.history.recorder import HistoryRecorder, LoadedHistory, load_history

__all__ = [
    "COMPLETION_TYPES",
    "FUNCTIONS",
    "OP_TYPES",
    "Classified",
    "HistoryRecorder",
    "LoadedHistory",
    "Op",
    "OpFields",
    "OpType",
    "Operation",
    "Outcome",
    "Pairing",
    "classify_charge",
    "classify_exception",
    "classify_response",
    "decode_op",
    "load_history",
    "merge_histories",
    "op_fields",
    "pair_operations",
    "read_op",
    "read_ops",
    "scan_ops",
]
