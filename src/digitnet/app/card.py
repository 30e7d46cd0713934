"""A model card: a README.md in the Hugging Face convention (YAML front matter, then prose), measured.

Everything in it comes from the model file's metadata (recipe, seed, machine, training time,
calibration) and from measurements made when the card is written: accuracy on the dataset's
test split with its 95% interval, per class, and how many test digits :func:`digitnet.reading.verdict.decide`
refuses. A handwriting benchmark result (``benchmarks/handwriting.py``'s JSON) may be added. Nothing
is uploaded anywhere. The front matter's values are written as JSON, which is valid YAML.
"""

from __future__ import annotations

import json
import shlex

import numpy as np

from ..data.registry import REGISTRY
from ..nn.metrics import Evaluation
from ..reading.contract import PIXELS
from ..reading.geometry import inspect_prepared
from ..reading.verdict import decide
from ..run.config import SETTINGS
from ..run.recipes import RECIPES
from ..run.schema import RECIPE_NAME
from ..version import __version__

INTENDED_USE = """\
Reading one handwritten digit (0-9) in a picture: a scan, a photo of a digit on paper, a drawing on a
screen. Pictures are prepared like MNIST's (the ink found and cropped, its stroke width normalized, scaled
to 20x20 and centred by mass in 28x28) by `digitnet.read`, which answers `digit`, `unsure` (the two
likeliest digits) or `not_a_digit` (blank, too small, several marks, not digit-like).

It is a small network for learning, teaching and light use. It is not meant for decisions about people
(exam grading, identity, cheques) without a person checking its answers."""

LIMITATIONS = """\
- It was trained on MNIST, digits written by American high-school students and Census employees, plus
  the synthetic digits and non-digits its recipe lists: other scripts (Arabic-Indic, Devanagari, Chinese
  numerals) are outside what it knows.
- One digit at a time: several digits side by side are refused (`several_marks`), not read.
- Refusals are learned from the non-digits it saw while training and from simple geometry; things unlike
  those (new kinds of drawings, printed text, photos) may still be read as a digit.
- Its confidence is calibrated on a validation split of MNIST; on handwriting unlike MNIST's, it is less
  reliable."""


def _front_matter(model, evaluation: Evaluation | None) -> str:
    meta = model.metadata
    dataset = meta.get("dataset", "unknown")
    accuracy = evaluation.accuracy if evaluation else meta.get("test_accuracy")
    fields = {"license": _data_licence(dataset)[0], "library_name": "digitnet", "pipeline_tag": "image-classification",
              "tags": ["digitnet", "mnist", "handwritten-digits", "mlp", "numpy", "image-classification"],
              "datasets": [dataset if "/" not in dataset else "custom"], "metrics": ["accuracy"]}
    if accuracy is not None:
        fields["model-index"] = [{"name": f"digitnet-{_recipe(meta) or 'model'}", "results": [{
            "task": {"type": "image-classification", "name": "Image Classification"},
            "dataset": {"type": fields["datasets"][0], "name": dataset, "split": "test"},
            "metrics": [{"type": "accuracy", "value": round(float(accuracy), 6), "name": "Test accuracy"}]}]}]
    lines = ["---"] + [f"{key}: {json.dumps(value)}" for key, value in fields.items()] + ["---"]
    return "\n".join(lines)


def _data_licence(dataset: str) -> tuple[str, str]:
    """(Hugging Face licence id, words) of the weights: those of the data they were trained on, which they
    derive from (the code that trained them is MIT; the data's terms are what bind the weights)."""
    info = REGISTRY.get(dataset)
    if info is None:
        return "other", "the licence of the data it was trained on (not a data set digitnet knows by name)"
    return info.license, info.license_name


def _licence(model) -> list[str]:
    dataset = model.metadata.get("dataset", "unknown")
    _, words = _data_licence(dataset)
    return ["## Licence", "",
            f"The weights were trained on {dataset}, so its terms apply to them: {words}. digitnet, the code that "
            "trained them and reads with them, is under the MIT License. The synthetic digits and non-digits it "
            "learned from are made by digitnet's own code (and fonts shipped with matplotlib, under their own free "
            "licences)."]


