// The cone viewer: search a variable, expand what it depends on (up) or what depends on it (down),
// one step or all at once; each node shows its value under the presets and where it comes from.
// Large views collapse into families (an ID without its last segment) except around the focus.

import { api, escapeHtml, formatValue, readHash, showError, state, writeHash } from "./common.js";
import { download, drawGraph, enablePanZoom, fit, pngBlob, svgText } from "./graph.js";
import { ranks } from "./layout.js";

const AUTO_COLLAPSE = 150;     // above this many visible variables, families fold (focus + context)
const family = (id) => id.slice(0, id.lastIndexOf("."));
const SOURCE_WORDS = { equation: "equation", assign: "assigned", override: "override", constant: "constant",
  missing: "missing root", error: "error" };

const view = {
  target: null, selected: null, store: new Map(), preds: new Map(), succs: new Map(),
  fetchedUp: new Set(), fetchedDown: new Set(), visible: new Set(), openFamilies: new Set(),
  steps: [], assign: {}, collapse: "auto",
};
const timings = { lastDrawMs: null, lastLayoutMs: null, lastNodes: 0, lastTotalMs: null };

let svg, details, errorBox;

function link(map, a, b) {
  if (!map.has(a)) map.set(a, new Set());
  map.get(a).add(b);
}

function merge(cone) {
  for (const node of cone.nodes) view.store.set(node.id, node);
  for (const edge of cone.edges) { link(view.preds, edge.to, edge.from); link(view.succs, edge.from, edge.to); }
  const done = cone.direction === "up" ? view.fetchedUp : view.fetchedDown;
  for (const node of cone.nodes) done.add(node.id);
}

async function fetchCone(id, direction) {
  merge(await api("/api/cone", { target: id, direction, presets: state.presets, assign: view.assign }));
}

function walk(start, map, all) {
  const seen = new Set([start]);
  let frontier = [start];
  while (frontier.length) {
    const next = [];
    for (const v of frontier) for (const w of map.get(v) || []) if (!seen.has(w)) { seen.add(w); next.push(w); }
    if (!all) { next.forEach((w) => view.visible.add(w)); break; }
    frontier = next;
  }
  if (all) seen.forEach((w) => view.visible.add(w));
}

/** Expand a node: kind "u"/"U" up one step/all, "d"/"D" down one step/all, "h" hide. */
async function expand(id, kind) {
  if (kind === "h") { if (id !== view.target) view.visible.delete(id); }
  else {
    const up = kind === "u" || kind === "U";
    if (up && !view.fetchedUp.has(id)) await fetchCone(id, "up");
    if (!up && !view.fetchedDown.has(id)) await fetchCone(id, "down");
    walk(id, up ? view.preds : view.succs, kind === "U" || kind === "D");
  }
  view.steps.push(`${kind}:${id}`);
}

function visibleEdges() {
  const edges = [];
  for (const b of view.visible) for (const a of view.preds.get(b) || []) if (view.visible.has(a) && a !== b) edges.push([a, b]);
  return edges;
}

/** The boxes to draw. Folded, the variables of one family in one column share a box (a family spans several
 *  columns, so folding whole families would tie the drawing into loops); the target, the selection and its
 *  neighbours stay single (focus + context). */
function displayGraph() {
  const visible = [...view.visible];
  const edges = visibleEdges();
  const fold = view.collapse === "on" || (view.collapse === "auto" && visible.length > AUTO_COLLAPSE);
  const keep = new Set([view.target, view.selected]);
  for (const map of [view.preds, view.succs]) for (const w of map.get(view.selected) || []) keep.add(w);
  const column = fold ? ranks(visible, edges) : null;
  const boxOf = (id) => `family:${family(id)}@${column.get(id)}`;
  const members = new Map();
  if (fold) for (const id of visible) {
    if (keep.has(id) || view.openFamilies.has(family(id))) continue;
    if (!members.has(boxOf(id))) members.set(boxOf(id), []);
    members.get(boxOf(id)).push(id);
  }
  const boxed = new Map();   // variable → its shared box (boxes of one are not boxes)
  for (const [box, list] of members) if (list.length > 1) for (const id of list) boxed.set(id, box);
  const rep = (id) => boxed.get(id) || id;
  const nodes = [], seen = new Set();
  for (const id of visible) {
    const r = rep(id);
    if (seen.has(r)) continue;
    seen.add(r);
    if (r !== id) {
      const list = members.get(r);
      nodes.push({ id: r, label: `${family(id)}.* (${list.length})`, sub: "click to open the family", cls: "family",
        title: list.join("\n") });
      continue;
    }
    const node = view.store.get(id);
    const source = node.source === "missing" && node.boundary ? `missing (${node.boundary})` : SOURCE_WORDS[node.source];
    nodes.push({ id, label: id, sub: `${node.value === null ? "—" : formatValue(node.value, node.unit)} · ${source}`,
      cls: `${node.source}${id === view.target ? " target" : ""}${id === view.selected ? " selected" : ""}`,
      title: `${id}\n${node.description}` });
  }
  const shown = [], pairs = new Set();
  for (const [a, b] of edges) {
    const ra = rep(a), rb = rep(b), key = `${ra}\u0000${rb}`;
    if (ra === rb || pairs.has(key)) continue;
    pairs.add(key);
    shown.push([ra, rb]);
  }
  return { nodes, edges: shown, folded: fold };
}

