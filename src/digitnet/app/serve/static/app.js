// The draw-a-digit page: strokes on a canvas, debounced predictions from /api/predict.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });  // every reading reads the pad's pixels back
const preview = document.getElementById("preview");
const pctx = preview.getContext("2d");
const $ = (id) => document.getElementById(id);

let strokes = [];        // each stroke: [[x, y], ...] in canvas pixels
let current = null;      // the stroke being drawn
let sample = null;       // a test image being shown: {pixels, label_name}
let picture = null;      // an uploaded picture being shown (an ImageBitmap)
let request = 0;         // answers to older requests are ignored
let drawing = 0;         // the drawing's version: every change (a point, Undo, Clear, an upload, a test digit) adds one
let shown = null;        // the reading shown last and the version of the drawing it read: {data, drawing}
// Written by `digitnet export --web`: the model runs in this page (digitnet.js), no server needed.
const local = window.DIGITNET_MODEL ? window.Digitnet.loadModel(window.DIGITNET_MODEL) : null;

function lineWidth() { return pad.width / 13; }

// The pad's paper and pen: the page's --paper and --pen (in dark mode light ink on a dark pad, which reads
// the same: the reader judges polarity by the border). A picture brings its own paper: white, with dark ink.
function colours() {
  if (picture) return { paper: "#fff", pen: "#111" };
  const style = getComputedStyle(pad);
  return { paper: style.getPropertyValue("--paper").trim() || "#fff", pen: style.getPropertyValue("--pen").trim() || "#111" };
}

function rgb(colour) {    // [r, g, b] of a CSS colour (the canvas writes it back as #rrggbb)
  ctx.fillStyle = "#000";
  ctx.fillStyle = colour;
  const hex = ctx.fillStyle;
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function redraw() {
  const { paper, pen } = colours();
  ctx.fillStyle = paper;
  ctx.fillRect(0, 0, pad.width, pad.height);
  if (sample) {           // show the test digit as ink on paper, like a drawing
    const img = ctx.createImageData(28, 28), [r, g, b] = rgb(pen);
    sample.pixels.forEach((v, i) => img.data.set([r, g, b, Math.round(v * 255)], i * 4));
    const tmp = document.createElement("canvas");
    tmp.width = tmp.height = 28;
    tmp.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, pad.width, pad.height);
    ctx.imageSmoothingEnabled = true;
  }
  if (picture) {          // fitted into the pad, on white paper
    const scale = Math.min(pad.width / picture.width, pad.height / picture.height);
    const w = picture.width * scale, h = picture.height * scale;
    ctx.drawImage(picture, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  }
  ctx.strokeStyle = pen;
  ctx.lineWidth = lineWidth();
  ctx.lineCap = ctx.lineJoin = "round";
  for (const s of strokes) {
    ctx.beginPath();
    ctx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s.slice(1)) ctx.lineTo(x, y);
    if (s.length === 1) ctx.lineTo(s[0][0] + 0.1, s[0][1]);
    ctx.stroke();
  }
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return [(event.clientX - r.left) * pad.width / r.width, (event.clientY - r.top) * pad.height / r.height];
}

pad.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  if (sample) { sample = null; $("label").textContent = ""; }
  current = [point(e)];
  strokes.push(current);
  changed();
  redraw();
  live(e.timeStamp);
});
pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  for (const ev of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) current.push(point(ev));
  changed();
  redraw();
  live(e.timeStamp);
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (e) => { if (current) { current = null; predictDrawing(e.timeStamp, true); } });
}
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => redraw());  // the same drawing, recoloured

function changed() { drawing++; teachState(); }  // readings of the drawing as it was can no longer be corrected
// true once the page shows the pen-up reading of the drawing as it is now: nothing later replaces it (for tests)
window.readingSettled = () => shown !== null && shown.final && shown.drawing === drawing;