def _num(value, spec: str, missing: str = "?") -> str:
    """``value`` formatted with ``spec`` when it is a number, else ``missing``: the card is written from metadata,
    which a hand-made model may leave out or fill with other things."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return missing
    if "," in spec and not isinstance(value, (int, np.integer)):
        return missing
    return format(value, spec)


def _recipe(meta: dict) -> str | None:
    """The metadata's recipe name when it is one (see :data:`digitnet.run.schema.RECIPE_NAME`), else None."""
    recipe = meta.get("recipe")
    return recipe if isinstance(recipe, str) and RECIPE_NAME.fullmatch(recipe) else None


def _machine(meta: dict) -> dict:
    machine = meta.get("machine")
    return machine if isinstance(machine, dict) else {}


#: how the card says what the network reads (after its parameter count)
VIEW_WORDS = {"off": ".", "on": ", reading deskewed images (it deskews them itself).",
              "both": ", reading each image twice, as it is and deskewed (it deskews them itself), and averaging "
                      "the two answers."}


def _training(model) -> list[str]:
    meta, config = model.metadata, model.metadata.get("config") or {}
    machine = _machine(meta)
    blas: list = machine["blas"] if isinstance(machine.get("blas"), list) else []
    out = ["## Training", "",
           f"- Network: {'-'.join(map(str, model.sizes))}, {model.activation}, {model.dtype.name}, "
           f"{model.n_params:,} parameters" + VIEW_WORDS[model.deskew],
           (f"- Recipe: `{_recipe(meta) or 'unknown'}`, seed {_num(meta.get('seed'), 'd', 'unknown')}, "
            f"on {meta.get('dataset', 'unknown')}.")]
    if meta.get("tuning"):
        out.append(_tuned(meta["tuning"]))
    draw = config.get("synthetic_draw", 0)
    if config:
        out.append(f"- Settings: {config.get('optimizer')} lr {config.get('lr')} ({config.get('schedule')} schedule), "
                   f"{config.get('epochs')} epochs, batch {config.get('batch_size') or 'full'}, "
                   f"validation split {config.get('validation')}, augmentation: rotate {config.get('rotate')}°, "
                   f"scale {config.get('scale')}, shear {config.get('shear')}°, thickness {config.get('thickness')}; "
                   f"{config.get('synthetic_digits', 0):,} synthetic digits, {config.get('low_resolution', 0):,} training "
                   f"digits also as low-resolution scans, {config.get('restyled_digits', 0):,} 0s, 1s and 7s as other hands "
                   f"write them, {config.get('outliers', 0):,} non-digits trained towards the uniform distribution (outlier "
                   "exposure)" + (f", random draw {draw} of the made-up ones." if draw else "."))
    if "train_seconds" in meta:
        where = f" on {machine.get('cpu', 'an unrecorded CPU')} ({machine.get('cores', '?')} cores, NumPy " \
                f"{machine.get('numpy', '?')}, {', '.join(map(str, blas)) or 'BLAS unrecorded'})" if machine else ""
        out.append(f"- Time: {_num(meta['train_seconds'], '.1f')} s of training{where}, "
                   f"{meta.get('epochs_run', '?')} epochs, digitnet {meta.get('digitnet_version', '(version not recorded)')}.")
    recipe = meta.get("recipe", "default")  # a model without one: trained by the default recipe's settings
    out.append(f"- Reproduce: {_reproduce(str(recipe), meta.get('seed', 0), config)}.")
    return out


def _tuned(tuning: dict) -> str:
    """The card's line on how ``digitnet tune`` chose the settings (the model metadata's ``tuning``)."""
    counts = tuning.get("trials") or {}
    budget = tuning.get("budget_seconds")
    return (f"- Tuned: settings searched by `digitnet tune` (study `{tuning.get('study')}`, "
            f"{', '.join(tuning.get('searched') or []) or 'nothing'} searched) on {tuning.get('data')}: trial "
            f"{tuning.get('trial')}, the best of {sum(counts.values())} ("
            + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            + f"), chosen by its accuracy on a {tuning.get('validation_fraction', 0) * 100:g}% validation split "
            f"of the training set, never the test set: {tuning.get('validation_accuracy', 0) * 100:.2f}%"
            + (f", within {budget:g} s of training per trial" if budget else "") + ".")


