// The stack atlas: the registry's layers top (money) to bottom (atoms), each with its variables as
// small squares, its open root debt and its headline outputs. Selecting an output lights its cone in
// every layer and shows each layer's share of the output's elasticity (|d ln out / d ln input| summed).

import { api, escapeHtml, readHash, showError, state, writeHash } from "./common.js";

let root, errorBox, data = null;

function draw(light = null) {
  const lit = new Set(light ? light.members : []);
  root.innerHTML = data.layers.map((layer) => {
    const inCone = layer.variables.filter((v) => lit.has(v)).length;
    const share = light && light.shares[layer.key] ? light.shares[layer.key] : 0;
    const cells = layer.variables.map((v) => `<i class="cell${lit.has(v) ? " lit" : ""}" title="${escapeHtml(v)}"></i>`).join("");
    const outputs = layer.outputs.map((o) => `<button class="output${light && light.output === o ? " chosen" : ""}" `
      + `data-id="${escapeHtml(o)}">${escapeHtml(o)}</button>`).join("");
    return `<section class="layer${inCone ? " in-cone" : ""}" data-layer="${escapeHtml(layer.key)}">
      <header><h3>${escapeHtml(layer.label)}</h3><code>${escapeHtml(layer.key)}.*</code>
        <span>${layer.variables.length} variables</span>
        <span class="debt" title="debt roots the presets leave open">root debt ${layer.root_debt}</span>
        ${light ? `<span class="cone-count">${inCone} in the cone</span>
          <span class="share" data-share="${share}">elasticity share ${(100 * share).toFixed(1)}%
          <b style="width:${(100 * share).toFixed(1)}%"></b></span>` : ""}</header>
      <div class="cells">${cells}</div>
      ${outputs ? `<div class="outputs">${outputs}</div>` : ""}
    </section>`;
  }).join("");
  const note = document.getElementById("atlas-note");
  note.textContent = light ? (light.note ? `no elasticities: ${light.note}` :
    `${light.members.length} variables in the cone of ${light.output}; top inputs: `
    + light.top_inputs.slice(0, 5).map((r) => `${r.id} (${r.elasticity.toFixed(2)})`).join(", ")) : "pick an output to light its cone";
}

async function choose(output) {
  showError(errorBox, null);
  try {
    draw(await api("/api/atlas/light", { output, presets: state.presets }));
    writeHash({ view: "atlas", output });
  } catch (error) { showError(errorBox, error); }
}

export async function loadAtlas() {
  showError(errorBox, null);
  try {
    data = await api("/api/atlas", { presets: state.presets });
    draw();
    const { output } = readHash();
    if (output) await choose(output);
  } catch (error) { showError(errorBox, error); }
}

export function initAtlas() {
  root = document.getElementById("atlas-layers");
  errorBox = document.getElementById("atlas-error");
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button.output");
    if (button) choose(button.dataset.id);
  });
  state.onPresets(() => { if (data) loadAtlas(); });
}