// Live: while the pen moves, read the drawing about every LIVE_MS, one request at a time; the pen
// lifting always reads the final drawing. Answers to a drawing that has since changed by Clear or
// Undo (or overtaken by a newer request) are dropped.
const LIVE_MS = 100;
let inFlight = 0, lastSent = -Infinity;  // inFlight: the id of the request on its way, or 0
function live(when) {
  if (!inFlight && when - lastSent >= LIVE_MS) predictDrawing(when, false);
}

// final: the pen lifted (or Undo, an upload): the answer is also announced to screen readers.
function predictDrawing(when = performance.now(), final = true) {
  if (!strokes.length && !picture) { showEmpty(); return; }
  lastSent = when;
  if (local) { request++; show(window.Digitnet.read(local, window.Digitnet.greyFromCanvas(pad)), when, final, drawing); return; }
  send({ headers: { "Content-Type": "image/bmp" }, body: greyBMP(pad) }, when, final, drawing);
}

// The canvas as an 8-bit greyscale BMP, encoded at once (toBlob's PNG can wait for idle time).
// Grey is Pillow's convert("L") of the same pixels, so the server reads what a PNG would give it.
function greyBMP(canvas) {
  const w = canvas.width, h = canvas.height, row = (w + 3) & ~3, offset = 14 + 40 + 1024;
  const rgba = canvas.getContext("2d").getImageData(0, 0, w, h).data;
  const bytes = new Uint8Array(offset + row * h), view = new DataView(bytes.buffer);
  bytes.set([66, 77]);                                           // "BM"
  view.setUint32(2, bytes.length, true); view.setUint32(10, offset, true);
  view.setUint32(14, 40, true); view.setInt32(18, w, true); view.setInt32(22, -h, true);  // top-down rows
  view.setUint16(26, 1, true); view.setUint16(28, 8, true); view.setUint32(34, row * h, true);
  view.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) bytes.set([i, i, i, 0], 54 + 4 * i);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = (y * w + x) * 4;
      bytes[offset + y * row + x] = (rgba[k] * 19595 + rgba[k + 1] * 38470 + rgba[k + 2] * 7471 + 0x8000) >> 16;
    }
  }
  return bytes;
}

// version: the drawing's version when it was read (a correction stores the reading of the drawing as it is now).
async function send(init, when, final = true, version = drawing) {
  const id = ++request;
  inFlight = id;
  try {
    const response = await fetch("/api/predict", { method: "POST", ...init });
    const data = await response.json();
    if (id !== request) return;     // the drawing changed since (Clear, Undo, a newer request)
    if (!response.ok) { showMessage(data.detail || `error ${response.status}`); return; }
    show(data, when, final, version);
  } catch (err) {
    if (id === request) showMessage("The server did not answer: is digitnet serve still running?");
  } finally {
    if (inFlight === id) inFlight = 0;
  }
}

function showMessage(text, ok = false) {  // ok: a hint (neutral colour); otherwise an error
  const m = $("message");
  m.textContent = /draw a digit first/i.test(text) ? "Draw a digit first." : text;
  m.className = ok ? "message ok" : "message";
}

function showEmpty() {
  request++;
  $("prediction").textContent = "?";
  $("confidence").textContent = "";
  pctx.clearRect(0, 0, 28, 28);
  renderBars(null);
  $("sticky-verdict").textContent = "?";
  $("sticky-detail").textContent = "";
  shown = null;
  teachState();
  showMessage("Draw a digit first.", true);
}

const brief = (p) => (p > 0.999 ? "100%" : `${Math.min(99, Math.round(p * 100))}%`);  // the sticky bar's percentages