function render({ center = false } = {}) {
  const started = performance.now();
  const { nodes, edges, folded } = displayGraph();
  const result = drawGraph(svg, nodes, edges, { focus: view.selected });
  timings.lastDrawMs = result.drawMs;
  timings.lastLayoutMs = result.layoutMs;
  timings.lastNodes = nodes.length;
  if (center && view.selected) fit(svg, view.selected);
  document.getElementById("cone-status").textContent =
    `${view.target}: ${view.visible.size} variables shown${folded ? ` (${nodes.length} boxes, families folded)` : ""}`
    + `${Object.keys(view.assign).length ? ` · with ${Object.keys(view.assign).length} assigned: `
      + Object.entries(view.assign).map(([id, v]) => `${id} = ${v}`).join(", ") : ""}`
    + ` · drawn in ${result.drawMs.toFixed(0)} ms`;
  svg.dataset.drawn = String(Number(svg.dataset.drawn || 0) + 1);
  writeHash({ view: "cone", target: view.target, open: view.steps.join(","), collapse: view.collapse === "auto" ? "" : view.collapse,
    assign: Object.entries(view.assign).map(([id, v]) => `${id}:${v}`).join(",") });
  return performance.now() - started;
}

/** Readable equation: IDs become links, `**` a superscript caret, `*` a middle dot. */
function equationHtml(eq) {
  return escapeHtml(eq).replace(/([A-Za-z_][\w]*(?:\.[\w]+)+)|\*\*|\*/g, (match, ident) => {
    if (ident) return `<a href="#" class="ref-id" data-id="${ident}">${ident}</a>`;
    return match === "**" ? "^" : "·";
  });
}

function showDetails(id) {
  const node = view.store.get(id);
  if (!node) { details.innerHTML = ""; return; }
  const refs = node.refs.map((r) => `<li><b>${escapeHtml(r.key)}</b>${r.place ? `, ${escapeHtml(r.place)}` : ""}: `
    + `${escapeHtml(r.title)}${r.year ? ` (${escapeHtml(r.year)})` : ""}`
    + `${r.at_place ? `<br><i>“${escapeHtml(r.at_place)}”</i>` : ""}</li>`).join("");
  details.innerHTML = `
    <h3 class="node-id">${escapeHtml(id)}</h3>
    <p>${escapeHtml(node.description)}</p>
    <dl>
      <dt>value</dt><dd class="node-value" data-value="${node.value ?? ""}">${node.value === null ? "—" : escapeHtml(formatValue(node.value, node.unit))}</dd>
      <dt>unit</dt><dd>${escapeHtml(node.unit)}</dd>
      <dt>source</dt><dd class="node-source">${escapeHtml(SOURCE_WORDS[node.source])}${node.origin ? ` (${escapeHtml(node.origin)})` : ""}</dd>
      ${node.boundary ? `<dt>boundary</dt><dd>${escapeHtml(node.boundary)}</dd>` : ""}
      ${node.equation ? `<dt>equation</dt><dd><code class="eq">${equationHtml(node.equation.eq)}</code><br>
        <small>${escapeHtml(node.equation.id)}${node.source === "override" ? " (cut by the override)" : ""}</small></dd>
        <dt>unit check</dt><dd>${escapeHtml(node.equation.unit_check)}</dd>` : ""}
      ${node.error ? `<dt>error</dt><dd>${escapeHtml(node.error)}</dd>` : ""}
    </dl>
    <div class="buttons">
      <button data-do="u">up 1</button><button data-do="U">up all</button>
      <button data-do="d">down 1</button><button data-do="D">down all</button>
      <button data-do="h">hide</button><button data-do="t">make target</button>
    </div>
    ${refs ? `<h4>references</h4><ul class="refs">${refs}</ul>` : "<p><i>no references</i></p>"}`;
}

