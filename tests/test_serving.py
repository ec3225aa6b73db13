"""TF Serving's request path, as far as it runs without the server (docs/serving.md)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from export.serving import predict_grpc, predict_rest
from export.golden import load_golden
from tests.test_export import GOLDEN


@pytest.fixture(scope="module")
def signatures(exported):
    return tf.saved_model.load(str(exported.saved_model)).signatures


@pytest.fixture(scope="module")
def inputs():
    return load_golden(GOLDEN)


def test_saved_model_cli_shows_both_signatures(exported):
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
           str(exported.saved_model), "--all"]
    text = subprocess.run(cli, capture_output=True, text=True, check=True).stdout
    for needle in ("signature_def['serving_default']", "signature_def['check_clip']",
                   "inputs['prev'] tensor_info", "dtype: DT_UINT8", "shape: (-1, 160, 160)",
                   "inputs['landmarks'] tensor_info", "shape: (-1, 68, 2)",
                   "outputs['score'] tensor_info", "outputs['verdict'] tensor_info"):
        assert needle in text, needle


def test_rest_row_format(signatures, inputs):
    index, arrays = inputs
    body = json.loads(json.dumps({"signature_name": "serving_default", "instances": [
        {name: arrays[name][i].tolist() for name in arrays} for i in range(2)]}))
    response = predict_rest(signatures[body["signature_name"]], body)
    predictions = response["predictions"]
    assert len(predictions) == 2
    for prediction, expected in zip(predictions, index["expected"]):
        assert prediction["valid"] == expected["valid"]
        assert prediction["texture"] == pytest.approx(expected["texture"], abs=1e-4)
        np.testing.assert_allclose(prediction["landmark_flow"], expected["landmark_flow"], atol=5e-4)
    json.dumps(response)   # the response is plain JSON


def test_rest_columnar_format_for_the_clip_signature(signatures, inputs):
    _index, arrays = inputs
    frames = np.concatenate([arrays["prev"][:1], arrays["next"][:1]] * 3)
    marks = np.repeat(arrays["landmarks"][:1], 6, axis=0)
    body = {"signature_name": "check_clip",
            "inputs": {"frames": frames.tolist(), "landmarks": marks.tolist(),
                       "patches": np.repeat(arrays["patches"][:1], 6, axis=0).tolist(),
                       "patch_context": np.repeat(arrays["patch_context"][:1], 6).tolist()}}
    outputs = predict_rest(signatures["check_clip"], json.loads(json.dumps(body)))["outputs"]
    assert set(outputs) >= {"verdict", "reason", "clip_score", "pair_score", "pairs_used",
                            "texture_opinion", "motion_opinion", "texture_score"}
    assert len(outputs["pair_score"]) == 5 and outputs["verdict"] in (0, 1, 2)


def test_rest_errors_say_what_is_wrong(signatures):
    with pytest.raises(ValueError, match="'instances' .* or 'inputs'"):
        predict_rest(signatures["serving_default"], {"rows": []})
    with pytest.raises(ValueError, match="missing inputs"):
        predict_rest(signatures["serving_default"], {"inputs": {"prev": [[[0]]]}})
    with pytest.raises(ValueError, match="rank"):
        predict_rest(signatures["serving_default"],
                     {"inputs": {"prev": [[0]], "next": [[0]], "landmarks": [[0, 0]],
                                 "patches": [[0]], "patch_context": [0.0]}})


def test_grpc_predict_request(signatures, inputs):
    from tensorflow_serving.apis import predict_pb2

    index, arrays = inputs
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "liveness"
    request.model_spec.signature_name = "serving_default"
    for name, array in arrays.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    response = predict_grpc(signatures["serving_default"], request)
    texture = tf.make_ndarray(response.outputs["texture"])
    np.testing.assert_allclose(texture, [e["texture"] for e in index["expected"]], atol=1e-4)
    valid = tf.make_ndarray(response.outputs["valid"])
    assert valid.tolist() == [e["valid"] for e in index["expected"]]
    assert response.model_spec.name == "liveness"