function show(data, when, final = true, version = drawing) {
  window.lastReading = data;  // what the page shows, for tests and the curious
  window.readingCount = (window.readingCount || 0) + 1;
  if (when !== undefined) (window.latencies = window.latencies || []).push(performance.now() - when);
  // The verdict: a digit, "not sure: 3 or 8?", or why it is not a digit.
  const digit = data.verdict === "digit";
  $("prediction").textContent = digit ? data.label_name
    : data.verdict === "unsure" ? data.candidates.map((k) => data.classes[k]).join(" or ") + "?" : "–";
  $("confidence").textContent = digit ? (data.confidence > 0.999 ? "> 99.9% sure" : `${(data.confidence * 100).toFixed(1)}% sure`)
    : data.message;
  drawPreview(data.reason === "too_small" && !sample ? asDrawn() : data.image);
  renderBars(data);
  // The phone's sticky bar: the verdict and how sure, "3 · 97%", "3 or 8? · 55% / 40%", "– · too small to read..."
  $("sticky-verdict").textContent = $("prediction").textContent;
  $("sticky-detail").textContent = "· " + (digit ? brief(data.confidence)
    : data.verdict === "unsure" ? data.candidates.map((k) => brief(data.probabilities[k])).join(" / ") : data.message);
  shown = { data, drawing: version, final };
  teachState();
  if (final) $("announce").textContent = digit ? `Reads ${data.label_name}, ${$("confidence").textContent}.`
    : data.message.charAt(0).toUpperCase() + data.message.slice(1) + ".";
  if (sample) {
    const right = data.label_name === sample.label_name;
    $("label").textContent = `Test image #${sample.index}: true label ${sample.label_name} ${right ? "✓" : "✗"}`;
  }
  showMessage(sample ? "A real MNIST test image." : digit ? "Keep drawing, or clear and try another digit."
    : data.message.charAt(0).toUpperCase() + data.message.slice(1) + ".", true);
}

function drawPreview(image) {  // 784 values in [0, 1], white on black
  const img = pctx.createImageData(28, 28);
  image.forEach((v, i) => { const g = Math.round(v * 255); img.data.set([g, g, g, 255], i * 4); });
  pctx.putImageData(img, 0, 0);
}

// The pad at 28x28, ink white on black, at the size it was drawn. What the preview shows for a picture refused as
// too small: the reader enlarges such ink to fill the frame, which would show a tap as a large disc.
const small = document.createElement("canvas");
small.width = small.height = 28;
const sctx = small.getContext("2d", { willReadFrequently: true });
function asDrawn() {
  sctx.drawImage(pad, 0, 0, 28, 28);
  const d = sctx.getImageData(0, 0, 28, 28).data, { paper, pen } = colours();
  const grey = ([r, g, b]) => 0.299 * r + 0.587 * g + 0.114 * b;
  const p = grey(rgb(paper)), span = grey(rgb(pen)) - p;
  return Array.from({ length: 784 }, (_, i) => Math.min(1, Math.max(0, (grey(d.subarray(4 * i, 4 * i + 3)) - p) / span)));
}

function renderBars(data) {
  const bars = $("bars");
  bars.innerHTML = "";
  const classes = data ? data.classes : (window.modelClasses || [...Array(10).keys()].map(String));
  classes.forEach((name, k) => {
    const p = data ? data.probabilities[k] : 0;
    const li = document.createElement("li");
    if (data && k === data.prediction) li.className = "top";
    li.innerHTML = `<span aria-hidden="true"></span><div class="track" role="meter" aria-valuemin="0" aria-valuemax="100">`
      + `<div class="fill"></div></div><span class="pct" aria-hidden="true"></span>`;
    const text = p > 0.999 ? "> 99.9%" : `${(p * 100).toFixed(1)}%`;
    li.children[0].textContent = name;
    const track = li.querySelector(".track");
    track.setAttribute("aria-label", `digit ${name}`);
    track.setAttribute("aria-valuenow", (p * 100).toFixed(1));
    track.setAttribute("aria-valuetext", text);
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = text;
    bars.appendChild(li);
  });
}

