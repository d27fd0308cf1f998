// Strata console: polls /api/cluster and redraws the tables and charts. No dependencies.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const POLL_MS = 1500;
const WINDOW_MS = 5 * 60 * 1000;

function lsn(n) { return n ? String(n) : "-"; }
function bytes(n) {
  if (n === undefined || n === null) return "-";
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return v.toFixed(1) + " " + units[i];
}
function age(a) { return a === undefined || a === null ? "-" : a.toFixed(1) + " s"; }
function num(v) {
  if (v === undefined || v === null) return "-";
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
function dash(s) { return s ? String(s) : "-"; }

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function renderNodes(nodes) {
  const tbody = document.querySelector("#nodes tbody");
  const rows = [];
  for (const n of nodes) {
    const tr = document.createElement("tr");
    tr.dataset.node = n.id;
    tr.dataset.role = n.role;
    tr.dataset.state = n.state;
    if (n.down) tr.className = "down";
    cell(tr, n.role); cell(tr, n.id); cell(tr, n.addr); cell(tr, n.pid ? String(n.pid) : "-");
    cell(tr, n.state, "state"); cell(tr, n.epoch ? String(n.epoch) : "-");
    cell(tr, lsn(n.durable), "n"); cell(tr, lsn(n.applied), "n"); cell(tr, lsn(n.persisted), "n");
    cell(tr, bytes(n.lag), "n"); cell(tr, bytes(n.persist_lag), "n"); cell(tr, age(n.heartbeat_age), "n");
    cell(tr, dash(n.segments)); cell(tr, dash(n.metrics));
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

function renderSegments(segs) {
  const tbody = document.querySelector("#segments tbody");
  const rows = [];
  for (const s of segs.stores || []) {
    const tr = document.createElement("tr");
    tr.dataset.store = s.id;
    cell(tr, s.id); cell(tr, s.default ? "yes" : "no"); cell(tr, String(s.n_listed), "n");
    cell(tr, dash(s.listed)); cell(tr, dash(s.moving_in)); cell(tr, dash(s.moving_out));
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  document.getElementById("segsize").textContent =
    segs.segment_pages ? "(" + segs.segment_pages + " pages of 16 KiB a segment)" : "";
}

// drawChart draws lines (each {key, cls}) of points into a figure, breaking a line where a
// value is missing, and shows the latest values in its caption.
function drawChart(id, points, lines, fmt) {
  const fig = document.getElementById(id);
  const svg = fig.querySelector("svg");
  // The last five minutes, or (fewer points yet) at least the last minute.
  const end = points.length ? points[points.length - 1].t : Date.now();
  const first = points.length ? points[0].t : end;
  const start = Math.max(end - WINDOW_MS, Math.min(first, end - 60 * 1000));
  const span = end - start;
  let top = 0;
  for (const p of points) for (const l of lines) if (p[l.key] !== null && p[l.key] > top) top = p[l.key];
  top = top > 0 ? top * 1.1 : 1;
  const els = [];
  for (const frac of [0.25, 0.5, 0.75]) {
    const g = document.createElementNS(NS, "line");
    g.setAttribute("x1", "0"); g.setAttribute("x2", "300");
    g.setAttribute("y1", String(100 * frac)); g.setAttribute("y2", String(100 * frac));
    g.setAttribute("class", "grid");
    els.push(g);
  }
  for (const l of lines) {
    let run = [];
    const flush = () => {
      if (run.length > 0) {
        const pl = document.createElementNS(NS, "polyline");
        if (run.length === 1) run.push(run[0]);
        pl.setAttribute("points", run.join(" "));
        pl.setAttribute("class", l.cls);
        els.push(pl);
      }
      run = [];
    };
    for (const p of points) {
      if (p.t < start) continue;
      const v = p[l.key];
      if (v === null || v === undefined) { flush(); continue; }
      const x = (300 * (p.t - start)) / span;
      const y = 100 - (100 * v) / top;
      run.push(x.toFixed(1) + "," + y.toFixed(1));
    }
    flush();
  }
  svg.replaceChildren(...els);
  const last = points.length ? points[points.length - 1] : {};
  fig.querySelector(".now").textContent =
    lines.map((l) => fmt(last[l.key])).join(" / ") + "   (top " + fmt(top / 1.1) + ")";
}

function render(v) {
  document.getElementById("epoch").textContent = String(v.epoch);
  document.getElementById("durable").textContent = lsn(v.durable);
  document.getElementById("nup").textContent = String(v.up);
  const nd = document.getElementById("ndown");
  nd.textContent = String(v.down);
  nd.className = v.down ? "bad" : "";
  document.getElementById("updated").textContent = new Date(v.time).toLocaleTimeString();
  const err = document.getElementById("error");
  err.textContent = v.error || "";
  err.hidden = !v.error;
  renderNodes(v.nodes || []);
  renderSegments(v.segments || {});
  const pts = (v.series && v.series.points) || [];
  document.getElementById("interval").textContent = String(v.series ? v.series.interval : "");
  drawChart("chart-statements", pts, [{ key: "statements", cls: "l1" }], num);
  drawChart("chart-latency", pts, [{ key: "p50_ms", cls: "l1" }, { key: "p95_ms", cls: "l2" }], num);
  drawChart("chart-redo", pts, [{ key: "redo_bytes", cls: "l1" }], (x) => (x === undefined || x === null ? "-" : bytes(Math.round(x))));
  drawChart("chart-records", pts, [{ key: "records", cls: "l1" }], num);
  const se = document.getElementById("scrape-errors");
  const errs = Object.entries(v.scrape_errors || {}).map(([k, e]) => k + ": " + e + ".");
  se.textContent = errs.join(" ");
  se.hidden = errs.length === 0;
}

async function poll() {
  try {
    const r = await fetch("/api/cluster", { cache: "no-store" });
    if (!r.ok) throw new Error("/api/cluster: " + r.status + " " + r.statusText);
    render(await r.json());
  } catch (e) {
    const err = document.getElementById("error");
    err.textContent = "the console does not answer: " + e.message;
    err.hidden = false;
  }
  setTimeout(poll, POLL_MS);
}

poll();
