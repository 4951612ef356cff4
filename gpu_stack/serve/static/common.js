// What the three views share: the API calls, number formatting, the chosen presets, the permalink.

/** GET or POST JSON to the API; a 4xx/5xx answer throws an Error carrying the server's message. */
export async function api(path, body = undefined, { signal } = {}) {
  const response = await fetch(path, body === undefined ? { signal } : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal,
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

/** A number at 6 significant digits, plain when it reads well, else in exponent form. */
export function formatNumber(value) {
  if (value === null || value === undefined) return "—";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e9) return Number(value.toPrecision(6)).toLocaleString("en-US", { maximumFractionDigits: 6 });
  return value.toExponential(5);
}

export function formatValue(value, unit) {
  return `${formatNumber(value)}${unit && unit !== "1" ? " " + unit : ""}`;
}

export const escapeHtml = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;",
  ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

/** Shared state of the page; every view reads the presets from here and writes its part of the permalink. */
export const state = {
  meta: null,
  presets: [],
  view: "cone",
  listeners: [],
  onPresets(listener) { this.listeners.push(listener); },
  setPresets(presets) {
    this.presets = presets;
    writeHash({ presets: presets.join(",") });
    for (const listener of this.listeners) listener(presets);
  },
};

/** The permalink's fields: view, presets, target, dir, open (expanded nodes), assign, lab values. */
export function readHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}

export function writeHash(fields) {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  history.replaceState(null, "", "#" + params.toString());
}

/** Show an error under a view (the server's message, as the CLI would print it). */
export function showError(element, error) {
  element.textContent = error ? `error: ${error.message || error}` : "";
  element.hidden = !error;
}