function clearAll() { strokes = []; sample = null; picture = null; $("label").textContent = ""; changed(); redraw(); showEmpty(); }
$("clear").addEventListener("click", clearAll);
$("undo").addEventListener("click", () => {
  if (!strokes.length) { clearAll(); return; }  // nothing drawn: undo takes away the test digit shown, if any
  strokes.pop();
  changed();
  redraw();
  strokes.length || picture ? predictDrawing() : showEmpty();
});
document.addEventListener("keydown", (e) => {  // Ctrl+Z (Cmd+Z) undoes a stroke, Esc clears
  if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "z") { e.preventDefault(); $("undo").click(); }
  else if (e.key === "Escape") { $("clear").click(); }
});
$("upload").addEventListener("click", () => $("file").click());  // the keyboard's way in: a button, then a file
$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  $("file").value = "";
  if (!file) return;
  try {
    picture = await createImageBitmap(file);
  } catch (err) {
    showMessage(`${file.name} is not a picture this browser can open.`);
    return;
  }
  strokes = []; sample = null; $("label").textContent = `Your picture: ${file.name}`;
  changed();
  redraw();
  predictDrawing();
});
$("random").addEventListener("click", async () => {
  let response, data;
  try {
    response = await fetch("/api/samples/random");
    data = await response.json();
  } catch (err) {
    showMessage("The server did not answer: is digitnet serve still running?");
    return;
  }
  if (!response.ok) { showMessage(data.detail || "no test images"); return; }
  strokes = [];
  picture = null;
  sample = data;
  changed();
  redraw();
  $("label").textContent = `Test image #${data.index}: true label ${data.label_name}`;
  send({ headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pixels: data.pixels }) });
});

async function loadCard() {
  try {
    const m = local ? local.card : await (await fetch("/api/model")).json();
    window.modelClasses = m.classes;
    const rows = [
      ["Architecture", `${m.sizes.join("–")} MLP, ${m.activation}, ${m.dtype}`],
      ["Parameters", m.parameters.toLocaleString()],
      ["Test accuracy", m.test_accuracy == null ? "—" : `${(m.test_accuracy * 100).toFixed(2)}% on ${m.dataset}`],
      ["Recipe", (m.recipe || "—") + (m.using === "personal" ? " (your personal model)" : "")],
      ["Training time", m.train_seconds == null ? "—" : `${m.train_seconds.toFixed(1)} s`],
    ];
    const dl = $("model-card");
    dl.innerHTML = "";
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      dl.append(dt, dd);
    }
    renderBars(null);
  } catch (err) {
    $("model-card").innerHTML = "<dt>model</dt><dd>unavailable</dd>";
  }
}

// ---- it learns your handwriting: corrections, fine-tuning, the personal model ----
// A correction stores the prepared image of the reading shown, and only while that reading is of the drawing as it
// is now (pen up): after Clear, Undo or another stroke the buttons wait for the new drawing's reading. Test digits
// are MNIST's handwriting, not the user's: they are not kept.
let kept = null, needed = null;  // how many digits the personal set holds, and how many fine-tuning needs
function teachButtons() {
  const row = $("digits");
  (window.modelClasses || [...Array(10).keys()].map(String)).forEach((name, k) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = name; b.setAttribute("aria-label", `It was ${name}`); b.disabled = true;
    b.addEventListener("click", () => correct(k));
    row.appendChild(b);
  });
  $("right").addEventListener("click", () => { if (readingIsCurrent() && shown.data.verdict === "digit") correct(shown.data.label); });
}

function readingIsCurrent() { return shown !== null && shown.drawing === drawing && !current && !sample; }

function teachState() {
  if (local) return;
  const ready = readingIsCurrent(), digit = ready && shown.data.verdict === "digit";
  const say = (el, text) => { if (el.textContent !== text) el.textContent = text; };  // called on every move of the pen
  for (const b of $("digits").children) b.disabled = !ready;
  $("right").disabled = !digit;
  say($("right"), digit ? `Right, it's a ${shown.data.label_name}` : "Right");
  say($("teach-help"), sample ? "Test digits are MNIST's handwriting, not yours: draw a digit to teach it yours."
    : ready ? "Did it read your digit right?"
    : strokes.length || picture ? "Reading your drawing…" : "Draw a digit, then say whether it was read right.");
}