async function select(id, { center = false } = {}) {
  view.selected = id;
  showDetails(id);
  render({ center });
}

async function act(kind) {
  if (!view.selected) return;
  showError(errorBox, null);
  try {
    if (kind === "t") { await setTarget(view.selected); return; }
    const started = performance.now();
    await expand(view.selected, kind);
    render({ center: true });
    timings.lastTotalMs = performance.now() - started;
  } catch (error) { showError(errorBox, error); }
}

/** Open `id` as the new target: its node alone, ready to expand. */
export async function setTarget(id, steps = []) {
  showError(errorBox, null);
  Object.assign(view, { target: id, selected: id, store: new Map(), preds: new Map(), succs: new Map(),
    fetchedUp: new Set(), fetchedDown: new Set(), visible: new Set([id]), openFamilies: new Set(), steps: [] });
  try {
    await fetchCone(id, "up");
    for (const step of steps) {
      const [kind, ...rest] = step.split(":");
      const node = rest.join(":");
      if (view.store.has(node) || kind !== "h") await expand(node, kind);
    }
    document.getElementById("search").value = id;
    showDetails(id);
    render({ center: true });
  } catch (error) { showError(errorBox, error); }
}

async function search(text) {
  const box = document.getElementById("matches");
  if (!text.trim()) { box.innerHTML = ""; return; }
  const { matches } = await api(`/api/search?q=${encodeURIComponent(text)}`);
  box.innerHTML = matches.map((m) => `<button class="match" data-id="${escapeHtml(m.id)}"><b>${escapeHtml(m.id)}</b>`
    + ` <span>${escapeHtml(m.unit)}</span><br><small>${escapeHtml(m.description)}</small></button>`).join("");
}

export function initCone() {
  svg = document.getElementById("cone-svg");
  details = document.getElementById("cone-details");
  errorBox = document.getElementById("cone-error");
  enablePanZoom(svg);
  const input = document.getElementById("search");
  let timer = null;
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search(input.value).catch((e) => showError(errorBox, e)), 60); });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const first = document.querySelector("#matches .match");
    if (first) first.click();
  });
  document.getElementById("matches").addEventListener("click", (event) => {
    const button = event.target.closest(".match");
    if (!button) return;
    document.getElementById("matches").innerHTML = "";
    setTarget(button.dataset.id);
  });
  svg.addEventListener("click", (event) => {
    const g = event.target.closest("g.node");
    if (!g) return;
    const id = g.dataset.id;
    if (id.startsWith("family:")) { view.openFamilies.add(id.slice(7, id.lastIndexOf("@"))); render(); return; }
    select(id);
  });
  svg.addEventListener("dblclick", (event) => {
    const g = event.target.closest("g.node");
    if (g && !g.dataset.id.startsWith("family:")) { view.selected = g.dataset.id; act("u"); }
  });
  details.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-do]");
    if (button) { act(button.dataset.do); return; }
    const ref = event.target.closest("a.ref-id");
    if (ref) {
      event.preventDefault();
      if (view.store.has(ref.dataset.id)) { view.visible.add(ref.dataset.id); select(ref.dataset.id, { center: true }); }
      else setTarget(ref.dataset.id);
    }
  });
  for (const button of document.querySelectorAll("#cone-toolbar button[data-do]")) {
    button.addEventListener("click", () => act(button.dataset.do));
  }
  document.getElementById("collapse").addEventListener("change", (event) => { view.collapse = event.target.value; render(); });
  document.getElementById("fit").addEventListener("click", () => fit(svg));
  document.getElementById("export-svg").addEventListener("click", () =>
    download(new Blob([svgText(svg)], { type: "image/svg+xml" }), `${view.target}.svg`));
  document.getElementById("export-png").addEventListener("click", async () => download(await pngBlob(svg), `${view.target}.png`));
  state.onPresets(() => { if (view.target) setTarget(view.target, view.steps); });
  const hash = readHash();
  view.collapse = hash.collapse || "auto";
  document.getElementById("collapse").value = view.collapse;
  view.assign = Object.fromEntries((hash.assign || "").split(",").filter(Boolean).map((pair) => {
    const at = pair.lastIndexOf(":");
    return [pair.slice(0, at), Number(pair.slice(at + 1))];
  }));
  if (hash.target) setTarget(hash.target, (hash.open || "").split(",").filter(Boolean));
}

/** For benchmarks and tests: draw any graph in the cone's canvas and time it. */
export function drawForBenchmark(nodes, edges) {
  return drawGraph(svg, nodes, edges);
}

export { timings as coneTimings, view as coneView };
