// trackd web UI: the little the server-rendered pages need a script for.
//  - MLflow's links (`/#/experiments/<id>/runs/<run>`) routed to trackd's pages;
//  - the runs table's column picker, loaded when opened;
//  - charts (uPlot), each drawn when it scrolls into view, fed by /ui-api/series with about
//    one point per pixel; drag to zoom (re-fetches that step range, down to raw points),
//    double-click to reset; x axis, log scale and smoothing kept in the URL; running runs
//    refresh while visible.
// No inline script anywhere (the pages' Content-Security-Policy forbids it); every string
// from the server goes into the page as text, never as markup, except the column picker,
// which the server renders escaped.
"use strict";

function routeMlflowLinks() {
  const hash = window.location.hash;
  if (window.location.pathname !== "/" || !hash.startsWith("#/")) return;
  const parts = hash.slice(2).split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  let target = null;
  if (parts[0] === "experiments" && parts[1]) {
    if (parts[2] === "runs" && parts[3]) target = "/runs/" + encodeURIComponent(parts[3]);
    else target = "/experiments/" + encodeURIComponent(parts[1]);
  } else if (parts[0] === "models" && parts[1]) {
    target = "/models/" + encodeURIComponent(parts[1]);
  } else if (parts[0] === "compare-runs") {
    const q = new URLSearchParams(hash.split("?")[1] || "");
    try {
      const ids = JSON.parse(q.get("runs") || "[]");
      if (Array.isArray(ids) && ids.length) target = "/compare?runs=" + ids.map(encodeURIComponent).join(",");
    } catch (_) { /* not a compare link we understand */ }
  }
  if (target) window.location.replace(target);
}
routeMlflowLinks();
window.addEventListener("hashchange", routeMlflowLinks);

document.addEventListener("DOMContentLoaded", () => {
  setUpColumnPicker();
  setUpOnlyDiffering();
  setUpCharts();
});

// --- runs table ---------------------------------------------------------------------------

function setUpColumnPicker() {
  const details = document.querySelector("details.columns[data-columns-url]");
  if (!details) return;
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    const box = details.querySelector(".picker");
    box.textContent = "Loading columns…";
    try {
      const res = await fetch(details.dataset.columnsUrl, { headers: { "x-fragment": "1" } });
      if (!res.ok) throw new Error("HTTP " + res.status);
      box.innerHTML = await res.text(); // server-rendered and escaped
      const narrow = box.querySelector("input.narrow");
      if (narrow) {
        narrow.addEventListener("input", () => {
          const q = narrow.value.toLowerCase();
          for (const label of box.querySelectorAll("label.pick")) {
            label.hidden = q !== "" && !label.textContent.toLowerCase().includes(q);
          }
        });
        narrow.focus();
      }
    } catch (e) {
      loaded = false;
      box.textContent = "Could not load the columns: " + e.message;
    }
  });
}

function setUpOnlyDiffering() {
  const box = document.getElementById("only-diff");
  const table = document.getElementById("compare-params");
  if (!box || !table) return;
  box.addEventListener("change", () => table.classList.toggle("only-diff", box.checked));
}

// --- charts -------------------------------------------------------------------------------

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c",
  "#0891b2", "#db2777", "#65a30d", "#7c3aed", "#ca8a04"];
const LIVE_REFRESH_MS = 5000;

/** Chart settings from the URL (`x`, `log`, `smooth`), shared by every chart of the page. */
const settings = {
  x: "step",
  log: false,
  smooth: 0,
  read() {
    const q = new URLSearchParams(window.location.search);
    this.x = ["step", "time", "relative"].includes(q.get("x")) ? q.get("x") : "step";
    this.log = q.get("log") === "1";
    const s = parseFloat(q.get("smooth") || "0");
    this.smooth = Number.isFinite(s) ? Math.min(Math.max(s, 0), 0.99) : 0;
  },
  write() {
    const url = new URL(window.location.href);
    const set = (k, v, dflt) => (v === dflt ? url.searchParams.delete(k) : url.searchParams.set(k, v));
    set("x", this.x, "step");
    set("log", this.log ? "1" : "0", "0");
    set("smooth", String(this.smooth), "0");
    window.history.replaceState(null, "", url);
  },
};

