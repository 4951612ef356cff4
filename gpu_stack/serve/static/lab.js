// The scenario lab: the inputs with the largest elasticities as sliders and number fields, every
// headline output updated live against the baseline; pin an output and free an input (an inverse
// solve); keep a state as A to compare side by side; export the state as a scenario file.

import { api, escapeHtml, formatNumber, formatValue, readHash, showError, state, writeHash } from "./common.js";

const lab = { description: null, values: {}, baseline: {}, outputs: {}, kept: null, busy: false, dirty: false };
const timings = { lastUpdateMs: null, updates: 0 };
let errorBox;

const inputOf = (id) => lab.description.inputs.find((item) => item.id === id);

function changed() {
  // the values that differ from the presets' own: what a scenario file needs to carry
  return Object.fromEntries(Object.entries(lab.values).filter(([id, v]) => {
    const input = inputOf(id);
    return !input || input.value !== v;
  }));
}

function drawInputs() {
  document.getElementById("lab-inputs").innerHTML = lab.description.inputs.map((input) => {
    const step = input.integer ? 1 : (input.max - input.min) / 1000 || "any";
    return `<div class="input-row" data-id="${escapeHtml(input.id)}">
      <label title="${escapeHtml(input.description)}"><b>${escapeHtml(input.id)}</b>
        <small>${escapeHtml(input.unit)} · elasticity ${input.elasticity.toFixed(3)}</small></label>
      <input type="range" class="slider" min="${input.min}" max="${input.max}" step="${step}">
      <input type="number" class="number" step="any" min="${input.min}" max="${input.max}">
      <small class="bounds">${formatNumber(input.min)} … ${formatNumber(input.max)}</small>
    </div>`;
  }).join("");
  for (const input of lab.description.inputs) setInput(input.id, lab.values[input.id]);
  const options = (items) => items.map((item) => `<option value="${escapeHtml(item.id)}">${escapeHtml(item.id)}</option>`).join("");
  document.getElementById("pin-output").innerHTML = options(lab.description.outputs);
  document.getElementById("free-input").innerHTML = options(lab.description.inputs);
}

function setInput(id, value) {
  const row = document.querySelector(`.input-row[data-id="${CSS.escape(id)}"]`);
  if (!row) return;
  const slider = row.querySelector(".slider");
  if (value < Number(slider.min)) slider.min = String(value);
  if (value > Number(slider.max)) slider.max = String(value);
  slider.value = String(value);
  row.querySelector(".number").value = String(value);
}

function drawOutputs() {
  const kept = lab.kept;
  document.getElementById("lab-head").innerHTML = `<tr><th>output</th><th>now</th><th>baseline</th><th>change</th>`
    + (kept ? `<th>A (${escapeHtml(kept.presets.join(", ") || "no presets")})</th><th>now vs A</th>` : "") + "</tr>";
  const percent = (a, b) => (b ? `${(100 * (a - b) / Math.abs(b)).toFixed(2)}%` : "—");
  document.getElementById("lab-outputs").innerHTML = lab.description.outputs.map((output) => {
    const now = lab.outputs[output.id], base = output.baseline;
    const a = kept ? kept.outputs[output.id] : undefined;
    const moved = Math.abs(now - base) > 1e-12 * Math.abs(base);
    return `<tr data-id="${escapeHtml(output.id)}"${moved ? ' class="moved"' : ""}>
      <td title="${escapeHtml(output.description)}">${escapeHtml(output.id)}</td>
      <td class="now" data-value="${now}">${escapeHtml(formatValue(now, output.unit))}</td>
      <td>${escapeHtml(formatValue(base, output.unit))}</td><td class="change">${percent(now, base)}</td>
      ${kept ? `<td class="kept" data-value="${a ?? ""}">${a === undefined ? "—" : escapeHtml(formatValue(a, output.unit))}</td>
        <td>${a === undefined ? "—" : percent(now, a)}</td>` : ""}</tr>`;
  }).join("");
}

/** Ask for new outputs; at most one request in flight, the latest values win. */
async function update(started = performance.now()) {
  if (lab.busy) { lab.dirty = true; return; }
  lab.busy = true;
  try {
    const answer = await api("/api/lab/evaluate", { presets: state.presets, values: lab.values });
    lab.outputs = answer.outputs;
    drawOutputs();
    showError(errorBox, null);
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    timings.lastUpdateMs = performance.now() - started;
    timings.updates += 1;
    document.getElementById("lab-status").textContent = `updated in ${timings.lastUpdateMs.toFixed(0)} ms`;
    document.getElementById("lab-status").dataset.updates = String(timings.updates);
  } catch (error) { showError(errorBox, error); }
  lab.busy = false;
  writeHash({ lab: Object.entries(changed()).map(([id, v]) => `${id}:${v}`).join(",") });
  if (lab.dirty) { lab.dirty = false; update(); }
}

