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
let request = 0;         // answers to older requests are ignored
let timer = null;
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
});
pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  for (const ev of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) current.push(point(ev));
  redraw();
  schedule(120);
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { if (current) { current = null; schedule(0); } });
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(predictDrawing, delay);
}

function predictDrawing() {
  if (!strokes.length) { showEmpty(); return; }
  if (local) { request++; show(window.Digitnet.read(local, window.Digitnet.greyFromCanvas(pad))); return; }
  pad.toBlob((blob) => {
    const form = new FormData();
    form.append("file", blob, "drawing.png");
    send({ body: form });
  }, "image/png");
}

async function send(init) {
  const id = ++request;
  try {
    const response = await fetch("/api/predict", { method: "POST", ...init });
    const data = await response.json();
    if (id !== request) return;
    if (!response.ok) { showMessage(data.detail || `error ${response.status}`); return; }
    show(data);
  } catch (err) {
    if (id === request) showMessage("the server did not answer: is digitnet serve still running?");
  }
}

function showMessage(text, ok = false) {
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
  showMessage("Draw a digit first.");
}

function show(data) {
  window.lastReading = data;  // what the page shows, for tests and the curious
  window.readingCount = (window.readingCount || 0) + 1;
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
    li.innerHTML = `<span></span><div class="track"><div class="fill"></div></div><span class="pct"></span>`;
    li.children[0].textContent = name;
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = `${(p * 100).toFixed(1)}%`;
    bars.appendChild(li);
  });
}

$("clear").addEventListener("click", () => { strokes = []; sample = null; $("label").textContent = ""; redraw(); showEmpty(); });
$("undo").addEventListener("click", () => { strokes.pop(); redraw(); strokes.length ? schedule(0) : showEmpty(); });
$("random").addEventListener("click", async () => {
  const response = await fetch("/api/samples/random");
  const data = await response.json();
  if (!response.ok) { showMessage(data.detail || "no test images"); return; }
  strokes = [];
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
      ["Recipe", m.recipe || "—"],
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

if (local) $("random").hidden = true;  // no test images without the server
redraw();
renderBars(null);
loadCard();