const charts = [];
/** When each chart's data arrived and when it was drawn (read by the UI benchmark). */
window.trackdTimings = [];

function setUpCharts() {
  const elements = document.querySelectorAll(".chart[data-key]");
  if (!elements.length) return;
  settings.read();
  const controls = document.querySelector(".chart-controls");
  if (controls) {
    const x = controls.querySelector("[name=x]");
    const log = controls.querySelector("[name=log]");
    const smooth = controls.querySelector("[name=smooth]");
    x.value = settings.x;
    log.checked = settings.log;
    smooth.value = String(settings.smooth);
    const changed = () => {
      settings.x = x.value;
      settings.log = log.checked;
      settings.smooth = parseFloat(smooth.value) || 0;
      settings.write();
      for (const c of charts) if (c.data) c.draw();
    };
    x.addEventListener("change", changed);
    log.addEventListener("change", changed);
    smooth.addEventListener("input", changed);
  }
  // Mount a chart only when it comes near the viewport: a run with 1,000 metric keys
  // fetches and draws only the charts someone looks at.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const chart = entry.target.chartState;
      chart.visible = entry.isIntersecting;
      if (entry.isIntersecting && !chart.requested) chart.load();
    }
  }, { rootMargin: "200px" });
  for (const el of elements) {
    const chart = new Chart(el);
    el.chartState = chart;
    charts.push(chart);
    observer.observe(el);
  }
  setInterval(() => {
    for (const c of charts) if (c.live && c.visible && !c.range && c.data) c.load();
  }, LIVE_REFRESH_MS);
}

class Chart {
  constructor(el) {
    this.el = el;
    this.key = el.dataset.key;
    this.runs = el.dataset.runs.split(",");
    let names = null;
    try { names = JSON.parse(el.dataset.names || "null"); } catch (_) { names = null; }
    this.names = Array.isArray(names) && names.length === this.runs.length ? names : null;
    this.live = el.dataset.live === "1";
    this.note = el.querySelector(".chart-note");
    this.range = null; // [startStep, endStep] while zoomed
    this.requested = false;
    this.data = null;
    this.plot = null;
  }

  async load() {
    this.requested = true;
    this.loadStartedAt = performance.now();
    const width = Math.max(200, Math.min(5000, Math.round(this.el.clientWidth || 600)));
    const q = new URLSearchParams();
    q.set("run", this.runs.join(","));
    q.set("key", this.key);
    q.set("points", String(width));
    if (this.range) {
      q.set("start", String(this.range[0]));
      q.set("end", String(this.range[1]));
    }
    try {
      const res = await fetch("/ui-api/series?" + q.toString());
      const body = await res.json();
      if (!res.ok) throw new Error(body.message || "HTTP " + res.status);
      const dataAt = performance.now();
      this.data = body.series;
      this.draw();
      window.trackdTimings.push({ key: this.key, zoom: !!this.range, startedAt: this.loadStartedAt,
        dataAt, drawnAt: performance.now() });
    } catch (e) {
      this.note.textContent = "Could not load: " + e.message;
      this.el.classList.add("failed");
    }
  }

  /** The sampled-or-not note: how many points are drawn of how many the range holds. */
  describe() {
    const shown = this.data.reduce((n, s) => n + s.steps.length, 0);
    const total = this.data.reduce((n, s) => n + s.total, 0);
    const fmt = (n) => n.toLocaleString("en-US");
    const points = (n) => `${fmt(n)} point${n === 1 ? "" : "s"}`;
    let text = shown < total ? `sampled: ${fmt(shown)} of ${points(total)}` : `all ${points(total)}`;
    if (this.data.length === 1) {
      // Min/max sampling keeps every bucket's extremes, so these are the series' own.
      const vs = this.data[0].values.filter((v) => v != null);
      if (vs.length) text += ` · min ${short(Math.min(...vs))} · max ${short(Math.max(...vs))}`;
    }
    if (this.range) text += ` · steps ${fmt(this.range[0])}–${fmt(this.range[1])} (double-click to reset)`;
    this.note.textContent = text;
    this.el.classList.toggle("sampled", shown < total);
  }