async function solve() {
  const result = document.getElementById("solve-result");
  const pin = document.getElementById("pin-output").value, free = document.getElementById("free-input").value;
  const pinValue = Number(document.getElementById("pin-value").value);
  result.textContent = "solving…";
  try {
    const answer = await api("/api/lab/solve", { presets: state.presets, values: lab.values, pin, pin_value: pinValue, free });
    if (answer.status === "ok") {
      lab.values[free] = answer.free.value;
      setInput(free, answer.free.value);
      result.innerHTML = `ok: <b class="solved" data-value="${answer.free.value}">${escapeHtml(free)} = `
        + `${escapeHtml(formatValue(answer.free.value, answer.free.unit))}</b> holds ${escapeHtml(pin)} at ${formatNumber(pinValue)}`;
      await update();
    } else {
      result.innerHTML = `<span class="status-${escapeHtml(answer.status)}">${escapeHtml(answer.status)}</span>: ${escapeHtml(answer.message)}`
        + (answer.conflicting_constraints.length ? `<br>conflicting: ${escapeHtml(answer.conflicting_constraints.join(", "))}` : "");
    }
  } catch (error) { result.textContent = `error: ${error.message}`; }
}

async function exportState() {
  const answer = await api("/api/lab/export", { presets: state.presets, values: changed() });
  document.getElementById("export-toml").textContent = answer.toml;
  const link = document.getElementById("export-download");
  link.href = URL.createObjectURL(new Blob([answer.toml], { type: "application/toml" }));
  link.hidden = false;
}

export async function loadLab() {
  showError(errorBox, null);
  document.getElementById("lab-status").textContent = "compiling…";
  try {
    lab.description = await api("/api/lab", { presets: state.presets });
    lab.values = Object.fromEntries(lab.description.inputs.map((input) => [input.id, input.value]));
    for (const pair of (readHash().lab || "").split(",").filter(Boolean)) {
      const at = pair.lastIndexOf(":");
      lab.values[pair.slice(0, at)] = Number(pair.slice(at + 1));
    }
    lab.outputs = Object.fromEntries(lab.description.outputs.map((o) => [o.id, o.baseline]));
    drawInputs();
    drawOutputs();
    document.getElementById("pin-value").value = String(lab.description.outputs[0].baseline);
    await update();
  } catch (error) { showError(errorBox, error); document.getElementById("lab-status").textContent = ""; }
}

export function initLab() {
  errorBox = document.getElementById("lab-error");
  const inputs = document.getElementById("lab-inputs");
  inputs.addEventListener("input", (event) => {
    const row = event.target.closest(".input-row");
    if (!row) return;
    const started = performance.now();
    const value = Number(event.target.value);
    if (event.target.classList.contains("slider")) row.querySelector(".number").value = event.target.value;
    else if (Number.isFinite(value)) row.querySelector(".slider").value = event.target.value;
    if (!Number.isFinite(value) || event.target.value === "") return;
    lab.values[row.dataset.id] = value;
    update(started);
  });
  document.getElementById("pin-output").addEventListener("change", (event) => {
    document.getElementById("pin-value").value = String(lab.outputs[event.target.value]);
  });
  document.getElementById("solve").addEventListener("click", solve);
  document.getElementById("keep-a").addEventListener("click", () => {
    lab.kept = { presets: [...state.presets], values: { ...lab.values }, outputs: { ...lab.outputs } };
    drawOutputs();
  });
  document.getElementById("clear-a").addEventListener("click", () => { lab.kept = null; drawOutputs(); });
  document.getElementById("reset").addEventListener("click", () => {
    lab.values = Object.fromEntries(lab.description.inputs.map((input) => [input.id, input.value]));
    for (const input of lab.description.inputs) setInput(input.id, input.value);
    update();
  });
  document.getElementById("export").addEventListener("click", () => exportState().catch((e) => showError(errorBox, e)));
  document.getElementById("to-cone").addEventListener("click", () => {
    // the permalink of the cone viewer carries the lab's values as assignments
    const assign = Object.entries(changed()).map(([id, v]) => `${id}:${v}`).join(",");
    const target = document.getElementById("pin-output").value || lab.description.outputs[0].id;
    location.hash = new URLSearchParams({ view: "cone", presets: state.presets.join(","), target, assign }).toString();
    location.reload();
  });
  state.onPresets(() => { if (lab.description) { writeHash({ lab: "" }); loadLab(); } });
}

export { timings as labTimings, lab as labState };
