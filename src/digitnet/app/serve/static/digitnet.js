// digitnet in the browser: the same preparation, geometry rules, network and verdict as the Python
// package (digitnet/data/preprocess.py, digitnet/reading.py), for the page `digitnet export --web`
// writes. Images are {w, h, d: Float32Array} in row-major order. Float32 steps are rounded as NumPy
// rounds them (Math.fround); resizing is Pillow's LANCZOS, coefficient for coefficient.
"use strict";

(function (global) {
  const f32 = Math.fround;

  function roundHalfEven(x) {            // Python's round()
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
  }

  function image(w, h) { return { w, h, d: new Float32Array(w * h) }; }

  function median(values) {              // numpy.median of float32 values
    const v = Float32Array.from(values).sort();
    const n = v.length, m = n >> 1;
    return n % 2 ? v[m] : f32(f32(v[m - 1] + v[m]) / 2);
  }

  function border(img) {
    const { w, h, d } = img, out = [];
    for (let x = 0; x < w; x++) out.push(d[x]);
    for (let x = 0; x < w; x++) out.push(d[(h - 1) * w + x]);
    for (let y = 0; y < h; y++) out.push(d[y * w]);
    for (let y = 0; y < h; y++) out.push(d[y * w + w - 1]);
    return out;
  }

  // ---- preprocess.py ----

  function findInk(grey, C) {            // white on black, paper 0, darkest ink 1; null when blank
    const ink = image(grey.w, grey.h);
    const invert = median(border(grey)) > 0.5;
    for (let i = 0; i < ink.d.length; i++) ink.d[i] = invert ? f32(1 - grey.d[i]) : grey.d[i];
    const paper = median(border(ink));
    let peak = 0;
    for (let i = 0; i < ink.d.length; i++) {
      const v = Math.min(Math.max(f32(ink.d[i] - paper), 0), 1);
      ink.d[i] = v;
      if (v > peak) peak = v;
    }
    if (peak < C.INK_THRESHOLD) return null;
    for (let i = 0; i < ink.d.length; i++) ink.d[i] = f32(ink.d[i] / peak);
    return ink;
  }

  function crop(img, threshold) {        // the bounding box of pixels above threshold; null if none
    let top = img.h, bottom = -1, left = img.w, right = -1;
    for (let y = 0; y < img.h; y++) {
      for (let x = 0; x < img.w; x++) {
        if (img.d[y * img.w + x] > threshold) {
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    if (bottom < 0) return null;
    const out = image(right - left + 1, bottom - top + 1);
    for (let y = 0; y < out.h; y++) out.d.set(img.d.subarray((y + top) * img.w + left, (y + top) * img.w + right + 1), y * out.w);
    return out;
  }

  function sinc(x) { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; }
  function lanczos(x) { return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0; }

  function coefficients(inSize, outSize) {  // Pillow's precompute_coeffs, LANCZOS (support 3)
    const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = 3 * filterscale;
    const rows = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale, ss = 1 / filterscale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      const k = new Float64Array(Math.max(xmax, 0));
      let ww = 0;
      for (let x = 0; x < xmax; x++) { k[x] = lanczos((x + xmin - center + 0.5) * ss); ww += k[x]; }
      if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
      rows.push({ xmin, k });
    }
    return rows;
  }

  function resize(img, w, h) {           // Image.fromarray(float32).resize((w, h), LANCZOS)
    let src = img;
    if (w !== img.w) {                   // horizontal pass first, as Pillow
      const cs = coefficients(img.w, w), out = image(w, img.h);
      for (let y = 0; y < img.h; y++) {
        for (let x = 0; x < w; x++) {
          const { xmin, k } = cs[x];
          let ss = 0;
          for (let i = 0; i < k.length; i++) ss += src.d[y * img.w + xmin + i] * k[i];
          out.d[y * w + x] = ss;
        }
      }
      src = out;
    }
    if (h !== img.h) {
      const cs = coefficients(img.h, h), out = image(w, h);
      for (let y = 0; y < h; y++) {
        const { xmin, k } = cs[y];
        for (let x = 0; x < w; x++) {
          let ss = 0;
          for (let i = 0; i < k.length; i++) ss += src.d[(xmin + i) * w + x] * k[i];
          out.d[y * w + x] = ss;
        }
      }
      src = out;
    }
    if (src === img) src = { w, h, d: Float32Array.from(img.d) };
    for (let i = 0; i < src.d.length; i++) src.d[i] = Math.min(Math.max(src.d[i], 0), 1);
    return src;
  }

  function scaled(img, longer) {         // resized so that the longer side is `longer` pixels
    const scale = longer / Math.max(img.w, img.h);
    return resize(img, Math.max(1, roundHalfEven(img.w * scale)), Math.max(1, roundHalfEven(img.h * scale)));
  }

  function mask(img, threshold = 0.5) { return { w: img.w, h: img.h, d: Uint8Array.from(img.d, (v) => (v > threshold ? 1 : 0)) }; }

  function erode(m) {                    // scipy binary_erosion, cross structure, outside = 0
    const { w, h, d } = m, out = new Uint8Array(d.length);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        out[i] = d[i] && y > 0 && y < h - 1 && x > 0 && x < w - 1 && d[i - 1] && d[i + 1] && d[i - w] && d[i + w] ? 1 : 0;
      }
    }
    return { w, h, d: out };
  }

  function dilate(m, iterations) {       // scipy binary_dilation, cross structure
    let d = m.d;
    const { w, h } = m;
    for (let n = 0; n < iterations; n++) {
      const out = new Uint8Array(d.length);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const i = y * w + x;
          out[i] = d[i] || (x > 0 && d[i - 1]) || (x < w - 1 && d[i + 1]) || (y > 0 && d[i - w]) || (y < h - 1 && d[i + w]) ? 1 : 0;
        }
      }
      d = out;
    }
    return { w, h, d };
  }

  function strokeWidth(img) {            // 2 x ink area / boundary length
    const m = mask(img), e = erode(m);
    let area = 0, boundary = 0;
    for (let i = 0; i < m.d.length; i++) { area += m.d[i]; boundary += m.d[i] && !e.d[i] ? 1 : 0; }
    return area === 0 ? 0 : 2 * area / Math.max(boundary, 1);
  }

  function normalizeStroke(work, C) {    // thin or thicken to MNIST's stroke width
    const target = C.MNIST_STROKE * C.WORK / 20;
    const radius = roundHalfEven((strokeWidth(work) - target) / 2);
    if (radius === 0) return work;
    const r = Math.abs(radius), p = r + 1, w = work.w + 2 * p, h = work.h + 2 * p;
    const offsets = [];
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r + r) offsets.push([dy, dx]);
    const at = (y, x) => {               // the padded picture (zeros around; scipy reflects into the zeros)
      const yy = y - p, xx = x - p;
      return yy >= 0 && yy < work.h && xx >= 0 && xx < work.w ? work.d[yy * work.w + xx] : 0;
    };
    const out = image(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = radius > 0 ? Infinity : -Infinity;
        for (const [dy, dx] of offsets) {
          const yy = y + dy, xx = x + dx;
          const s = yy >= 0 && yy < h && xx >= 0 && xx < w ? at(yy, xx) : 0;
          v = radius > 0 ? Math.min(v, s) : Math.max(v, s);
        }
        out.d[y * w + x] = v;
      }
    }
    return crop(out, C.INK_THRESHOLD) || work;
  }

  function place(work) {                 // 20 px on the longer side, centred by mass in 28x28
    const small = scaled(work, 20);
    let total = 0, sy = 0, sx = 0;
    for (let y = 0; y < small.h; y++) {
      for (let x = 0; x < small.w; x++) { const v = small.d[y * small.w + x]; total += v; sy += y * v; sx += x * v; }
    }
    total = f32(total);
    const top = Math.min(Math.max(roundHalfEven(14 - sy / total), 0), 28 - small.h);
    const left = Math.min(Math.max(roundHalfEven(14 - sx / total), 0), 28 - small.w);
    const out = image(28, 28);
    for (let y = 0; y < small.h; y++) out.d.set(small.d.subarray(y * small.w, (y + 1) * small.w), (y + top) * 28 + left);
    return out;
  }

  // ---- reading.py's geometry ----

  function label(m) {                    // scipy ndimage.label, cross structure: {labels, count}
    const { w, h, d } = m, labels = new Int32Array(d.length);
    let count = 0;
    const stack = [];
    for (let s = 0; s < d.length; s++) {
      if (!d[s] || labels[s]) continue;
      labels[s] = ++count;
      stack.push(s);
      while (stack.length) {
        const i = stack.pop(), x = i % w, y = (i - x) / w;
        for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, y > 0 ? i - w : -1, y < h - 1 ? i + w : -1]) {
          if (j >= 0 && d[j] && !labels[j]) { labels[j] = count; stack.push(j); }
        }
      }
    }
    return { labels, count };
  }

  function fillHoles(m) {                // scipy binary_fill_holes: background not reachable from the border
    const { w, h, d } = m, outside = new Uint8Array(d.length), stack = [];
    const seed = (i) => { if (!d[i] && !outside[i]) { outside[i] = 1; stack.push(i); } };
    for (let x = 0; x < w; x++) { seed(x); seed((h - 1) * w + x); }
    for (let y = 0; y < h; y++) { seed(y * w); seed(y * w + w - 1); }
    while (stack.length) {
      const i = stack.pop(), x = i % w, y = (i - x) / w;
      if (x > 0) seed(i - 1);
      if (x < w - 1) seed(i + 1);
      if (y > 0) seed(i - w);
      if (y < h - 1) seed(i + w);
    }
    return { w, h, d: Uint8Array.from(outside, (o) => 1 - o) };
  }

  function sideBySide(m, join, C) {      // join: the ink joined across gaps under half a stroke, labelled
    const { labels, count } = join;
    if (count < 2) return false;
    const areas = new Float64Array(count), boxes = [];
    for (let k = 0; k < count; k++) boxes.push({ top: Infinity, bottom: -1, left: Infinity, right: -1 });
    let total = 0;
    for (let i = 0; i < labels.length; i++) {
      const k = labels[i] - 1;
      if (k < 0) continue;
      const x = i % m.w, y = (i - x) / m.w, b = boxes[k];
      areas[k] += m.d[i];
      total += m.d[i];
      b.top = Math.min(b.top, y); b.bottom = Math.max(b.bottom, y + 1); b.left = Math.min(b.left, x); b.right = Math.max(b.right, x + 1);
    }
    const big = boxes.filter((b, k) => areas[k] >= C.MIN_PIECE * total && b.bottom - b.top >= C.MIN_MARK_HEIGHT * m.h);
    for (let i = 0; i < big.length; i++) {
      for (let j = i + 1; j < big.length; j++) {
        const a = big[i], b = big[j];
        const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const narrower = Math.min(a.right - a.left, b.right - b.left);
        if (overlap < C.MAX_OVERLAP * narrower) return true;
      }
    }
    return false;
  }

  function taxicab(m) {                  // scipy distance_transform_cdt(~m, "taxicab"): steps to the nearest ink
    const { w, h, d } = m, out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = d[i] ? 0 : Infinity;
    for (let i = 0; i < d.length; i++) {
      const x = i % w;
      if (x > 0) out[i] = Math.min(out[i], out[i - 1] + 1);
      if (i >= w) out[i] = Math.min(out[i], out[i - w] + 1);
    }
    for (let i = d.length - 1; i >= 0; i--) {
      const x = i % w;
      if (x < w - 1) out[i] = Math.min(out[i], out[i + 1] + 1);
      if (i + w < d.length) out[i] = Math.min(out[i], out[i + w] + 1);
    }
    return out;
  }

  function crossesCentre(labels, k, cover, others, w) {  // piece k's box holds the centre of its hole
    let sy = 0, sx = 0, count = 0, top = Infinity, bottom = -1, left = Infinity, right = -1;
    for (let i = 0; i < labels.length; i++) {
      const y = Math.floor(i / w), x = i % w;
      if (cover.d[i] && !others.d[i]) { sy += y; sx += x; count++; }
      if (labels[i] === k) { top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x); }
    }
    if (!count) return false;
    const cy = sy / count, cx = sx / count;
    return top <= cy && cy <= bottom && left <= cx && cx <= right;
  }

  function loopsAndPiecesUnlikeADigit(m, width, join, C) {
    const n = m.d.length, count = (d) => d.reduce((a, v) => a + v, 0);
    const pieces = join.count, labels = Int32Array.from(join.labels, (k, i) => (m.d[i] ? k : 0));
    const areas = new Float64Array(pieces + 1);
    for (const k of labels) if (k) areas[k]++;
    const ink = count(m.d), significant = [];
    for (let k = 1; k <= pieces; k++) if (areas[k] >= C.MIN_SIGNIFICANT * ink) significant.push(k);
    if (significant.length > C.MAX_PIECES) return true;
    const filled = fillHoles(m);
    const holes = label({ w: m.w, h: m.h, d: Uint8Array.from(filled.d, (v, i) => (v && !m.d[i] ? 1 : 0)) });
    if (holes.count === 0) return false;
    const holeAreas = new Float64Array(holes.count + 1), farthest = new Float64Array(holes.count + 1);
    const distance = taxicab(m);
    for (let i = 0; i < n; i++) {
      const k = holes.labels[i];
      if (k) { holeAreas[k]++; farthest[k] = Math.max(farthest[k], distance[i]); }
    }
    let loops = 0;                       // round holes with a point farther than MIN_LOOP strokes from the ink
    for (let k = 1; k <= holes.count; k++) {
      const reach = Math.max(1, Math.trunc(Math.max(C.MIN_LOOP * width, C.ROUNDNESS * Math.sqrt(holeAreas[k]))));
      if (holeAreas[k] >= C.MIN_HOLE && farthest[k] > reach) loops++;
    }
    if (loops > C.MAX_LOOPS) return true;
    if (significant.length < 2) return false;
    const inside = [], marks = [];       // pieces inside a loop of the others (eyes in a face), not themselves rings
    for (const k of significant) {
      const piece = { w: m.w, h: m.h, d: Uint8Array.from(labels, (v) => (v === k ? 1 : 0)) };
      if (count(fillHoles(piece).d) - areas[k] >= C.MIN_HOLE) continue;
      const others = { w: m.w, h: m.h, d: Uint8Array.from(m.d, (v, i) => (v && labels[i] !== k ? 1 : 0)) };
      if (!others.d.some((v) => v)) continue;
      const cover = fillHoles(others);
      let within = true;
      for (let i = 0; i < n && within; i++) if (labels[i] === k && !cover.d[i]) within = false;
      if (!within) continue;
      inside.push(k);
      if (areas[k] >= C.MAX_DOT * ink && !crossesCentre(labels, k, cover, others, m.w)) marks.push(k);
    }
    // two marks inside, or one bigger than a dot and off the loop's centre (a dotted or crossed zero is a digit)
    return inside.length > 1 || marks.length > 0;
  }

  function inspect(work, C) {            // a reason the ink is not one digit, or null
    const m = mask(work);
    if (!m.d.some((v) => v)) return "too_small";
    const width = strokeWidth(work);
    if (Math.max(work.w, work.h) < C.MIN_SIZE_IN_STROKES * width) return "too_small";
    if (work.w > C.MAX_ASPECT * work.h && work.h < 2 * width) return "not_digit_like";
    const join = label(dilate(m, Math.max(1, Math.trunc(width / 4))));  // broken lines as one piece
    if (sideBySide(m, join, C)) return "several_marks";
    return loopsAndPiecesUnlikeADigit(m, width, join, C) ? "not_digit_like" : null;
  }

  // ---- the network and the verdict ----

  const ACTIVATIONS = {
    tanh: Math.tanh, relu: (z) => Math.max(z, 0), leaky_relu: (z) => Math.max(z, 0.01 * z),
    sigmoid: (z) => (1 + Math.tanh(z / 2)) / 2, identity: (z) => z,
  };

  function deskew(x, C) {                // digitnet/data/deskew.py: sheared upright by the moments, centred by mass
    const side = Math.round(Math.sqrt(x.length)), c = (side - 1) / 2;
    let m = 0, sy = 0, sx = 0, syy = 0, syx = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i], y = Math.floor(i / side), xx = i % side;
      m += v; sy += v * y; sx += v * xx; syy += v * y * y; syx += v * y * xx;
    }
    if (!(m > 0)) return Float64Array.from(x);
    const cy = sy / m, cx = sx / m, varY = syy / m - cy * cy, cov = syx / m - cy * cx;
    const alpha = Math.min(Math.max(varY > 1e-6 ? cov / varY : 0, -C.MAX_SLANT), C.MAX_SLANT);
    const at = (y, xx) => (y >= 0 && y < side && xx >= 0 && xx < side ? x[y * side + xx] : 0);
    const ky = Math.floor(cy - c), fy = f32(cy - c - ky), out = new Float64Array(x.length);
    for (let y = 0; y < side; y++) {
      const shift = cx - c + alpha * (y - c), kx = Math.floor(shift), fx = f32(shift - kx);
      const row = (xx) => { const up = at(y + ky, xx); return f32(f32(f32(at(y + ky + 1, xx) - up) * fy) + up); };
      for (let xx = 0; xx < side; xx++) {
        const left = row(xx + kx);
        out[y * side + xx] = f32(f32(f32(row(xx + kx + 1) - left) * fx) + left);
      }
    }
    return out;
  }

  function logits(model, x) {           // model.py's MLP.logits: the network on each view, answers averaged
    const views = model.deskew === "off" ? [Float64Array.from(x)] : model.deskew === "on" ? [deskew(x, model.constants)]
      : [Float64Array.from(x), deskew(x, model.constants)];
    const answers = views.map((a) => network(model, a));
    if (answers.length === 1) return answers[0];
    return answers[0].map((z, j) => f32(f32(z + answers[1][j]) / 2));
  }

  function network(model, a) {
    const f = ACTIVATIONS[model.activation];
    model.layers.forEach(({ W, b, fanIn, fanOut }, l) => {
      const z = Float64Array.from(b);
      for (let i = 0; i < fanIn; i++) {
        const v = a[i];
        if (v === 0) continue;
        const row = i * fanOut;
        for (let j = 0; j < fanOut; j++) z[j] += v * W[row + j];
      }
      if (l < model.layers.length - 1) for (let j = 0; j < fanOut; j++) z[j] = f32(f(f32(z[j])));
      else for (let j = 0; j < fanOut; j++) z[j] = f32(z[j]);
      a = z;
    });
    return a;
  }

  function decide(model, img, reason) {
    const C = model.calibration, z = logits(model, img.d);
    const scaledZ = Array.from(z, (v) => v / C.temperature), peak = Math.max(...scaledZ);
    const e = scaledZ.map((v) => Math.exp(v - peak)), s = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / s);
    const energy = peak + Math.log(s);   // log Σ exp(logit / T)
    const order = p.map((v, k) => k).sort((a, b) => p[b] - p[a]);
    const [first, second] = order, top = p[first];
    let verdict = "digit", label = first, why = null, candidates = [];
    if (reason) { verdict = "not_a_digit"; label = null; why = reason; }
    else if (C.energy_threshold != null && energy < C.energy_threshold) { verdict = "not_a_digit"; label = null; why = "unfamiliar"; }
    else if (top >= C.threshold) { /* a digit */ }
    else if (top + p[second] >= C.pair_threshold) { verdict = "unsure"; candidates = [first, second]; }
    else { verdict = "not_a_digit"; label = null; why = "unfamiliar"; }
    return answer(model, { verdict, label, confidence: top, probabilities: p, reason: why, candidates, image: Array.from(img.d) });
  }

  function percent(p) { return p > 0.999 ? "> 99.9%" : `${(p * 100).toFixed(1)}%`; }

  function answer(model, r) {            // the same fields as POST /api/predict
    const name = (k) => model.classes[k];
    r.classes = model.classes;
    r.label_name = r.label === null ? null : name(r.label);
    r.prediction = r.probabilities.indexOf(Math.max(...r.probabilities));
    if (r.verdict === "digit") r.message = `a ${name(r.label)} (${percent(r.confidence)} sure)`;
    else if (r.verdict === "unsure") {
      const [a, b] = r.candidates;
      r.message = `not sure: ${name(a)} or ${name(b)}? (${percent(r.confidence)} for ${name(a)})`;
    } else r.message = model.reasonWords[r.reason];
    return r;
  }

  function read(model, grey) {           // a greyscale picture {w, h, d} in [0, 1] -> the verdict
    const C = model.constants, ink = findInk(grey, C);
    if (!ink) {
      const k = model.classes.length;
      return answer(model, { verdict: "not_a_digit", label: null, confidence: 1 / k, probabilities: Array(k).fill(1 / k),
        reason: "blank", candidates: [], image: Array(784).fill(0) });
    }
    const work = scaled(crop(ink, C.INK_THRESHOLD), C.WORK), reason = inspect(work, C);
    // ink the geometry refused keeps its strokes as drawn: the verdict is made, and a dot has no strokes
    return decide(model, place(reason ? work : normalizeStroke(work, C)), reason);
  }

  function greyFromCanvas(canvas) {      // what Pillow's convert("L") gives for the canvas's PNG
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const grey = image(canvas.width, canvas.height);
    for (let i = 0; i < grey.d.length; i++) {
      const a = data[i * 4 + 3], over = (c) => (c * a + 255 * (255 - a) + 127) / 255 | 0;  // on white paper
      const l = (over(data[i * 4]) * 19595 + over(data[i * 4 + 1]) * 38470 + over(data[i * 4 + 2]) * 7471 + 0x8000) >> 16;
      grey.d[i] = f32(l / 255);
    }
    return grey;
  }

  function loadModel(spec) {             // window.DIGITNET_MODEL (model.js) -> weights as Float32Arrays
    const bytes = Uint8Array.from(atob(spec.weights), (c) => c.charCodeAt(0));
    const all = new Float32Array(bytes.buffer);
    let at = 0;
    const layers = spec.sizes.slice(1).map((fanOut, l) => {
      const fanIn = spec.sizes[l];
      const W = all.subarray(at, at + fanIn * fanOut); at += fanIn * fanOut;
      const b = all.subarray(at, at + fanOut); at += fanOut;
      return { W, b, fanIn, fanOut };
    });
    return { ...spec, layers };
  }

  global.Digitnet = { read, inspect, deskew, greyFromCanvas, loadModel, logits };
})(window);
