// The demo page at GET /: one self-contained HTML file (no external assets) that classifies a JPEG through the REST route.
enum DemoPage {
    // Stable hooks for tests: #model, #file, #drop, #preview, #status[data-state=idle|busy|done|error],
    // #results > li.result[data-rank][data-index][data-label][data-probability], #timing-server,
    // #timing-roundtrip, #timing-stages, #cache, #error.
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Glimpse</title>
<link rel="icon" href="data:,">
<style>
  :root {
    --bg: #f5f6f8; --card: #ffffff; --ink: #1c2430; --muted: #687385; --line: #e3e6eb;
    --accent: #3056d3; --accent-soft: #e6ecfb; --bad: #b3261e; --bad-soft: #fbe9e7;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--ink);
         font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
  main { max-width: 880px; margin: 0 auto; padding: 32px 20px 48px; }
  header { display: flex; align-items: baseline; justify-content: space-between; gap: 16px; flex-wrap: wrap; margin-bottom: 20px; }
  h1 { margin: 0; font-size: 24px; letter-spacing: -0.01em; }
  h1 span { color: var(--muted); font-weight: 400; font-size: 15px; margin-left: 8px; }
  label.model { color: var(--muted); font-size: 14px; }
  select { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 8px; background: var(--card); color: var(--ink); }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
  @media (max-width: 720px) { .grid { grid-template-columns: 1fr; } }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 18px; }
  #drop { position: relative; display: flex; align-items: center; justify-content: center; min-height: 300px;
          border: 2px dashed var(--line); border-radius: 12px; cursor: pointer; overflow: hidden; text-align: center;
          transition: border-color .15s, background .15s; }
  #drop.over { border-color: var(--accent); background: var(--accent-soft); }
  #drop .hint { color: var(--muted); padding: 24px; }
  #drop .hint strong { color: var(--accent); font-weight: 600; }
  #preview { display: none; max-width: 100%; max-height: 340px; border-radius: 8px; }
  #drop.has-image { border-style: solid; background: #fafbfc; }
  #drop.has-image #preview { display: block; }
  #drop.has-image .hint { display: none; }
  #drop .unviewable { display: none; color: var(--muted); padding: 24px; }
  #drop.unviewable #preview { display: none; }
  #drop.unviewable .unviewable { display: block; }
  #file { position: absolute; width: 1px; height: 1px; opacity: 0; }
  .filename { margin-top: 10px; color: var(--muted); font-size: 13px; min-height: 18px; word-break: break-all; }
  h2 { margin: 0 0 12px; font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); font-weight: 600; }
  #status { font-size: 14px; color: var(--muted); min-height: 20px; margin-bottom: 10px; }
  #status[data-state=busy]::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 8px;
          border: 2px solid var(--accent); border-right-color: transparent; border-radius: 50%; animation: spin .8s linear infinite; }
  @keyframes spin { to { transform: rotate(360deg); } }
  #results { list-style: none; margin: 0; padding: 0; }
  .result { margin: 0 0 14px; }
  .result .row { display: flex; justify-content: space-between; gap: 12px; }
  .result .label { font-weight: 600; }
  .result:first-child .label { font-size: 17px; }
  .result .index { color: var(--muted); font-weight: 400; font-size: 13px; margin-left: 6px; }
  .result .prob { font-variant-numeric: tabular-nums; color: var(--muted); }
  .bar { height: 8px; margin-top: 6px; border-radius: 4px; background: var(--accent-soft); overflow: hidden; }
  .bar div { height: 100%; background: var(--accent); border-radius: 4px; }
  .result:not(:first-child) .bar div { opacity: .55; }
  .stats[hidden] { display: none; }
  .stats { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; margin-top: 18px; padding-top: 16px; border-top: 1px solid var(--line); }
  .stats div { display: flex; flex-direction: column; }
  .stats .num { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .stats .cap { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
  #timing-stages { margin-top: 8px; color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; min-height: 18px; }
  #error { display: none; margin-top: 16px; padding: 10px 12px; border-radius: 8px; background: var(--bad-soft); color: var(--bad); font-size: 14px; }
  #error.shown { display: block; }
  .empty { color: var(--muted); font-size: 14px; }
  footer { margin-top: 22px; color: var(--muted); font-size: 13px; }
  footer a { color: inherit; }
</style>
</head>
<body>
<main>
  <header>
    <h1>Glimpse <span>image classification</span></h1>
    <label class="model">Model <select id="model" aria-label="Model"><option value="">loading…</option></select></label>
  </header>
  <div class="grid">
    <section class="card">
      <label id="drop" for="file">
        <div class="hint"><strong>Choose a JPEG</strong><br>or drop one here</div>
        <div class="unviewable">The browser cannot show this file either.</div>
        <img id="preview" alt="The image being classified">
        <input id="file" type="file" accept="image/jpeg,.jpg,.jpeg">
      </label>
      <div class="filename" id="filename"></div>
    </section>
    <section class="card">
      <h2>Top classes</h2>
      <div id="status" data-state="idle">Pick an image to classify it.</div>
      <ol id="results"></ol>
      <div class="stats" id="stats" hidden>
        <div><span class="num" id="timing-server">–</span><span class="cap">on the server</span></div>
        <div><span class="num" id="timing-roundtrip">–</span><span class="cap">round trip</span></div>
        <div><span class="num" id="cache">–</span><span class="cap">cache</span></div>
      </div>
      <div id="timing-stages"></div>
      <div id="error" role="alert"></div>
    </section>
  </div>
  <footer>POST the JPEG's bytes to <code>/v1/models/NAME/classify?top_k=3</code> for the same answer as JSON ·
    <a href="/v1/models">models</a> · <a href="/metrics">metrics</a> · <a href="/readyz">readiness</a></footer>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let current = null;

function ms(us) { return us >= 1000 ? (us / 1000).toFixed(1) + " ms" : us + " µs"; }

function size(bytes) { return bytes < 1024 ? bytes + " bytes" : (bytes / 1024).toFixed(1) + " KB"; }

function clearResults() {
  $("results").textContent = "";
  for (const id of ["timing-server", "timing-roundtrip", "cache"]) $(id).textContent = "–";
  $("timing-stages").textContent = "";
  $("stats").hidden = true;
}

function setStatus(state, text) { const s = $("status"); s.dataset.state = state; s.textContent = text; }

function showError(text) {
  const e = $("error");
  e.textContent = text;
  e.classList.toggle("shown", !!text);
  if (text) setStatus("error", "Could not classify this image.");
}

async function loadModels() {
  try {
    const response = await fetch("/v1/models");
    const body = await response.json();
    if (!response.ok) throw new Error(body.status + ": " + body.message);
    const select = $("model");
    select.textContent = "";
    for (const m of body.models) {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = m.name + " · " + m.input_height + "×" + m.input_width + (m.layout === "NHWC" ? " NHWC" : "")
        + " px · " + (m.parameters / 1e6).toFixed(1) + "M";
      option.selected = m.default;
      select.appendChild(option);
    }
    select.dataset.loaded = "true";
  } catch (err) {
    showError("Could not list the models: " + err.message);
  }
}

function render(body, roundTripMs) {
  const list = $("results");
  list.textContent = "";
  body.classes.forEach((c, rank) => {
    const item = document.createElement("li");
    item.className = "result";
    item.dataset.rank = rank;
    item.dataset.index = c.index;
    item.dataset.label = c.label;
    item.dataset.probability = c.probability;
    const percent = (c.probability * 100).toFixed(1) + "%";
    item.innerHTML = '<div class="row"><span class="label"></span><span class="prob"></span></div><div class="bar"><div></div></div>';
    item.querySelector(".label").textContent = c.label;
    const index = document.createElement("span");
    index.className = "index";
    index.textContent = "#" + c.index;
    item.querySelector(".label").appendChild(index);
    item.querySelector(".prob").textContent = percent;
    item.querySelector(".bar div").style.width = Math.max(0.5, c.probability * 100) + "%";
    list.appendChild(item);
  });
  const t = body.timing;
  $("timing-server").textContent = ms(t.total_us);
  $("timing-stages").textContent = body.cache === "hit"
    ? "answered from the result cache"
    : "queue " + ms(t.queue_us) + " · decode " + ms(t.preprocess_us) + " · model " + ms(t.inference_us);
  $("timing-roundtrip").textContent = roundTripMs.toFixed(1) + " ms";
  $("cache").textContent = body.cache;
  $("stats").hidden = false;
  setStatus("done", body.model + " (" + body.version + ")");
}

async function classify() {
  if (!current) return;
  const model = $("model").value;
  showError("");
  setStatus("busy", "Classifying with " + (model || "the default model") + "…");
  const started = performance.now();
  try {
    const response = await fetch("/v1/models/" + encodeURIComponent(model) + "/classify?top_k=3", {
      method: "POST", headers: { "Content-Type": "image/jpeg" }, body: current,
    });
    const roundTrip = performance.now() - started;
    let body;
    try { body = await response.json(); } catch { throw new Error("HTTP " + response.status + " without a JSON body"); }
    if (!response.ok) throw new Error(body.status + ": " + body.message);
    render(body, roundTrip);
  } catch (err) {
    clearResults();
    showError(err.message);
  }
}

function choose(file) {
  if (!file) return;
  current = file;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  $("drop").classList.remove("unviewable");
  preview.src = URL.createObjectURL(file);
  $("drop").classList.add("has-image");
  $("filename").textContent = file.name + " · " + size(file.size) + " · click or drop to replace";
  classify();
}

$("file").addEventListener("change", (e) => choose(e.target.files[0]));
$("preview").addEventListener("error", () => $("drop").classList.add("unviewable"));
$("model").addEventListener("change", classify);
const drop = $("drop");
for (const type of ["dragenter", "dragover"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
for (const type of ["dragleave", "drop"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.remove("over"); });
drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));
loadModels();
</script>
</body>
</html>
"""#
}
