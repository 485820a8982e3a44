// Polychromify page: upload, before/after slider, colour hints (click, drag, right-click to delete),
// palette of likely colours, a reference photo to take colours from, saturation, model choice,
// full-resolution download, the bundled sample photos to try with one click. Plain JS, no CDN.
const $ = (id) => document.getElementById(id);
const state = { file: null, reference: null, width: 0, height: 0, hints: [], resultUrl: null, pending: null, seq: 0 };

function setStatus(text, kind) { $("status").textContent = text; $("status").dataset.state = kind; }

async function loadModels() {
  const res = await fetch("api/models");
  const { models } = await res.json();
  $("model").innerHTML = models.map((m) => `<option value="${m.name}">${m.name} (${m.architecture})</option>`).join("");
}

function pickFile(file) {
  if (!file) return;
  state.file = file; state.hints = [];
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => { state.width = img.naturalWidth; state.height = img.naturalHeight; };
  img.src = url;
  $("before").src = url;
  $("viewer").hidden = false;
  renderHints();
  colorize();
}

// The bundled samples (GET api/samples), a thumbnail button each; a click loads the photo as if uploaded.
async function loadSamples() {
  const res = await fetch("api/samples");
  if (!res.ok) return;
  const { samples } = await res.json();
  for (const s of samples) {
    const url = `samples/${encodeURIComponent(s.name)}`; // relative, like the page's other requests
    const b = document.createElement("button");
    b.type = "button"; b.className = "sample"; b.title = s.title;
    const img = document.createElement("img");
    img.src = url; img.alt = `Sample photo: ${s.title}`; // the button's name, for screen readers
    b.appendChild(img);
    b.onclick = () => pickSample(url, s.name);
    $("sampleList").appendChild(b);
  }
  $("samples").hidden = samples.length === 0;
}

async function pickSample(url, name) {
  setStatus("Loading the sample…", "busy");
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`error ${res.status}`);
    const blob = await res.blob();
    $("file").value = ""; // so that choosing a file next always counts as a change
    pickFile(new File([blob], name, { type: blob.type })); // from here on, just like an upload
  } catch (err) {
    setStatus(`Could not load the sample: ${err}`, "error");
  }
}

function scheduleColorize() { clearTimeout(state.pending); state.pending = setTimeout(colorize, 250); }

async function colorize() {
  if (!state.file) return;
  const seq = ++state.seq;
  const form = new FormData();
  form.append("image", state.file);
  form.append("hints", JSON.stringify(state.hints.map(({ x, y, color }) => ({ x, y, color }))));
  if (state.reference) { form.append("reference", state.reference); form.append("reference_strength", $("refStrength").value); }
  form.append("saturation", $("saturation").value);
  form.append("model", $("model").value || "default");
  setStatus("Colorizing…", "busy");
  $("download").classList.add("disabled");
  try {
    const res = await fetch("api/colorize", { method: "POST", body: form });
    if (seq !== state.seq) return; // a newer request is on its way
    if (!res.ok) { setStatus((await res.json()).error || `error ${res.status}`, "error"); return; }
    const blob = await res.blob();
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = URL.createObjectURL(blob);
    $("after").src = state.resultUrl;
    await $("after").decode();
    $("download").href = state.resultUrl;
    $("download").classList.remove("disabled");
    state.done = (state.done || 0) + 1;
    const ref = state.reference ? ", colours from the reference" : "";
    setStatus(`Done: ${state.width}×${state.height}, ${state.hints.length} hint(s)${ref}.`, "done");
    $("status").dataset.results = String(state.done);
  } catch (err) {
    setStatus(`Network error: ${err}`, "error");
  }
}

function toImageCoords(ev) {
  const r = $("after").getBoundingClientRect();
  return { x: Math.round(((ev.clientX - r.left) / r.width) * state.width),
           y: Math.round(((ev.clientY - r.top) / r.height) * state.height) };
}

function renderHints() {
  const r = $("after").getBoundingClientRect();
  $("markers").innerHTML = "";
  $("hints").innerHTML = "";
  state.hints.forEach((h, i) => {
    const m = document.createElement("div");
    m.className = "marker";
    m.style.background = h.color;
    m.style.left = `${(h.x / state.width) * r.width}px`;
    m.style.top = `${(h.y / state.height) * r.height}px`;
    m.oncontextmenu = (ev) => { ev.preventDefault(); state.hints.splice(i, 1); renderHints(); scheduleColorize(); };
    m.onpointerdown = (ev) => {
      ev.stopPropagation(); m.setPointerCapture(ev.pointerId);
      m.onpointermove = (mv) => { Object.assign(h, toImageCoords(mv)); renderHintsLater(); };
      m.onpointerup = () => { m.onpointermove = null; renderHints(); scheduleColorize(); };
    };
    $("markers").appendChild(m);
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch" style="background:${h.color}"></span>(${h.x}, ${h.y}) <button type="button">✕</button>`;
    li.querySelector("button").onclick = () => { state.hints.splice(i, 1); renderHints(); scheduleColorize(); };
    $("hints").appendChild(li);
  });
}
let raf = 0;
function renderHintsLater() { cancelAnimationFrame(raf); raf = requestAnimationFrame(renderHints); }

async function showPalette(x, y) {
  const form = new FormData();
  form.append("image", state.file); form.append("x", x); form.append("y", y);
  form.append("model", $("model").value || "default");
  const res = await fetch("api/palette", { method: "POST", body: form });
  if (!res.ok) { $("palette").innerHTML = ""; return; }
  const { colors } = await res.json();
  $("palette").innerHTML = "";
  colors.forEach((c) => {
    const b = document.createElement("button");
    b.type = "button"; b.style.background = c; b.title = c;
    b.onclick = () => { $("color").value = c; const last = state.hints[state.hints.length - 1];
      if (last) { last.color = c; renderHints(); scheduleColorize(); } };
    $("palette").appendChild(b);
  });
}

$("markers").addEventListener("click", (ev) => {
  if (!state.file || !state.width) return;
  const { x, y } = toImageCoords(ev);
  state.hints.push({ x, y, color: $("color").value });
  renderHints();
  colorize();
  showPalette(x, y);
});
$("slider").addEventListener("input", (ev) => { $("beforeWrap").style.width = `${ev.target.value}%`; });
$("after").addEventListener("load", () => {
  $("before").style.width = `${$("after").getBoundingClientRect().width}px`; renderHints();
});
$("saturation").addEventListener("input", (ev) => { $("satValue").textContent = Number(ev.target.value).toFixed(2); scheduleColorize(); });
$("model").addEventListener("change", colorize);
$("clearHints").addEventListener("click", () => { state.hints = []; renderHints(); colorize(); });
$("file").addEventListener("change", (ev) => pickFile(ev.target.files[0]));
function pickReference(file) {
  state.reference = file || null;
  if (file) $("refThumb").src = URL.createObjectURL(file);
  $("refBox").hidden = !file;
  if (!file) $("reference").value = "";
  colorize();
}
$("reference").addEventListener("change", (ev) => pickReference(ev.target.files[0]));
$("clearReference").addEventListener("click", () => pickReference(null));
$("refStrength").addEventListener("input", scheduleColorize);
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => { ev.preventDefault(); drop.classList.remove("over"); pickFile(ev.dataTransfer.files[0]); });
loadModels();
loadSamples();
