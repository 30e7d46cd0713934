// The draw-a-digit page: strokes on a canvas, debounced predictions from /api/predict.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const preview = document.getElementById("preview");
const pctx = preview.getContext("2d");
const $ = (id) => document.getElementById(id);

let strokes = [];        // each stroke: [[x, y], ...] in canvas pixels
let current = null;      // the stroke being drawn
let sample = null;       // a test image being shown: {pixels, label_name}
let picture = null;      // an uploaded picture being shown (an ImageBitmap)
let request = 0;         // answers to older requests are ignored
// Written by `digitnet export --web`: the model runs in this page (digitnet.js), no server needed.
const local = window.DIGITNET_MODEL ? window.Digitnet.loadModel(window.DIGITNET_MODEL) : null;

function lineWidth() { return pad.width / 13; }

function redraw() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  if (sample) {           // show the test digit as dark ink on paper, like a drawing
    const img = ctx.createImageData(28, 28);
    sample.pixels.forEach((v, i) => { const g = 255 - Math.round(v * 255); img.data.set([g, g, g, 255], i * 4); });
    const tmp = document.createElement("canvas");
    tmp.width = tmp.height = 28;
    tmp.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, pad.width, pad.height);
  }
  if (picture) {          // fitted into the pad, on white paper
    const scale = Math.min(pad.width / picture.width, pad.height / picture.height);
    const w = picture.width * scale, h = picture.height * scale;
    ctx.drawImage(picture, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  }
  ctx.strokeStyle = "#111";
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
  redraw();
  live(e.timeStamp);
});
pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  for (const ev of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) current.push(point(ev));
  redraw();
  live(e.timeStamp);
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (e) => { if (current) { current = null; predictDrawing(e.timeStamp, true); } });
}

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
  if (local) { request++; show(window.Digitnet.read(local, window.Digitnet.greyFromCanvas(pad)), when, final); return; }
  send({ headers: { "Content-Type": "image/bmp" }, body: greyBMP(pad) }, when, final);
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

async function send(init, when, final = true) {
  const id = ++request;
  inFlight = id;
  try {
    const response = await fetch("/api/predict", { method: "POST", ...init });
    const data = await response.json();
    if (id !== request) return;     // the drawing changed since (Clear, Undo, a newer request)
    if (!response.ok) { showMessage(data.detail || `error ${response.status}`); return; }
    show(data, when, final);
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
  $("sticky-top").textContent = "";
  showMessage("Draw a digit first.", true);
}

function show(data, when, final = true) {
  window.lastReading = data;  // what the page shows, for tests and the curious
  window.readingCount = (window.readingCount || 0) + 1;
  if (when !== undefined) (window.latencies = window.latencies || []).push(performance.now() - when);
  // The verdict: a digit, "not sure: 3 or 8?", or why it is not a digit.
  const digit = data.verdict === "digit";
  $("prediction").textContent = digit ? data.label_name
    : data.verdict === "unsure" ? data.candidates.map((k) => data.classes[k]).join(" or ") + "?" : "–";
  $("confidence").textContent = digit ? (data.confidence > 0.999 ? "> 99.9% sure" : `${(data.confidence * 100).toFixed(1)}% sure`)
    : data.message;
  const img = pctx.createImageData(28, 28);
  data.image.forEach((v, i) => { const g = Math.round(v * 255); img.data.set([g, g, g, 255], i * 4); });
  pctx.putImageData(img, 0, 0);
  renderBars(data);
  const top3 = data.probabilities.map((p, k) => [p, k]).sort((a, b) => b[0] - a[0]).slice(0, 3);
  $("sticky-verdict").textContent = $("prediction").textContent;
  $("sticky-top").textContent = top3.map(([p, k]) => `${data.classes[k]} ${(p * 100).toFixed(0)}%`).join(" · ");
  if (!local) { shown = data; $("teach").hidden = false; $("right").disabled = data.verdict !== "digit"; }
  if (final) $("announce").textContent = digit ? `Reads ${data.label_name}, ${$("confidence").textContent}.`
    : data.message.charAt(0).toUpperCase() + data.message.slice(1) + ".";
  if (sample) {
    const right = data.label_name === sample.label_name;
    $("label").textContent = `Test image #${sample.index}: true label ${sample.label_name} ${right ? "✓" : "✗"}`;
  }
  showMessage(sample ? "A real MNIST test image." : digit ? "Keep drawing, or clear and try another digit."
    : data.message.charAt(0).toUpperCase() + data.message.slice(1) + ".", true);
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

function clearAll() { strokes = []; sample = null; picture = null; $("label").textContent = ""; redraw(); showEmpty(); }
$("clear").addEventListener("click", clearAll);
$("undo").addEventListener("click", () => {
  if (!strokes.length) { clearAll(); return; }  // nothing drawn: undo takes away the test digit shown, if any
  strokes.pop();
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
let shown = null;        // the last answer shown: its prepared image is what a correction stores
function teachButtons() {
  const row = $("digits");
  (window.modelClasses || [...Array(10).keys()].map(String)).forEach((name, k) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = name; b.setAttribute("aria-label", `It was ${name}`);
    b.addEventListener("click", () => correct(k));
    row.appendChild(b);
  });
  const right = document.createElement("button");
  right.type = "button"; right.id = "right"; right.textContent = "Right";
  right.addEventListener("click", () => { if (shown && shown.verdict === "digit") correct(shown.label); });
  row.appendChild(right);
}

async function correct(label) {
  if (!shown) return;
  const status = $("teach-status");
  try {
    const response = await fetch("/api/corrections", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pixels: shown.image, label }) });
    const data = await response.json();
    status.textContent = response.ok ? `Kept as a ${label}. Your set holds ${data.count} digit${data.count === 1 ? "" : "s"}.`
      : `Not kept: ${data.detail}`;
  } catch (err) {
    status.textContent = "Not kept: the server did not answer.";
  }
}

async function learn() {
  const status = $("teach-status");
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
  const response = await fetch("/api/model/use", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: which }) });
  const job = await response.json();
  if (!response.ok) { $("teach-status").textContent = job.detail; return; }
  $("use").dataset.using = job.using;
  $("use").textContent = job.using === "personal" ? "Use the original model" : "Use my model";
  $("teach-status").textContent = job.using === "personal" ? "Reading with your personal model." : "Reading with the original model.";
  loadCard();
  if (strokes.length || picture) predictDrawing();
}

if (local) $("random").hidden = true;  // no test images without the server
else {
  teachButtons();
  $("learn").addEventListener("click", learn);
  $("use").addEventListener("click", useModel);
}
redraw();
renderBars(null);
loadCard();
