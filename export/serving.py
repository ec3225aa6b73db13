"""TF Serving's request and response formats, applied to a loaded signature.

The server cannot run here, so these functions do what it does with a request: decode the REST
JSON (``instances``: row format, ``inputs``: columnar format) or a gRPC ``PredictRequest`` into
tensors, call the signature, and encode the response the way the server does (``predictions`` for
row requests, ``outputs`` for columnar ones). Tests send documented request bodies through them;
clients can use them to check their payloads against a SavedModel without a server.

It also writes the warm-up requests TF Serving replays when it loads a model
(``assets.extra/tf_serving_warmup_requests``), so that the first client does not pay for
building, and with ``liveness export --xla`` compiling, the graph of each batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

Signature = Callable[..., Mapping[str, tf.Tensor]]


def _inputs(signature: Signature) -> dict[str, tf.TensorSpec]:
    return dict(signature.structured_input_signature[1])


def _decode(value: object, spec: tf.TensorSpec) -> tf.Tensor:
    array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
    if len(array.shape) != len(spec.shape):
        raise ValueError(f"input {spec.name!r}: expected rank {len(spec.shape)} "
                         f"{spec.shape}, got shape {array.shape}")
    return tf.constant(array)


def predict_rest(signature: Signature, body: Mapping[str, object]) -> dict[str, object]:
    """Answer a REST ``:predict`` body as TF Serving does (one signature, already chosen)."""
    specs = _inputs(signature)
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise ValueError("'instances' must be a non-empty list of objects")
        columns = {name: [row[name] for row in rows] for name in specs}
        outputs = signature(**{n: _decode(columns[n], s) for n, s in specs.items()})
        outputs = {k: v.numpy() for k, v in outputs.items()}
        count = len(rows)
        if all(v.ndim > 0 and v.shape[0] == count for v in outputs.values()):
            return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()}
                                    for i in range(count)]}
        raise ValueError("row format needs every output batched; use the columnar 'inputs' format")
    if "inputs" in body:
        columns = body["inputs"]
        missing = set(specs) - set(columns)
        if missing:
            raise ValueError(f"missing inputs: {sorted(missing)}")
        outputs = signature(**{n: _decode(columns[n], s) for n, s in specs.items()})
        return {"outputs": {k: v.numpy().tolist() for k, v in outputs.items()}}
    raise ValueError("request body needs 'instances' (row format) or 'inputs' (columnar format)")


def predict_grpc(signature: Signature, request):
    """Answer a ``tensorflow_serving.apis.predict_pb2.PredictRequest`` with a ``PredictResponse``."""
    from tensorflow_serving.apis import predict_pb2

    specs = _inputs(signature)
    inputs = {name: tf.constant(tf.make_ndarray(request.inputs[name])) for name in specs}
    outputs = signature(**inputs)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


#: Where TF Serving looks for warm-up requests, relative to a model version's folder.
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def warmup_requests(signature_inputs: Mapping[str, Mapping[str, tf.TensorSpec]],
                    batches: Iterable[int], model_name: str = "liveness") -> list:
    """``PredictionLog`` records, one per signature of ``signature_inputs`` (``{signature:
    {input: spec}}``, each input's first axis the batch) and batch size: blank inputs (zero
    pixels and landmarks, one real value per tensor that TensorFlow repeats to the shape, so a
    record of a 64-pair batch is a few hundred bytes)."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    logs = []
    for batch in batches:
        for signature, specs in signature_inputs.items():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for name, spec in specs.items():
                shape = [batch, *spec.shape[1:]]
                request.inputs[name].CopyFrom(tf.make_tensor_proto(0, spec.dtype, shape))
            logs.append(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(version_dir: Path, logs: list) -> Path:
    """``logs`` as the TFRecord file TF Serving replays on load (at most 1000 records)."""
    if len(logs) > 1000:
        raise ValueError(f"TF Serving replays at most 1000 warm-up records, got {len(logs)}")
    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup(path: Path) -> list:
    """The ``PredictionLog`` records of a warm-up file."""
    from tensorflow_serving.apis import prediction_log_pb2

    return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(str(path))]
