// A run page, /{entity}/{project}/runs/{run}[?compare=a,b]: config, summary,
// one chart per numeric history key (x: step, wall time or relative time;
// exponential smoothing) with the compared runs overlaid, and system metrics.
// Histories come in one bulk sampledHistory request over project.runs,
// sampled to the charts' width.
"use strict";

(() => {
  const { el, pathParts, gql, showError, parseJson, configValue, show } = RunsWeb;
  const [entity, project, , runName] = pathParts();
  const MAX_COMPARE = 10; // runs on a chart, this one included
  const MAX_KEYS = 99; // the API's MAX_SPECS (100): one spec per key, one for time
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
  const X_KEYS = { step: "_step", wall: "_timestamp", relative: "_runtime" };

  const RUN_QUERY = `query WebRun($entity: String!, $project: String!, $name: String!) {
    project(name: $project, entityName: $entity) {
      run(name: $name) {
        name displayName state createdAt heartbeatAt tags group jobType host
        config summaryMetrics historyKeys events(samples: 1000)
      }
    }
  }`;
  const HISTORY_QUERY = `query WebHistories($entity: String!, $project: String!,
      $filters: JSONString, $first: Int, $specs: [JSONString!]!) {
    project(name: $project, entityName: $entity) {
      runs(filters: $filters, first: $first) {
        edges { node { name displayName sampledHistory(specs: $specs) } }
      }
    }
  }`;

  const params = new URLSearchParams(location.search);
  const compared = (params.get("compare") || "").split(",").filter((n) => n && n !== runName);
  const names = [runName, ...compared].slice(0, MAX_COMPARE);
  const view = { x: params.get("x") || "step", smoothing: Number(params.get("smooth") || 0) };
  const charts = []; // {plot, key, series: [{label, x: {step,wall,relative}, y}]}
  window.runsWebCharts = {}; // key -> {points, canvas}: read by the browser tests

  function numeric(value) {
    return typeof value === "number" && Number.isFinite(value) ? value : null;
  }

  function lookup(row, key) {
    if (key in row) return row[key];
    let value = row;
    for (const part of key.split(".")) value = value == null ? undefined : value[part];
    return value;
  }

  // TensorBoard's debiased exponential moving average; gaps stay gaps.
  function smooth(ys, weight) {
    if (!weight) return ys;
    let last = 0, count = 0;
    return ys.map((y) => {
      if (y == null) return null;
      last = last * weight + (1 - weight) * y;
      count += 1;
      return last / (1 - Math.pow(weight, count));
    });
  }

  function kvTable(entries) {
    return el("table", { class: "kv" }, el("tbody", {}, ...entries.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: show(v) })))));
  }

  function chartWidth() {
    const main = document.querySelector("main");
    return Math.max(320, Math.min(640, Math.floor((main.clientWidth - 100) / 2)));
  }

  function data(chart) {
    const tables = chart.series.map((s) => {
      const xs = s.x[view.x], ys = smooth(s.y, view.smoothing);
      const order = xs.map((_, i) => i).filter((i) => xs[i] != null).sort((a, b) => xs[a] - xs[b]);
      return [order.map((i) => xs[i]), order.map((i) => ys[i])];
    });
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  function draw(chart, container) {
    if (chart.plot) chart.plot.destroy();
    const options = {
      width: chartWidth(),
      height: 220,
      scales: { x: { time: view.x === "wall" } },
      legend: { show: chart.series.length > 1 },
      series: [{ label: view.x }, ...chart.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
      axes: [{}, { size: 60 }],
    };
    const aligned = data(chart);
    chart.plot = new uPlot(options, aligned, container);
    window.runsWebCharts[chart.key] = {
      points: aligned[0].length,
      xFirst: aligned[0][0],
      xLast: aligned[0][aligned[0].length - 1],
      series: chart.series.length,
      canvas: !!container.querySelector("canvas"),
    };
  }

  function addChart(parent, key, series) {
    const box = el("div", { class: "chart", "data-key": key }, el("h3", { text: key }));
    const chart = { key, series, plot: null, box };
    parent.append(box);
    charts.push(chart);
    draw(chart, box);
  }

  function redrawAll() {
    for (const chart of charts) draw(chart, chart.box);
    const next = new URLSearchParams(location.search);
    next.set("x", view.x);
    if (view.smoothing) next.set("smooth", String(view.smoothing));
    else next.delete("smooth");
    history.replaceState(null, "", location.pathname + "?" + next.toString());
  }

  function historyKeysOf(run) {
    const keys = parseJson(JSON.stringify(run.historyKeys || {}), {}).keys || {};
    return Object.entries(keys)
      .filter(([key, info]) => !key.startsWith("_") && (info.typeCounts || []).some((t) => t.type === "number"))
      .map(([key]) => key)
      .sort();
  }

  // x for each sampled step: exact where the time spec sampled that step,
  // linear between its neighbours otherwise (held at the ends).
  function timeAt(steps, times, step) {
    if (step == null || !steps.length) return null;
    let lo = 0, hi = steps.length - 1;
    if (step <= steps[lo]) return times[lo];
    if (step >= steps[hi]) return times[hi];
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (steps[mid] <= step) lo = mid;
      else hi = mid;
    }
    if (times[lo] == null || times[hi] == null) return times[lo] ?? times[hi];
    return times[lo] + ((times[hi] - times[lo]) * (step - steps[lo])) / (steps[hi] - steps[lo]);
  }

  // One spec per key holds only _step and the key; the times come from one
  // more spec (_step, _runtime, _timestamp): asking every key's spec for the
  // times as well cost the server three times as much on a long run.
  async function loadHistories(keys) {
    if (!keys.length) return;
    const samples = Math.min(1000, chartWidth());
    const specs = keys.map((key) => JSON.stringify({ keys: ["_step", key], samples }));
    specs.push(JSON.stringify({ keys: ["_step", "_runtime", "_timestamp"], samples: 2 * samples }));
    const data = await gql(HISTORY_QUERY, {
      entity, project, specs, first: names.length,
      filters: JSON.stringify({ name: { $in: names } }),
    });
    const nodes = data.project.runs.edges.map((e) => e.node);
    nodes.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
    const timesOf = nodes.map((node) => {
      const rows = ((node.sampledHistory || [])[keys.length] || [])
        .filter((r) => numeric(r._step) != null)
        .sort((a, b) => a._step - b._step);
      const steps = rows.map((r) => r._step);
      const wall = rows.map((r) => numeric(r._timestamp));
      const relative = rows.map((r) => numeric(r._runtime));
      return {
        wall: (step) => timeAt(steps, wall, step),
        relative: (step) => timeAt(steps, relative, step),
      };
    });
    const parent = document.getElementById("history");
    keys.forEach((key, k) => {
      const series = nodes.map((node, n) => {
        const rows = (node.sampledHistory || [])[k] || [];
        const steps = rows.map((r) => numeric(r._step));
        return {
          label: node.displayName || node.name,
          x: { step: steps, wall: steps.map(timesOf[n].wall), relative: steps.map(timesOf[n].relative) },
          y: rows.map((r) => numeric(lookup(r, key))),
        };
      });
      addChart(parent, key, series);
    });
  }

  function drawSystem(run) {
    const rows = (run.events || []).map((line) => parseJson(line, {}));
    const keys = new Set();
    for (const row of rows) for (const [k, v] of Object.entries(row)) if (!k.startsWith("_") && typeof v === "number") keys.add(k);
    const parent = document.getElementById("system");
    if (!keys.size) parent.append(el("p", { text: "No system metrics." }));
    for (const key of [...keys].sort()) {
      addChart(parent, key, [{
        label: run.displayName || run.name,
        x: {
          step: rows.map((r) => numeric(r._runtime)), // events have no step: runtime
          wall: rows.map((r) => numeric(r._timestamp)),
          relative: rows.map((r) => numeric(r._runtime)),
        },
        y: rows.map((r) => numeric(r[key])),
      }]);
    }
  }

  async function main() {
    const projectUrl = `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
    const back = document.getElementById("project-link");
    back.href = projectUrl;
    back.textContent = `${entity}/${project}`;
    const xSelect = document.getElementById("x-axis");
    const slider = document.getElementById("smoothing");
    xSelect.value = X_KEYS[view.x] ? view.x : (view.x = "step");
    slider.value = String(view.smoothing);
    xSelect.onchange = () => { view.x = xSelect.value; redrawAll(); };
    slider.oninput = () => {
      view.smoothing = Number(slider.value);
      document.getElementById("smoothing-value").textContent = slider.value;
      redrawAll();
    };
    document.getElementById("smoothing-value").textContent = slider.value;
    try {
      const data = await gql(RUN_QUERY, { entity, project, name: runName });
      const run = data.project && data.project.run;
      if (!run) throw new Error(`no run ${runName} in ${entity}/${project} (or not yours)`);
      document.title = `${run.displayName || run.name} · ${entity}/${project}`;
      document.getElementById("title").textContent = `${run.displayName || run.name} (${run.name})`;
      document.getElementById("meta").append(kvTable([
        ["state", run.state], ["created", run.createdAt], ["heartbeat", run.heartbeatAt],
        ["tags", (run.tags || []).join(", ")], ["group", run.group], ["job type", run.jobType], ["host", run.host],
        ["compared with", compared.slice(0, MAX_COMPARE - 1).join(", ") || "none (select runs in the table)"],
      ]));
      const config = Object.entries(parseJson(run.config, {})).filter(([k]) => !k.startsWith("_")).map(([k, v]) => [k, configValue(v)]);
      document.getElementById("config").append(kvTable(config));
      const summary = Object.entries(parseJson(run.summaryMetrics, {})).filter(([k]) => !k.startsWith("_"));
      document.getElementById("summary").append(kvTable(summary));
      const keys = historyKeysOf(run);
      if (keys.length > MAX_KEYS) showError(`${keys.length} history keys; the first ${MAX_KEYS} are drawn`);
      await loadHistories(keys.slice(0, MAX_KEYS));
      drawSystem(run);
      RunsWeb.markReady();
    } catch (error) {
      showError(error);
      document.body.dataset.state = "error";
    }
  }

  main();
})();
