import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet import DataError
from digitnet.reading.preprocess import load_digit, prepare


def drawing(size=(300, 200), dark_on_light=True, box=(200, 40, 215, 170)):
    img = Image.new("L", size, 255 if dark_on_light else 0)
    ImageDraw.Draw(img).rectangle(box, fill=0 if dark_on_light else 255)
    return img


def to_png(img, path):
    img.save(path)
    return path


def test_off_centre_dark_on_light_stroke_becomes_an_mnist_style_one(tmp_path):
    out = load_digit(to_png(drawing(), tmp_path / "one.png"))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    rows, cols = np.nonzero(out > 0.5)
    assert rows.max() - rows.min() + 1 in (19, 20, 21)  # longer side scaled to 20 px
    ys, xs = np.indices(out.shape)
    com = ((ys * out).sum() / out.sum(), (xs * out).sum() / out.sum())
    assert abs(com[0] - 14) < 1 and abs(com[1] - 14) < 1  # centred by mass
    assert out[0].max() == 0 and out[:, 0].max() == 0  # background is black


def test_light_on_dark_is_not_inverted(tmp_path):
    a = load_digit(to_png(drawing(dark_on_light=False), tmp_path / "a.png"))
    b = load_digit(to_png(drawing(dark_on_light=True), tmp_path / "b.png"))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_transparent_background_counts_as_paper(tmp_path):
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((30, 20, 70, 80), outline=(0, 0, 0, 255), width=6)
    out = load_digit(to_png(img, tmp_path / "zero.png"))
    assert out.max() > 0.9 and out[14, 14] < 0.2  # a ring: ink around, hole in the middle


@pytest.mark.parametrize("kind", ["white", "black", "grey"])
def test_one_colour_pictures_are_refused(tmp_path, kind):
    value = {"white": 255, "black": 0, "grey": 128}[kind]
    path = to_png(Image.new("L", (50, 50), value), tmp_path / f"{kind}.png")
    with pytest.raises(DataError, match="no digit found .* draw a digit first"):
        load_digit(path)


def test_not_an_image_empty_and_huge(tmp_path):
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(DataError, match="text.png: not a readable image"):
        load_digit(tmp_path / "text.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty.png: empty file"):
        load_digit(tmp_path / "empty.png")
    Image.new("1", (10000, 6000)).save(tmp_path / "huge.png")
    with pytest.raises(DataError, match="10000x6000 pixels is too large"):
        load_digit(tmp_path / "huge.png")


def test_mnist_digit_survives_preprocessing(mnist):
    """A real MNIST digit, put through the pipeline, stays close to itself."""
    image = mnist.test.images[0] / 255
    again = prepare(image)
    assert np.abs(again - image).mean() < 0.05