def _reproduce(recipe: str, seed, config: dict) -> str:
    """The command that trains the model again: its recipe and seed, and a flag for each setting it
    changed (a setting that has no flag is named instead). Every word is shell-quoted; a recipe this digitnet
    does not know gets no command, and what was done after the recipe (``+personal``) is said, not run."""
    base_name, _, after = recipe.partition("+")
    if base_name not in RECIPES or not RECIPE_NAME.fullmatch(recipe):
        return f"no command here trains it again: its recipe, {shlex.quote(recipe)}, is not one this digitnet knows"
    words, unflagged = ["digitnet", "train", "--recipe", base_name, "--seed", str(seed)], []
    base = RECIPES[base_name].to_dict()
    for name, spec in SETTINGS.items():
        if name in ("seed", "description") or name not in config or name not in base or config[name] == base[name]:
            continue
        value, flag = config[name], f"--{name.replace('_', '-')}"
        if not spec["flag"]:
            unflagged.append(name)
        elif spec["kind"] is bool:
            words.append(flag if value else f"--no-{flag[2:]}")
        elif spec["kind"] == "sizes":
            words += [flag, ",".join(map(str, value))]
        else:
            words += [flag, "full" if value is None else str(value)]
    return (f"`{shlex.join(words)}`" + (f" (with {', '.join(unflagged)} as in its settings)" if unflagged else "")
            + (f", then {after.replace('+', ', then ')} (e.g. `digitnet finetune`), which it does not repeat" if after else ""))


def _evaluation(model, evaluation: Evaluation | None, refusals: dict | None, handwriting: dict | None) -> list[str]:
    calibration = model.metadata.get("calibration")
    calibration = calibration if isinstance(calibration, dict) else {}
    out = ["## Evaluation", ""]
    if evaluation is not None:
        low, high = evaluation.interval
        out += [f"- Test accuracy: **{evaluation.accuracy * 100:.2f}%** ({evaluation.correct:,} of {evaluation.total:,}; "
                f"95% interval {low * 100:.2f}-{high * 100:.2f}%).",
                "- Per class: " + ", ".join(f"{k} {a * 100:.1f}%" for k, a in enumerate(evaluation.per_class)) + "."]
    if refusals is not None:
        out.append(f"- Refusals on the test digits: {refusals['refused'] * 100:.2f}% refused (unsure or not a digit); "
                   f"accuracy on the {refusals['accepted']:,} accepted: {refusals['accepted_accuracy'] * 100:.2f}%.")
    if calibration:
        energy = _num(calibration.get("energy_threshold"), ".2f", "")
        out.append(f"- Calibration (fitted on {_num(calibration.get('validation_samples'), ',', 'an unrecorded number of')} "
                   f"validation digits, never the test set): temperature {_num(calibration.get('temperature'), '.3f')}, "
                   f"expected calibration error {_num(calibration.get('ece_before'), '.4f', 'not recorded')} before, "
                   f"{_num(calibration.get('ece_after'), '.4f', 'not recorded')} after; "
                   f"a digit needs a confidence of {_num(calibration.get('threshold'), '.3f')}"
                   + (f" and an energy score (log-sum-exp of the logits) of {energy}" if energy else "") + ".")
    if handwriting:
        out.append(f"- Handwriting benchmark (`benchmarks/handwriting.py`, recipe `{handwriting['recipe']}`, "
                   "its own training run): " + handwriting["summary"] + ".")
    else:
        out.append("- Handwriting benchmark: not measured for this card (`python benchmarks/handwriting.py`, "
                   "then `digitnet card --handwriting benchmarks/results/handwriting.json`).")
    return out