  /** One [xs, ys] table per series, x ascending and unique, in the page's x mode. */
  tables() {
    return this.data.map((s) => {
      const n = s.steps.length;
      const t0 = n ? Math.min(...s.times) : 0;
      const rows = new Array(n);
      for (let i = 0; i < n; i++) {
        let x;
        if (settings.x === "time") x = s.times[i] / 1000;
        else if (settings.x === "relative") x = (s.times[i] - t0) / 1000;
        else x = s.steps[i];
        rows[i] = [x, s.values[i], s.steps[i]];
      }
      if (settings.x !== "step") rows.sort((a, b) => a[0] - b[0]);
      const xs = [], ys = [], steps = [];
      for (const r of rows) {
        if (xs.length && xs[xs.length - 1] === r[0]) { ys[ys.length - 1] = r[1]; continue; }
        xs.push(r[0]); ys.push(r[1]); steps.push(r[2]);
      }
      return { xs, ys: smooth(ys, settings.smooth), steps };
    });
  }

  draw() {
    this.describe();
    const tables = this.tables();
    let data;
    if (tables.length === 1) data = [tables[0].xs, tables[0].ys];
    else data = uPlot.join(tables.map((t) => [t.xs, t.ys]));
    if (settings.log) {
      data = [data[0], ...data.slice(1).map((ys) => ys.map((v) => (v != null && v > 0 ? v : null)))];
    }
    const series = [{ label: settings.x === "step" ? "step" : settings.x === "time" ? "time" : "seconds" }];
    this.data.forEach((s, i) => {
      const few = tables[i].xs.length <= 100;
      series.push({
        label: this.names ? this.names[i] : this.runs.length === 1 ? this.key : s.run_id.slice(0, 8),
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: few, size: 5 },
      });
    });
    const width = Math.max(200, this.el.clientWidth - 2);
    const opts = {
      width,
      height: 220,
      series,
      scales: {
        x: { time: settings.x === "time" },
        y: settings.log ? { distr: 3 } : {},
      },
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { show: this.runs.length > 1 },
      hooks: { setSelect: [(u) => this.zoom(u, tables)] },
    };
    if (this.plot) this.plot.destroy();
    const holder = this.el.querySelector(".plot") || this.el.appendChild(document.createElement("div"));
    holder.className = "plot";
    this.plot = new uPlot(opts, data, holder);
    this.plot.over.addEventListener("dblclick", () => {
      if (!this.range) return;
      this.range = null;
      this.load();
    });
    this.el.classList.add("drawn");
  }

  /** A drag selected an x range: re-fetch the steps it covers, at full detail if they fit. */
  zoom(u, tables) {
    if (u.select.width < 3) return;
    const x0 = u.posToVal(u.select.left, "x");
    const x1 = u.posToVal(u.select.left + u.select.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    let lo = Infinity, hi = -Infinity;
    for (const t of tables) {
      for (let i = 0; i < t.xs.length; i++) {
        if (t.xs[i] >= x0 && t.xs[i] <= x1) {
          lo = Math.min(lo, t.steps[i]);
          hi = Math.max(hi, t.steps[i]);
        }
      }
    }
    if (settings.x === "step") { lo = Math.ceil(x0); hi = Math.floor(x1); }
    if (!(lo <= hi)) return;
    this.range = [lo, hi];
    this.load();
  }
}

/** A value in at most 4 significant digits. */
function short(v) {
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(4));
}

/** TensorBoard's debiased exponential moving average; nulls stay gaps. */
function smooth(ys, weight) {
  if (!weight) return ys;
  const out = new Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (v == null) { out[i] = null; continue; }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}
