"""The made-up training sets: cached, and one random draw or another on request."""

import numpy as np

from digitnet.run.recipes import RECIPES, training_data
from digitnet.synthetic import sets as synthetic_sets


def test_draw_zero_is_the_standard_draw_and_other_draws_differ(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path))
    standard = synthetic_sets.drawn(10)
    assert np.array_equal(synthetic_sets.drawn(10, 0), standard)
    # draw 0 keeps the generator key it always had: the default recipe trains on the same pictures as before
    assert np.array_equal(standard, synthetic_sets.make_drawn(10, np.random.default_rng([synthetic_sets.VERSION, 10])))
    other = synthetic_sets.drawn(10, 1)
    assert other.shape == standard.shape and not np.array_equal(other, standard)
    assert np.array_equal(synthetic_sets.drawn(10, 1), other)  # the same draw again: the same pictures (cached)
    images, labels = synthetic_sets.digits(10)
    images_1, labels_1 = synthetic_sets.digits(10, 1)
    assert np.array_equal(labels, labels_1) and not np.array_equal(images, images_1)
    assert len(list(tmp_path.glob("synthetic/*draw1*"))) == 2


def test_pairs_of_training_digits_are_made_once_per_images_and_seed(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path))
    images = mnist.train.images[:200]
    first = synthetic_sets.nondigits(images, 30, seed=4)
    expected = synthetic_sets.pairs(images, 10, np.random.default_rng([4, 7]))
    assert np.array_equal(first[20:], expected)  # a third of them: pairs of the given digits
    made = []
    monkeypatch.setattr(synthetic_sets, "pairs", lambda *a: made.append(a) or expected)
    assert np.array_equal(synthetic_sets.nondigits(images, 30, seed=4), first) and made == []  # read back
    synthetic_sets.nondigits(images, 30, seed=5)  # another seed,
    synthetic_sets.nondigits(mnist.train.images[200:400], 30, seed=4)  # other digits: made again
    assert len(made) == 2 and len(list(tmp_path.glob("synthetic/pairs-*"))) == 3  # one entry for each


def test_training_data_is_the_pictures_over_255_in_one_array(mnist):
    """Gathered as bytes and turned to floats once: the rows are the validation split's complement, the scans,
    the restyled digits, the made-up digits and the non-digits, each pixels / 255."""
    config = RECIPES["default"].updated(synthetic_digits=20, outliers=30, low_resolution=10, restyled_digits=10)
    X, y, val_idx = training_data(config, mnist)
    n = len(mnist.train) - len(val_idx)
    assert X.dtype == np.float32 and len(X) == len(y) == n + 10 + 10 + 20 + 30
    train_idx = np.setdiff1d(np.arange(len(mnist.train)), val_idx)
    assert np.array_equal(X[:n], mnist.train.features()[train_idx]) and np.array_equal(y[:n], mnist.train.labels[train_idx])
    assert np.array_equal(X * 255, np.round(X * 255)) and X.min() >= 0 and X.max() <= 1
    assert np.all(y[-30:] == -1) and np.all(y[:-30] >= 0)


def test_training_data_uses_the_configs_draw(mnist, monkeypatch):
    asked = []
    monkeypatch.setattr(synthetic_sets, "digits",
                        lambda n, draw=0: asked.append(("digits", n, draw))
                                          or (np.zeros((n, 28, 28), np.uint8), np.arange(n) % 10))
    monkeypatch.setattr(synthetic_sets, "nondigits",
                        lambda images, n, seed, draw=0: asked.append(("non-digits", n, draw)) or np.zeros((n, 28, 28), np.uint8))
    X, y, _ = training_data(RECIPES["default"].updated(synthetic_draw=3, synthetic_digits=20, outliers=30), mnist)
    assert asked == [("digits", 20, 3), ("non-digits", 30, 3)]
    assert np.count_nonzero(y == -1) == 30 and len(X) == len(y)


def test_the_model_card_says_how_to_train_on_the_same_draw():
    from digitnet.app.card import _training
    from digitnet.nn.model import MLP

    model = MLP([4, 3, 2])
    model.metadata = {"recipe": "default", "seed": 1, "config": RECIPES["default"].updated(synthetic_draw=2).to_dict()}
    assert "`digitnet train --recipe default --seed 1 --synthetic-draw 2`" in "\n".join(_training(model))
    model.metadata["config"] = RECIPES["default"].to_dict()
    assert "`digitnet train --recipe default --seed 1`." in "\n".join(_training(model))


def test_the_model_card_names_every_setting_changed_from_the_recipe():
    """The card's command trains the same model again: a flag for each setting changed (it used to
    name only the recipe and the seed)."""
    from digitnet.app.card import _training
    from digitnet.app.cli import build_parser, resolve_config
    from digitnet.nn.model import MLP

    changed = RECIPES["default"].updated(seed=3, epochs=2, hidden=(64, 32), batch_size=None, deskew="off",
                                         lr_steps=((1, 0.1),), tutorial_cost=True)
    model = MLP([4, 3, 2])
    model.metadata = {"recipe": "default", "seed": 3, "config": changed.to_dict()}
    line = next(line for line in _training(model) if line.startswith("- Reproduce:"))
    command = line.split("`")[1]
    assert command.startswith("digitnet train --recipe default --seed 3")
    assert "(with lr_steps, tutorial_cost as in its settings)" in line
    args = build_parser().parse_args(command.split()[1:])
    again = resolve_config(args)
    assert again.updated(lr_steps=((1, 0.1),), tutorial_cost=True) == changed