def _measured_limits(evaluation: Evaluation | None, handwriting: dict | None) -> list[str]:
    out = []
    if evaluation is not None:
        worst = int(np.argmin(evaluation.per_class))
        cm = evaluation.confusion.copy()
        np.fill_diagonal(cm, 0)
        true, predicted = np.unravel_index(int(cm.argmax()), cm.shape)
        out.append(f"- Measured: its weakest class on the test set is {worst} ({evaluation.per_class[worst] * 100:.1f}%); "
                   f"its most common mistake reads {true} as {predicted} ({cm[true, predicted]} times).")
    if handwriting and handwriting.get("worst"):
        out.append(f"- Measured: the handwriting font it reads worst is {handwriting['worst']}.")
    return out


def refusal_rates(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """How :func:`digitnet.reading.verdict.decide` treats real digits (prepared 28x28 images in [0, 1])."""
    readings = decide(model, images, inspect_prepared(images))
    accepted = np.array([r.verdict == "digit" for r in readings])
    right = np.array([r.label == y for r, y in zip(readings, labels)])
    return {"refused": float(1 - accepted.mean()), "accepted": int(accepted.sum()),
            "accepted_accuracy": float(right[accepted].mean()) if accepted.any() else 0.0}


def picture_refusals(model, split) -> dict | None:
    """:func:`refusal_rates` on a data set's split, for a model that reads pictures (None for any other input)."""
    if model.sizes[0] != PIXELS:
        return None
    return refusal_rates(model, split.images / np.float32(255), split.labels)


def handwriting_summary(results: dict, recipe: str) -> dict | None:
    """The row of ``recipe`` in benchmarks/handwriting.py's JSON, as one sentence (None if it has none)."""
    rows = (results.get("results") or {}) if isinstance(results, dict) else {}
    # the benchmark names each run "RECIPE, seed N" and records its recipe; older files keyed rows by recipe
    matching = [r for key, r in rows.items() if isinstance(r, dict) and (key == recipe or r.get("recipe") == recipe)] \
        if isinstance(rows, dict) else []
    if not matching:
        return None
    row = matching[0]
    try:
        fonts = row["digits"].values()
        n = sum(f["n"] for f in fonts)
        share = {k: sum(f[k] for f in fonts) / n for k in ("correct", "refused", "wrong")}
        others = ", ".join(f"{name} {v['refused'] / v['n'] * 100:.1f}%" for name, v in row["nondigits"].items())
    except (KeyError, TypeError, AttributeError, ZeroDivisionError):
        return None
    worst = min(row["digits"].items(), key=lambda kv: kv[1]["correct"] / max(kv[1]["n"], 1))
    return {"recipe": recipe, "worst": f"{worst[0]} ({worst[1]['correct'] / max(worst[1]['n'], 1) * 100:.0f}% read correctly)",
            "summary": f"{n:,} digits rendered from {len(row['digits'])} handwriting fonts: "
                                         f"{share['correct'] * 100:.1f}% read correctly, {share['refused'] * 100:.1f}% "
                                         f"refused, {share['wrong'] * 100:.1f}% wrong; non-digits refused (held out "
                                         f"of training): {others or 'not measured'}"}


def model_card(model, *, evaluation: Evaluation | None = None, refusals: dict | None = None,
               handwriting: dict | None = None, model_path: str | None = None) -> str:
    """The card's Markdown text."""
    title = f"# digitnet {'-'.join(map(str, model.sizes))} {model.activation} ({_recipe(model.metadata) or 'model'}" \
            + (", tuned)" if model.metadata.get("tuning") else ")")
    parts = [_front_matter(model, evaluation), "", title, "",
             "A multi-layer perceptron trained with digitnet, a from-scratch NumPy network for handwritten digits"
             + (f"; the file is `{model_path}`" if model_path else "") + f". Card written by digitnet {__version__}.", "",
             "## Intended use", "", INTENDED_USE, "", *_training(model), "",
             *_evaluation(model, evaluation, refusals, handwriting), "",
             "## Limitations", "", LIMITATIONS, *_measured_limits(evaluation, handwriting), "",
             *_licence(model), ""]
    return "\n".join(parts) + "\n"
