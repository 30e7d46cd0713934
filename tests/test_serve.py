"""The web app's API: each endpoint, and each bad input gets a clear 4xx, never a 500."""

import io
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from digitnet.app.serve import create_app


@pytest.fixture(scope="module")
def client(served_model):
    with TestClient(create_app(served_model), raise_server_exceptions=False) as c:
        yield c


def png(draw=None, size=(200, 200), background=255):
    img = Image.new("L", size, background)
    if draw:
        draw(ImageDraw.Draw(img))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def one(d):
    d.line((100, 30, 100, 170), fill=0, width=16)


def test_healthz_and_model_card(client):
    assert client.get("/healthz").json()["status"] == "ok"
    card = client.get("/api/model").json()
    assert card["sizes"] == [784, 256, 256, 10] and card["test_accuracy"] > 0.97 and card["classes"][3] == "3"


def test_random_sample_and_predicting_its_pixels(client):
    sample = client.get("/api/samples/random", params={"index": 0}).json()
    assert sample["index"] == 0 and sample["label"] == 7 and len(sample["pixels"]) == 784
    result = client.post("/api/predict", json={"pixels": sample["pixels"]}).json()
    assert result["prediction"] == 7 and math.isclose(sum(result["probabilities"]), 1, rel_tol=1e-5)
    assert len(result["image"]) == 784
    assert client.get("/api/samples/random").status_code == 200


def test_uploaded_png_is_preprocessed_like_mnist(client):
    response = client.post("/api/predict", files={"file": ("one.png", png(one), "image/png")})
    assert response.status_code == 200
    data = response.json()
    assert data["prediction"] == 1
    image = np.array(data["image"]).reshape(28, 28)
    assert image[0].max() == 0 and image.max() > 0.9  # white ink on black, centred, with a margin


def test_raw_image_body(client):
    response = client.post("/api/predict", content=png(one), headers={"content-type": "image/png"})
    assert response.status_code == 200 and response.json()["prediction"] == 1


def test_blank_pixels_and_a_blank_upload_are_read_as_not_a_digit(client):
    for response in (client.post("/api/predict", json={"pixels": [0.0] * 784}),
                     client.post("/api/predict", files={"file": ("white.png", png(), "image/png")})):
        assert response.status_code == 200
        data = response.json()
        assert (data["verdict"], data["reason"], data["label"]) == ("not_a_digit", "blank", None)
        assert data["message"] == "nothing drawn"


def test_the_verdict_fields(client):
    sample = client.get("/api/samples/random", params={"index": 0}).json()
    data = client.post("/api/predict", json={"pixels": sample["pixels"]}).json()
    assert data["verdict"] == "digit" and data["label"] == 7 and data["label_name"] == "7" and data["reason"] is None
    assert 0.5 < data["confidence"] <= 1 and len(data["probabilities"]) == 10 and data["candidates"] == []


@pytest.mark.parametrize("body, message", [
    ({"pixels": [0.5] * 783}, "at least 784"),
    ({"pixels": [0.5] * 785}, "at most 784"),
    ({"pixels": [0.5] * 783 + [1.5]}, "less than or equal to 1"),
    ({"pixels": [0.5] * 783 + [-0.1]}, "greater than or equal to 0"),
    ({"pixels": "nope"}, "pixels: Input should be a valid"),
    ({}, "pixels: Field required"),
])
def test_bad_pixels(client, body, message):
    response = client.post("/api/predict", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_nan_and_malformed_json(client):
    nan = b'{"pixels": [' + b",".join([b"0.5"] * 783 + [b"NaN"]) + b"]}"
    response = client.post("/api/predict", content=nan, headers={"content-type": "application/json"})
    assert response.status_code == 422
    response = client.post("/api/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["detail"]


@pytest.mark.parametrize("files, message", [
    ({"file": ("x.png", b"this is not an image", "image/png")}, "not a readable image"),
    ({"file": ("empty.png", b"", "image/png")}, "empty file"),
    ({"other": ("x.png", png(one), "image/png")}, "field 'file'"),
])
def test_bad_uploads(client, files, message):
    response = client.post("/api/predict", files=files)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_oversized_bodies_get_413(client):
    big = b"\x00" * (2 * 1024 * 1024 + 1)
    response = client.post("/api/predict", content=big, headers={"content-type": "image/png"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    def chunks():  # no Content-Length: counted while reading
        for _ in range(40):
            yield b"\x00" * 65536
    response = client.post("/api/predict", content=chunks(), headers={"content-type": "image/png"})
    assert response.status_code == 413


def test_unsupported_type_and_bad_index(client):
    response = client.post("/api/predict", content=b"hello", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and "unsupported content type" in response.json()["detail"]
    assert client.get("/api/samples/random", params={"index": 10000}).status_code == 422
    assert client.get("/api/samples/random", params={"index": "x"}).status_code == 422


def test_page_and_static_files_are_served_offline(client):
    page = client.get("/").text
    assert '<canvas id="pad"' in page and "http" not in page.replace('http-equiv', '')
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200
    assert "/api/predict" in client.get("/openapi.json").text


def test_head_requests_work(client):
    assert client.head("/").status_code == 200
    assert client.head("/healthz").status_code == 200


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")


def test_security_headers_on_every_response(client):
    for response in (client.get("/"), client.get("/api/model"), client.get("/nope"),
                     client.post("/api/predict", content=b"x", headers={"content-type": "text/plain"})):
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY" and response.headers["referrer-policy"] == "no-referrer"
