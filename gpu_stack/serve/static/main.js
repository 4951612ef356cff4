// The page: three views (cone viewer, stack atlas, scenario lab) over one set of presets.

import { api, readHash, state, writeHash } from "./common.js";
import { coneTimings, coneView, drawForBenchmark, initCone } from "./cone.js";
import { initAtlas, loadAtlas } from "./atlas.js";
import { initLab, labState, labTimings, loadLab } from "./lab.js";

const loaded = new Set();

function show(view) {
  state.view = view;
  for (const section of document.querySelectorAll("main > section.view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll("nav button[data-view]")) tab.classList.toggle("active", tab.dataset.view === view);
  writeHash({ view });
  if (!loaded.has(view)) {
    loaded.add(view);
    if (view === "atlas") loadAtlas();
    if (view === "lab") loadLab();
  }
}

async function start() {
  state.meta = await api("/api/meta");
  const hash = readHash();
  const known = new Set(state.meta.scenarios.map((s) => s.id));
  state.presets = hash.presets !== undefined ? hash.presets.split(",").filter((p) => known.has(p)) : state.meta.default_presets;
  const picker = document.getElementById("presets");
  picker.innerHTML = state.meta.scenarios.map((s) => `<option value="${s.id}" title="${s.kind}: ${s.description.replace(/"/g, "&quot;")}"`
    + `${state.presets.includes(s.id) ? " selected" : ""}>${s.id} (${s.kind})</option>`).join("");
  document.getElementById("apply-presets").addEventListener("click", () => {
    state.setPresets([...picker.selectedOptions].map((o) => o.value));
    document.getElementById("preset-summary").textContent = state.presets.join(", ") || "no presets";
  });
  document.getElementById("preset-summary").textContent = state.presets.join(", ") || "no presets";
  writeHash({ presets: state.presets.join(",") });
  initCone();
  initAtlas();
  initLab();
  for (const tab of document.querySelectorAll("nav button[data-view]")) tab.addEventListener("click", () => show(tab.dataset.view));
  show(hash.view || "cone");
  document.body.dataset.ready = "1";
}

// for benchmarks and browser tests: timings the views record, and a drawing entry point
window.gpuStack = { coneTimings, coneView, labTimings, labState, drawForBenchmark, state };

start().catch((error) => { document.getElementById("fatal").textContent = `error: ${error.message}`; });
