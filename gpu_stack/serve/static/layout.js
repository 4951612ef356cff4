// A layered layout of a directed graph, left (inputs) to right (outputs).
//
// Sugiyama's frame, kept small: (1) cycles broken by reversing the back edges
// of a depth-first walk, (2) longest-path layering (a node one column right
// of its farthest input, or, when the graph has fewer sinks than sources,
// one column left of its nearest reader), (3) barycentric ordering within each column,
// sweeping right then left a few times (each node moves to the mean
// position of its neighbours), (4) columns centred vertically. No dummy
// nodes for long edges: they are drawn as curves across the columns.
// Runs in O(sweeps · (V log V + E)); 2,500 nodes take a few milliseconds.

/**
 * Steps (1) and (2): the column of every node.
 * @param {string[]} ids node IDs
 * @param {Array<[string, string]>} edges [from, to] pairs (unknown ends are ignored)
 */
export function rankNodes(ids, edges) {
  const n = ids.length;
  const index = new Map(ids.map((id, i) => [id, i]));
  const succ = Array.from({ length: n }, () => []);
  const pred = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    const i = index.get(a), j = index.get(b);
    if (i === undefined || j === undefined || i === j) continue;
    succ[i].push(j);
    pred[j].push(i);
  }
  // (1) back edges of an iterative depth-first walk
  const state = new Uint8Array(n);          // 0 unseen, 1 on the stack, 2 done
  const back = new Set();
  for (let s = 0; s < n; s++) {
    if (state[s]) continue;
    const stack = [[s, 0]];
    state[s] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [v, k] = top;
      if (k < succ[v].length) {
        top[1]++;
        const w = succ[v][k];
        if (state[w] === 1) back.add(v * n + w);
        else if (state[w] === 0) { state[w] = 1; stack.push([w, 0]); }
      } else {
        state[v] = 2;
        stack.pop();
      }
    }
  }
  const forward = (v, w) => !back.has(v * n + w);
  // (2) longest-path layering over the forward edges (Kahn's order)
  const waiting = new Int32Array(n);
  for (let v = 0; v < n; v++) for (const w of succ[v]) if (forward(v, w)) waiting[w]++;
  const queue = [];
  for (let v = 0; v < n; v++) if (!waiting[v]) queue.push(v);
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head];
    for (const w of succ[v]) if (forward(v, w) && --waiting[w] === 0) queue.push(w);
  }
  // Longest path from the sources (a node just right of its farthest input) suits a graph with few
  // sources, a downstream cone; longest path to the sinks (just left of its nearest reader) suits one
  // with few sinks, an upstream cone: an input then sits beside the variable it feeds.
  let sources = 0, sinks = 0;
  for (let v = 0; v < n; v++) {
    if (!pred[v].some((u) => forward(u, v))) sources++;
    if (!succ[v].some((w) => forward(v, w))) sinks++;
  }
  const rank = new Int32Array(n);
  if (sinks < sources) {
    const height = new Int32Array(n);
    for (let k = queue.length - 1; k >= 0; k--) {
      const v = queue[k];
      for (const w of succ[v]) if (forward(v, w) && height[w] + 1 > height[v]) height[v] = height[w] + 1;
    }
    const top = n ? Math.max(...height) : 0;
    for (let v = 0; v < n; v++) rank[v] = top - height[v];
  } else {
    for (const v of queue) for (const w of succ[v]) if (forward(v, w) && rank[v] + 1 > rank[w]) rank[w] = rank[v] + 1;
  }
  return { n, index, succ, pred, back, forward, rank, order: queue };
}

/** A node's column for every ID: rankNodes as a Map. */
export function ranks(ids, edges) {
  const { rank } = rankNodes(ids, edges);
  return new Map(ids.map((id, i) => [id, rank[i]]));
}

/**
 * @param {string[]} ids node IDs
 * @param {Array<[string, string]>} edges [from, to] pairs (unknown ends are ignored)
 * @param {{width?: number, height?: number, gapX?: number, gapY?: number, sweeps?: number}} options
 * @returns {{positions: Map<string, {x: number, y: number, layer: number}>, back: Set<string>,
 *            width: number, height: number, layers: number}}
 */
export function layeredLayout(ids, edges, options = {}) {
  const { width = 220, height = 44, gapX = 90, gapY = 14, sweeps = 4 } = options;
  const { n, succ, pred, back, rank, order: queue } = rankNodes(ids, edges);
  const layerCount = n ? Math.max(...rank) + 1 : 0;
  const layers = Array.from({ length: layerCount }, () => []);
  for (const v of queue) layers[rank[v]].push(v);   // topological order is the first ordering
  // (3) barycentric ordering; positions normalised to [0, 1] so columns of any size compare
  const place = new Float64Array(n);
  const renumber = (layer) => layer.forEach((v, k) => { place[v] = (k + 0.5) / layer.length; });
  layers.forEach(renumber);
  const order = (layer, neighbours) => {
    const key = new Float64Array(layer.length);
    layer.forEach((v, k) => {
      const around = neighbours[v];
      if (!around.length) { key[k] = place[v]; return; }
      let sum = 0;
      for (const w of around) sum += place[w];
      key[k] = sum / around.length;
    });
    const sorted = layer.map((v, k) => k).sort((a, b) => key[a] - key[b] || place[layer[a]] - place[layer[b]]);
    const next = sorted.map((k) => layer[k]);
    layer.splice(0, layer.length, ...next);
    renumber(layer);
  };
  for (let s = 0; s < sweeps; s++) {
    for (let l = 1; l < layerCount; l++) order(layers[l], pred);
    for (let l = layerCount - 2; l >= 0; l--) order(layers[l], succ);
  }
  // (4) coordinates: columns left to right, each centred on y = 0
  const positions = new Map();
  let tallest = 0;
  layers.forEach((layer, l) => {
    tallest = Math.max(tallest, layer.length);
    layer.forEach((v, k) => {
      positions.set(ids[v], { x: l * (width + gapX), y: (k - (layer.length - 1) / 2) * (height + gapY), layer: l });
    });
  });
  const backKeys = new Set();
  for (const key of back) backKeys.add(`${ids[Math.floor(key / n)]}\u0000${ids[key % n]}`);
  return { positions, back: backKeys, width: Math.max(1, layerCount) * (width + gapX) - gapX,
           height: tallest * (height + gapY), layers: layerCount };
}
