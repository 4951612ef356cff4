// Draws a laid-out graph as SVG (one string, set once: thousands of nodes stay quick),
// with pan (drag) and zoom (wheel), and exports the drawing as SVG or PNG.

import { layeredLayout } from "./layout.js";

export const NODE_W = 230;
export const NODE_H = 44;

const STYLE = `
  .node rect { fill: #ffffff; stroke: #8a8f98; stroke-width: 1; rx: 5; }
  .node text { font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; fill: #1d2330; }
  .node text.sub { fill: #4a5262; }
  .node.assign rect { fill: #e3f4e1; stroke: #3d8b37; }
  .node.override rect { fill: #fdebd3; stroke: #c46a00; }
  .node.constant rect { fill: #e5eefb; stroke: #3b6bb5; }
  .node.missing rect { fill: #fbe3e3; stroke: #c62828; stroke-dasharray: 4 2; }
  .node.error rect { fill: #fbe3e3; stroke: #c62828; }
  .node.family rect { fill: #eef0f4; stroke: #6b7280; stroke-dasharray: 2 2; }
  .node.target rect { stroke-width: 3; }
  .node.selected rect { stroke: #7c3aed; stroke-width: 3; }
  .node.lit rect { stroke: #7c3aed; }
  .edge { fill: none; stroke: #9aa3b2; stroke-width: 1; }
  .edge.back { stroke-dasharray: 3 3; stroke: #c46a00; }
  .edge.hot { stroke: #7c3aed; stroke-width: 1.6; }
`;

const escapeXml = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;" }[c]));

const clip = (text, n) => (text.length > n ? text.slice(0, n - 1) + "…" : text);

/**
 * Lay out and draw `nodes` ({id, label, sub, cls, title}) and `edges` ([from, to]) into `svg`.
 * Returns the layout, and the milliseconds spent laying out and building the drawing.
 */
export function drawGraph(svg, nodes, edges, { focus = null } = {}) {
  const started = performance.now();
  const layout = layeredLayout(nodes.map((n) => n.id), edges, { width: NODE_W, height: NODE_H });
  const laidOut = performance.now();
  const parts = [`<style>${STYLE}</style><g class="viewport">`];
  const hot = new Set();
  if (focus) for (const [a, b] of edges) if (a === focus || b === focus) hot.add(`${a}\u0000${b}`);
  for (const [a, b] of edges) {
    const p = layout.positions.get(a), q = layout.positions.get(b);
    if (!p || !q || a === b) continue;
    const key = `${a}\u0000${b}`;
    const x1 = p.x + NODE_W, y1 = p.y + NODE_H / 2, x2 = q.x, y2 = q.y + NODE_H / 2;
    const bend = Math.max(40, Math.abs(x2 - x1) / 2);
    const cls = `edge${layout.back.has(key) ? " back" : ""}${hot.has(key) ? " hot" : ""}`;
    parts.push(`<path class="${cls}" d="M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}"/>`);
  }
  for (const node of nodes) {
    const p = layout.positions.get(node.id);
    parts.push(`<g class="node ${node.cls || ""}" data-id="${escapeXml(node.id)}" transform="translate(${p.x},${p.y})">`
      + `<title>${escapeXml(node.title || node.id)}</title><rect width="${NODE_W}" height="${NODE_H}"/>`
      + `<text x="8" y="17">${escapeXml(clip(node.label, 34))}</text>`
      + `<text class="sub" x="8" y="34">${escapeXml(clip(node.sub || "", 36))}</text></g>`);
  }
  parts.push("</g>");
  svg.innerHTML = parts.join("");
  const pad = 30;
  const minY = Math.min(0, ...[...layout.positions.values()].map((p) => p.y)) - pad;
  svg.dataset.box = JSON.stringify([-pad, minY, layout.width + 2 * pad, layout.height + 2 * pad + NODE_H]);
  fit(svg);
  return { layout, layoutMs: laidOut - started, drawMs: performance.now() - started };
}

/** Show the whole drawing (or, with `center`, the node of that ID at readable size). */
export function fit(svg, center = null) {
  const [x, y, w, h] = JSON.parse(svg.dataset.box || "[0,0,100,100]");
  const box = svg.getBoundingClientRect();
  const aspect = (box.width || 800) / (box.height || 600);
  let view = [x, y, Math.max(w, h * aspect), Math.max(h, w / aspect)];
  if (center) {
    const g = svg.querySelector(`g.node[data-id="${CSS.escape(center)}"]`);
    if (g) {
      const m = g.getAttribute("transform").match(/translate\(([-\d.e]+),([-\d.e]+)\)/);
      const vw = Math.min(view[2], 1300), vh = vw / aspect;   // about four columns: the text stays readable
      const cx = Number(m[1]) + NODE_W / 2, cy = Number(m[2]) + NODE_H / 2;
      // the node sits where it sits in the whole drawing: the target of an upstream cone at the right edge
      const fx = Math.min(0.9, Math.max(0.1, (cx - x) / w)), fy = Math.min(0.9, Math.max(0.1, (cy - y) / h));
      view = [cx - fx * vw, cy - fy * vh, vw, vh];
    }
  }
  svg.setAttribute("viewBox", view.join(" "));
}

/** Drag to pan, wheel to zoom around the pointer. */
export function enablePanZoom(svg) {
  let drag = null;
  const view = () => svg.getAttribute("viewBox").split(" ").map(Number);
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y, w, h] = view();
    const box = svg.getBoundingClientRect();
    const fx = (event.clientX - box.left) / box.width, fy = (event.clientY - box.top) / box.height;
    const k = Math.exp(event.deltaY * 0.0015);
    svg.setAttribute("viewBox", [x + fx * w * (1 - k), y + fy * h * (1 - k), w * k, h * k].join(" "));
  }, { passive: false });
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest("g.node")) return;
    drag = { x: event.clientX, y: event.clientY, view: view() };
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    const [x, y, w, h] = drag.view;
    svg.setAttribute("viewBox", [x - (event.clientX - drag.x) * w / box.width,
      y - (event.clientY - drag.y) * h / box.height, w, h].join(" "));
  });
  svg.addEventListener("pointerup", () => { drag = null; });
}

/** The drawing as a standalone SVG document (the whole graph, not just what is in view). */
export function svgText(svg) {
  const copy = svg.cloneNode(true);
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("viewBox", JSON.parse(svg.dataset.box).join(" "));
  copy.removeAttribute("style");
  return new XMLSerializer().serializeToString(copy);
}

/** The drawing rasterised to a PNG blob (at most 8,000 px a side). */
export function pngBlob(svg) {
  const [, , w, h] = JSON.parse(svg.dataset.box);
  const scale = Math.min(2, 8000 / w, 8000 / h);
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: "image/svg+xml" }));
  return new Promise((resolve, reject) => {
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = Math.ceil(w * scale);
      canvas.height = Math.ceil(h * scale);
      const context = canvas.getContext("2d");
      context.fillStyle = "#ffffff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      canvas.toBlob(resolve, "image/png");
    };
    image.onerror = reject;
    image.src = url;
  });
}

/** Offer `blob` as a download named `name`. */
export function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
