"""Handwriting that is not MNIST's, and things that are not digits: how each recipe reads them.

    python benchmarks/handwriting.py [--recipes default,tiny-best,seed] [--per-font 100] [--seeds 0,1,2]
                                     [--synthetic-draws 0,1,2]

Every family is held out of training and of threshold choice (other fonts, another hand, another
scanner than training's), and read through the same path as a user's picture (``digitnet.read``):

- digits rendered from Debian's handwriting-style fonts (scripts/system-packages.sh installs them) with
  a random size, position, slant, stroke width, canvas size and polarity; the outline font femkeklaver
  is reported on its own line beside the seven others;
- **styles**: the world's common ways of writing digits (flagged and based 1s, the continental 1,
  crossed 7s, open 4s, slashed and dotted 0s, looped 2s, flat-top 3s, 9s like a g, ...), written by a
  held-out hand (``benchmarks/hands.py``: its own templates and a pen, not training's brush);
- **low resolution**: MNIST's test digits and the font digits as an old form's scan codes them
  (8 to 16 cells a side, counts of a bitmap), shown small or enlarged (``hands.scan``);
- non-digits: letters and symbols in the handwriting fonts, **look-alike letters** (B, S, Z, ?, &, $,
  g, q in the fonts and in the held-out hand: refused or "unsure" is right for them), doodles (faces,
  hearts, houses, suns, spirals, clouds), and Fashion-MNIST's test images if installed;
- MNIST's test digits (as MNIST images): refused, and accuracy on the accepted.

Each recipe is trained here with its fixed schedule, once per seed (``--seeds``; the tables give the
median over seeds); ``--synthetic-draws`` trains it again on other random draws of its made-up sets.
Writes benchmarks/results/handwriting.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, reexec_natural

reexec_natural()  # before NumPy loads: the BLAS kernel users' machines get

import numpy as np

import hands
from digitnet.data import datasets
from digitnet.reading.preprocess import prepare
from digitnet.reading.verdict import decide, read
from digitnet.run.recipes import RECIPES, train
from digitnet.synthetic import draw as synth

FASHION = Path("/usr/share/datasets/fashion-mnist")
OUTLINE = "femkeklaver"  # the outline font: reported on its own line
LOOKALIKE_CHARS = "BSZ?&$gq"


def handwritten_digits(per_font: int, seed: int):
    """{family: [(picture, digit)]}: ``per_font`` digits per handwriting font family."""
    out = {}
    for family, files in synth.handwriting_fonts().items():
        rng = np.random.default_rng([seed, len(out)])
        digits = rng.integers(10, size=per_font)
        out[family] = [(synth.text(str(d), files[rng.integers(len(files))], rng), int(d)) for d in digits]
    return out


def nondigits(per_font: int, seed: int):
    """{family: [picture]}: held-out non-digits."""
    out = {}
    for i, (_, files) in enumerate(synth.handwriting_fonts().items()):
        rng = np.random.default_rng([seed, 100 + i])
        chars = [synth.NOT_DIGIT_LIKE[k] for k in rng.integers(len(synth.NOT_DIGIT_LIKE), size=per_font // 2)]
        out.setdefault("letters and symbols (handwriting fonts)", []).extend(
            synth.text(c, files[rng.integers(len(files))], rng) for c in chars)
    rng = np.random.default_rng([seed, 200])
    out["doodles"] = [synth.draw(synth.doodle(rng), width=float(rng.uniform(6, 26)), box=(40, 40, 240, 240),
                                 dark_on_light=bool(rng.random() < 0.7)) for _ in range(per_font * 2)]
    lookalikes = []
    for i, (_, files) in enumerate(synth.handwriting_fonts().items()):
        rng = np.random.default_rng([seed, 300 + i])
        lookalikes += [synth.text(LOOKALIKE_CHARS[k], files[rng.integers(len(files))], rng)
                       for k in rng.integers(len(LOOKALIKE_CHARS), size=per_font // 4)]
    rng = np.random.default_rng([seed, 400])
    chars = list(hands.LOOKALIKES)
    lookalikes += [hands.pen(hands.LOOKALIKES[chars[k % len(chars)]], rng) for k in range(per_font * 2)]
    out["look-alike letters"] = lookalikes
    if FASHION.is_dir():
        out["Fashion-MNIST test"] = list(datasets.load(FASHION).test.images[:per_font * 4] / np.float32(255))
    return out


def styles(per_style: int, seed: int):
    """{"digit style": [(picture, digit)]}: each style of :data:`hands.STYLES`, written by the held-out hand."""
    rng = np.random.default_rng([seed, 500])
    return {f"{d} {name}": [(hands.pen(strokes, rng), d) for _ in range(per_style)]
            for d, kinds in hands.STYLES.items() for name, strokes in kinds.items()}


def low_resolution(per_family: int, seed: int, mnist, fonts: dict):
    """{family: [(picture, digit)]}: MNIST's test digits, and the non-outline fonts' digits, scanned at low resolution."""
    rng = np.random.default_rng([seed, 600])
    chosen = rng.choice(len(mnist.test), per_family, replace=False)
    out = {"MNIST test digits": [(hands.scan(mnist.test.images[i], rng), int(mnist.test.labels[i])) for i in chosen]}
    items = [item for family, pictures in fonts.items() if family != OUTLINE for item in pictures]
    picked = [items[k] for k in rng.choice(len(items), min(per_family, len(items)), replace=False)]
    out["handwriting fonts"] = [(hands.scan(np.round(prepare(p) * 255).astype(np.uint8), rng), d) for p, d in picked]
    return out


def _read_digits(model, families: dict) -> dict:
    out = {}
    for family, items in families.items():
        readings = [read(model, picture) for picture, _ in items]
        correct = sum(r.verdict == "digit" and r.label == d for r, (_, d) in zip(readings, items))
        refused = sum(r.verdict != "digit" for r in readings)
        unsure = sum(r.verdict == "unsure" for r in readings)
        out[family] = {"n": len(items), "correct": correct, "refused": refused, "wrong": len(items) - correct - refused,
                       "unsure": unsure}
    return out


def measure(model, digits, others, mnist, style_families=None, lowres=None) -> dict:
    result = {"digits": _read_digits(model, digits), "nondigits": {}}
    if style_families:
        result["styles"] = _read_digits(model, style_families)
    if lowres:
        result["low_resolution"] = _read_digits(model, lowres)
    for family, pictures in others.items():
        readings = [read(model, p) for p in pictures]
        result["nondigits"][family] = {"n": len(pictures), "refused": sum(r.verdict != "digit" for r in readings),
                                       "unsure": sum(r.verdict == "unsure" for r in readings)}
    images = mnist.test.images / np.float32(255)
    readings = decide(model, images, [None] * len(images))
    accepted = np.array([r.verdict == "digit" for r in readings])
    labels = np.array([-1 if r.label is None else r.label for r in readings])
    result["mnist_test"] = {"n": len(images), "refused": int((~accepted).sum()),
                            "accuracy_on_accepted": float(np.mean(labels[accepted] == mnist.test.labels[accepted])),
                            "accuracy": float(np.mean(np.array([r.probabilities.argmax() for r in readings])
                                                      == mnist.test.labels))}
    return result


def summary(r: dict) -> dict:
    """The headline figures of one run (shares in [0, 1])."""
    def share(families, key, keep=lambda f: True):
        chosen = [v for f, v in families.items() if keep(f)]
        n = sum(v["n"] for v in chosen)
        return sum(v[key] for v in chosen) / n if n else float("nan")
    out = {"fonts_right": share(r["digits"], "correct", lambda f: f != OUTLINE),
           "fonts_refused": share(r["digits"], "refused", lambda f: f != OUTLINE),
           "outline_right": share(r["digits"], "correct", lambda f: f == OUTLINE)}
    for key, fam in (("styles", "styles"), ("lowres", "low_resolution")):
        if fam in r:
            out[f"{key}_right"], out[f"{key}_refused"] = share(r[fam], "correct"), share(r[fam], "refused")
    for family, v in r["nondigits"].items():
        out[f"refused: {family}"] = v["refused"] / v["n"]
    m = r["mnist_test"]
    out |= {"mnist_accuracy": m["accuracy"], "mnist_refused": m["refused"] / m["n"],
            "mnist_accepted_right": m["accuracy_on_accepted"], "train_seconds": r.get("train_seconds", float("nan"))}
    return out


def _median_rows(results: dict) -> dict:
    """recipe -> median over its seeds of each summary figure."""
    groups: dict = {}
    for name, r in results.items():
        groups.setdefault(r.get("recipe", name), []).append(summary(r))
    return {name: {k: float(np.median([row[k] for row in rows])) for k in rows[0]} | {"seeds": len(rows)}
            for name, rows in groups.items()}


def table(results: dict) -> str:
    pct = lambda v: "—" if v != v else f"{v * 100:.1f}%"
    rows = _median_rows(results)
    lines = ["Medians over seeds (right / refused). Fonts: the seven non-outline handwriting fonts; the outline font "
             f"{OUTLINE} on its own.", "",
             "| recipe | seeds | fonts | styles (held-out hand) | low resolution | outline font | MNIST test: accuracy, "
             "refused, right on accepted | training |", "|---|---|---|---|---|---|---|---|"]
    for name, v in rows.items():
        lines.append(f"| `{name}` | {v['seeds']} | {pct(v['fonts_right'])} / {pct(v['fonts_refused'])} | "
                     f"{pct(v.get('styles_right', float('nan')))} / {pct(v.get('styles_refused', float('nan')))} | "
                     f"{pct(v.get('lowres_right', float('nan')))} / {pct(v.get('lowres_refused', float('nan')))} | "
                     f"{pct(v['outline_right'])} | {v['mnist_accuracy'] * 100:.2f}%, {pct(v['mnist_refused'])}, "
                     f"{v['mnist_accepted_right'] * 100:.2f}% | {v['train_seconds']:.1f} s |")
    families = [k for k in next(iter(rows.values())) if k.startswith("refused: ")]
    lines += ["", "Non-digits refused (held out; look-alike letters: refused or unsure):", "",
              "| recipe | " + " | ".join(f[len("refused: "):] for f in families) + " |", "|---|" + "---|" * len(families)]
    for name, v in rows.items():
        lines.append(f"| `{name}` | " + " | ".join(pct(v.get(f, float("nan"))) for f in families) + " |")
    for part, title in (("digits", "Per font family"), ("styles", "Per style (held-out hand)"),
                        ("low_resolution", "Low resolution")):
        runs = [(name, r) for name, r in results.items() if part in r]
        if not runs:
            continue
        keys = list(runs[0][1][part])
        lines += ["", f"{title}, each run (correct/refused/wrong):", "", "| run | " + " | ".join(keys) + " |",
                  "|---|" + "---|" * len(keys)]
        for name, r in runs:
            lines.append(f"| `{name}` | " + " | ".join(f"{r[part][k]['correct']}/{r[part][k]['refused']}/{r[part][k]['wrong']}"
                                                     if k in r[part] else "—" for k in keys) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="default,tiny-best,seed")
    parser.add_argument("--per-font", type=int, default=100)
    parser.add_argument("--seeds", default="0", help="the recipes' seeds, each a run (the tables give medians)")
    parser.add_argument("--synthetic-draws", default="0", help="draws of the made-up training sets, each a row "
                        "(0: the standard one; recipes without made-up sets are trained once)")
    parser.add_argument("--draw", type=int, default=3, help="seed of the rendered pictures (draws 1 and 7 were used while "
                        "developing the default recipe; draw 2 was published before the styles and scans families; "
                        "the published table uses draw 3)")
    args = parser.parse_args()
    if not synth.handwriting_fonts():
        sys.exit("no handwriting fonts installed: run `bash scripts/system-packages.sh test` first")
    mnist = datasets.load("mnist")
    digits, others = handwritten_digits(args.per_font, args.draw), nondigits(args.per_font, args.draw)
    style_families = styles(max(10, args.per_font // 5), args.draw)
    lowres = low_resolution(args.per_font * 2, args.draw, mnist, digits)
    saved = HERE / "results" / "handwriting.json"
    kept = json.loads(saved.read_text()) if saved.is_file() else {}
    same_draw = kept.get("draw") == args.draw and kept.get("per_font") == args.per_font
    results = kept.get("results", {}) if same_draw else {}  # other recipes' rows of the same draw are kept
    draws = [int(k) for k in args.synthetic_draws.split(",")]
    for name, draw, seed in ((n, k, s) for n in args.recipes.split(",") for k in draws for s in map(int, args.seeds.split(","))):
        config = RECIPES[name].updated(seed=seed, synthetic_draw=draw)
        if draw and not (config.synthetic_digits or config.outliers):
            continue
        started = time.perf_counter()
        trained = train(config, mnist, recipe=name)
        recipe = f"{name} (synthetic draw {draw})" if draw else name
        results[f"{recipe}, seed {seed}"] = measure(trained.model, digits, others, mnist, style_families, lowres) | {
            "recipe": recipe, "seed": seed, "train_seconds": trained.metadata["train_seconds"],
            "test_accuracy": trained.metadata["test_accuracy"], "calibrated": "calibration" in trained.metadata}
        print(f"{recipe}, seed {seed}: done in {time.perf_counter() - started:.0f} s", flush=True)
    text = table(results)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "handwriting.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "per_font": args.per_font, "draw": args.draw,
         "results": results},
        indent=2) + "\n")
    (HERE / "results" / "handwriting.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
