"""The ``ModelMetrics`` protobuf of NAS-Bench-101 records, without protobuf or TensorFlow.

Decoded by hand, so importing the official files needs neither package; the importer
reads over a million of these messages, so :func:`final_metrics` decodes only the last
evaluation and skips the earlier ones. The encoder writes the same layout, for tests and
for the conversion benchmark's synthetic file.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Sequence


class ProtoError(Exception):
    """A malformed protobuf; the importer adds the record's byte offset."""


_DOUBLE = struct.Struct("<d")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= len(buf):
            raise ProtoError("a varint runs past the end of the message")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise ProtoError("a varint is longer than 10 bytes")


def _skip(buf: bytes, i: int, wire: int, end: int) -> int:
    if wire == 0:
        return _varint(buf, i)[1]
    if wire == 1:
        j = i + 8
    elif wire == 5:
        j = i + 4
    elif wire == 2:
        ln, i = _varint(buf, i)
        j = i + ln
    else:
        raise ProtoError(f"wire type {wire} is not used by ModelMetrics")
    if j > end:
        raise ProtoError("a field runs past the end of the message")
    return j


def decode_model_metrics(buf: bytes) -> tuple[int, list[dict[int, float]]]:
    """``(trainable_parameters, evaluation_data)`` of a serialized ``ModelMetrics``.

    Each evaluation is ``{field number: value}`` for the doubles 1 current_epoch,
    2 training_time, 3 train_accuracy, 4 validation_accuracy, 5 test_accuracy.
    Raises ``ProtoError`` on anything malformed.

    The plain decoder: tests check :func:`final_metrics`, the importer's hand-inlined
    fast path, against it, so the two parse the message separately on purpose.
    """
    params = None
    evals: list[dict[int, float]] = []
    end = len(buf)
    i = 0
    while i < end:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if field == 1:
            if wire != 2:
                raise ProtoError("field 1 (evaluation_data) is not length-delimited")
            ln, i = _varint(buf, i)
            j = i + ln
            if j > end:
                raise ProtoError("an evaluation_data entry runs past the end")
            evals.append(_decode_evaluation(buf, i, j))
            i = j
        elif field == 2:
            if wire != 0:
                raise ProtoError("field 2 (trainable_parameters) is not a varint")
            params, i = _varint(buf, i)
        else:
            i = _skip(buf, i, wire, end)
    if params is None:
        raise ProtoError("trainable_parameters (field 2) is missing")
    if not evals:
        raise ProtoError("evaluation_data (field 1) is missing")
    return params, evals


_EVAL_PREFIX = struct.Struct("<BdBdBdBdBd")  # fields 1..5 as doubles, in order
_EVAL_TAGS = (0x09, 0x11, 0x19, 0x21, 0x29)


def final_metrics(buf: bytes) -> tuple[int, float, float, float]:
    """``(trainable_parameters, validation, test accuracy, training time)`` of the final
    (last) evaluation of a serialized ``ModelMetrics``; the earlier evaluations are only
    skipped over. Raises ``ProtoError`` on anything malformed or missing."""
    params = None
    last = None
    end = len(buf)
    i = 0
    try:
        while i < end:
            key = buf[i]
            if key < 0x80:
                i += 1
            else:
                key, i = _varint(buf, i)
            field, wire = key >> 3, key & 7
            if field == 1:
                if wire != 2:
                    raise ProtoError("field 1 (evaluation_data) is not length-delimited")
                ln = buf[i]
                if ln < 0x80:
                    i += 1
                else:
                    ln, i = _varint(buf, i)
                j = i + ln
                if j > end:
                    raise ProtoError("an evaluation_data entry runs past the end")
                last = (i, j)
                i = j
            elif field == 2:
                if wire != 0:
                    raise ProtoError("field 2 (trainable_parameters) is not a varint")
                params, i = _varint(buf, i)
            else:
                i = _skip(buf, i, wire, end)
    except IndexError:
        raise ProtoError("a field runs past the end of the message") from None
    if params is None:
        raise ProtoError("trainable_parameters (field 2) is missing")
    if last is None:
        raise ProtoError("evaluation_data (field 1) is missing")
    s, e = last
    if e - s >= 45 and (buf[s], buf[s + 9], buf[s + 18], buf[s + 27], buf[s + 36]) == _EVAL_TAGS:
        # The official layout: five doubles in field order, then the checkpoint path.
        _, _, _, ttime, _, _, _, valid, _, test = _EVAL_PREFIX.unpack_from(buf, s)
        if e > s + 45 and not (e >= s + 47 and buf[s + 45] == 0x32 and s + 47 + buf[s + 46] == e):
            # Something besides a short checkpoint_path follows: decode it (a repeated
            # field's later value wins, as in protobuf).
            rest = _decode_evaluation(buf, s + 45, e)
            valid, test, ttime = rest.get(4, valid), rest.get(5, test), rest.get(2, ttime)
        return params, valid, test, ttime
    ev = _decode_evaluation(buf, s, e)
    missing = [f for f in (2, 4, 5) if f not in ev]
    if missing:
        raise ProtoError(
            f"the final evaluation lacks field {missing[0]} (2 training_time, "
            "4 validation_accuracy, 5 test_accuracy)"
        )
    return params, ev[4], ev[5], ev[2]


def _decode_evaluation(buf: bytes, i: int, end: int) -> dict[int, float]:
    out: dict[int, float] = {}
    unpack = _DOUBLE.unpack_from
    while i < end:
        key = buf[i]
        if key < 0x80:
            i += 1
        else:
            key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if 1 <= field <= 5:
            if wire != 1:
                raise ProtoError(f"EvaluationData field {field} is not a double")
            if i + 8 > end:
                raise ProtoError("an EvaluationData double runs past the end")
            out[field] = unpack(buf, i)[0]
            i += 8
        else:
            i = _skip(buf, i, wire, end)
    return out


def encode_model_metrics(
    evaluations: Sequence[dict[str, float]],
    params: int,
    total_time: float,
    checkpoint_path: str = "",
) -> bytes:
    """Serialize a ``ModelMetrics`` as the official files hold it (for tests and the
    conversion benchmark). ``evaluations`` items have keys current_epoch,
    training_time, train_accuracy, validation_accuracy, test_accuracy."""

    def varint(x: int) -> bytes:
        out = bytearray()
        while True:
            b = x & 0x7F
            x >>= 7
            if x:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    names = (
        "current_epoch",
        "training_time",
        "train_accuracy",
        "validation_accuracy",
        "test_accuracy",
    )
    blob = bytearray()
    for ev in evaluations:
        sub = bytearray()
        for f, name in enumerate(names, start=1):
            sub += bytes([f << 3 | 1]) + _DOUBLE.pack(float(ev[name]))
        path = checkpoint_path.encode()
        sub += bytes([6 << 3 | 2]) + varint(len(path)) + path
        blob += bytes([1 << 3 | 2]) + varint(len(sub)) + sub
    blob += bytes([2 << 3 | 0]) + varint(int(params))
    blob += bytes([3 << 3 | 1]) + _DOUBLE.pack(float(total_time))
    return bytes(blob)


def encode_record(
    module_hash_: str,
    epochs: int,
    matrix: Sequence[Sequence[int]],
    ops: Sequence[str],
    metrics: bytes,
) -> bytes:
    """The JSON data of one official record (base64 with newlines, as the originals)."""
    adjacency = "".join(str(int(x)) for row in matrix for x in row)
    raw = base64.encodebytes(metrics).decode("ascii")
    return json.dumps([module_hash_, epochs, adjacency, ",".join(ops), raw]).encode("utf-8")