async function correct(label) {
  if (!readingIsCurrent()) return;
  const image = shown.data.image, status = $("teach-status");
  try {
    const response = await fetch("/api/corrections", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pixels: image, label }) });
    const data = await response.json();
    if (response.ok) { kept = data.count; needed = data.needed ?? needed; }
    status.textContent = response.ok ? `Kept as a ${label}. Your set holds ${data.count} digit${data.count === 1 ? "" : "s"}.`
      : `Not kept: ${data.detail}`;
  } catch (err) {
    status.textContent = "Not kept: the server did not answer.";
  }
}

// What the server says of learning when the page opens: the personal set's size, whether fine-tuning is on
// in this server, whether a personal model is there to switch to.
async function loadLearning() {
  try {
    const [counts, job] = await Promise.all([fetch("/api/corrections"), fetch("/api/finetune")]);
    const set = await counts.json(), state = await job.json();
    if (counts.ok) { kept = set.count; needed = set.needed; } else $("teach-status").textContent = set.detail;
    if (state.state === "off") { $("learn").disabled = true; $("learn").title = state.message; }
    if (state.personal_available) { $("use").hidden = false; showUsing(state.using); }
  } catch (err) { /* the server did not answer: the buttons say so when pressed */ }
}

function showUsing(using) {
  $("use").dataset.using = using;
  $("use").textContent = using === "personal" ? "Use the original model" : "Use my model";
}

async function learn() {
  const status = $("teach-status");
  if (kept !== null && needed !== null && kept < needed) {  // asking would only be refused (422)
    status.textContent = `Learning needs at least ${needed} digits you confirmed or corrected; your set holds ${kept}. `
      + "Draw a digit, then press Right or the digit it was.";
    return;
  }
  let response;
  try {
    response = await fetch("/api/finetune", { method: "POST" });
  } catch (err) { status.textContent = "The server did not answer."; return; }
  const started = await response.json();
  if (!response.ok) { status.textContent = started.detail; return; }
  $("learn").disabled = true;
  for (;;) {
    await new Promise((r) => setTimeout(r, 400));
    let job;
    try { job = await (await fetch("/api/finetune")).json(); } catch (err) { status.textContent = "The server did not answer."; break; }
    if (job.state === "running") { status.textContent = `Learning your handwriting… ${Math.round(job.progress * 100)}%`; continue; }
    status.textContent = job.state === "done"
      ? `Your model is ready (MNIST test accuracy ${(job.test_accuracy_before * 100).toFixed(2)}% → ${(job.test_accuracy_after * 100).toFixed(2)}%).`
      : `Fine-tuning failed: ${job.message}`;
    if (job.state === "done") { $("use").hidden = false; }
    break;
  }
  $("learn").disabled = false;
}

async function useModel() {
  const which = $("use").dataset.using === "personal" ? "base" : "personal";
  let response, job;
  try {
    response = await fetch("/api/model/use", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: which }) });
    job = await response.json();
  } catch (err) { $("teach-status").textContent = "The server did not answer."; return; }
  if (!response.ok) { $("teach-status").textContent = job.detail; return; }
  showUsing(job.using);
  $("teach-status").textContent = job.using === "personal" ? "Reading with your personal model." : "Reading with the original model.";
  loadCard();
  if (strokes.length || picture) predictDrawing();
}

if (local) { $("random").hidden = true; $("api").hidden = true; }  // no test images, no API without the server
else {
  teachButtons();
  $("teach").hidden = false;  // from the start, so that the first reading moves nothing on the page
  $("learn").addEventListener("click", learn);
  $("use").addEventListener("click", useModel);
  loadLearning();
}
redraw();
renderBars(null);
loadCard();
