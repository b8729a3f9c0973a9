// The runs table of /{entity}/{project}: filters, search, sort, keyset pages,
// picked config and summary columns, runs selected for comparison. Its state
// lives in the address's query string (never a key), so a view can be shared.
"use strict";

(() => {
  const { el, pathParts, gql, showError, clearError, parseJson, configValue, show } = RunsWeb;
  const [entity, project] = pathParts();
  const PER_PAGE = 50;
  const MAX_COMPARE = 10;
  const QUERY = `query WebRunsPage($entity: String!, $project: String!, $filters: JSONString,
      $order: String, $after: String, $first: Int) {
    project(name: $project, entityName: $entity) {
      runCount(filters: $filters)
      runs(filters: $filters, order: $order, after: $after, first: $first) {
        edges { node { name displayName state createdAt tags config summaryMetrics } }
        pageInfo { endCursor hasNextPage }
      }
    }
  }`;

  const params = new URLSearchParams(location.search);
  const state = {
    filters: params.get("filters") || "",
    search: params.get("q") || "",
    order: params.get("order") || "-created_at",
    columns: (params.get("cols") || "").split(",").filter(Boolean),
    pickColumns: !params.has("cols"), // first view: a few columns of the first page
    cursors: [null], // the cursor before each page seen: Previous pops one
    selected: new Set(),
    runs: [],
    known: new Set(), // column names seen in any page
  };

  // Config and summary values flattened to the dotted names the API's filters
  // and orders take (config.optimizer.name, summary_metrics.val.acc).
  function flatten(object, prefix, out, depth) {
    for (const [key, value] of Object.entries(object || {})) {
      if (depth === 0 && key.startsWith("_")) continue;
      const name = prefix + key;
      if (value && typeof value === "object" && !Array.isArray(value) && !value._type && depth < 2)
        flatten(value, name + ".", out, depth + 1);
      else out[name] = value;
    }
    return out;
  }

  function rowValues(node) {
    const config = {};
    for (const [key, entry] of Object.entries(parseJson(node.config, {}))) config[key] = configValue(entry);
    return Object.assign(
      flatten(config, "config.", {}, 0),
      flatten(parseJson(node.summaryMetrics, {}), "summary_metrics.", {}, 0),
    );
  }

  function regexEscape(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  // The Mongo filter sent: the user's JSON and the search box, both required.
  function filtersOf() {
    const parts = [];
    if (state.filters.trim()) {
      const parsed = JSON.parse(state.filters); // a SyntaxError is shown as is
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
        throw new Error('filters must be a JSON object, e.g. {"state": "finished"}');
      parts.push(parsed);
    }
    const words = state.search.trim();
    if (words) {
      const pattern = regexEscape(words);
      parts.push({ $or: [{ displayName: { $regex: pattern } }, { name: { $regex: pattern } }, { tags: words }] });
    }
    if (parts.length === 0) return null;
    return JSON.stringify(parts.length === 1 ? parts[0] : { $and: parts });
  }

  function saveAddress() {
    const next = new URLSearchParams();
    if (state.filters.trim()) next.set("filters", state.filters.trim());
    if (state.search.trim()) next.set("q", state.search.trim());
    if (state.order !== "-created_at") next.set("order", state.order);
    if (!state.pickColumns) next.set("cols", state.columns.join(","));
    const query = next.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  async function load() {
    document.body.dataset.state = "loading";
    clearError();
    saveAddress();
    try {
      const data = await gql(QUERY, {
        entity, project, filters: filtersOf(), order: state.order,
        after: state.cursors[state.cursors.length - 1], first: PER_PAGE,
      });
      if (!data.project) throw new Error(`no project ${entity}/${project} (or not yours)`);
      const runs = data.project.runs;
      state.runs = runs.edges.map((edge) => edge.node);
      state.pageInfo = runs.pageInfo;
      state.count = data.project.runCount;
      render();
      RunsWeb.markReady();
    } catch (error) {
      showError(error);
      document.body.dataset.state = "error";
    }
  }

  const FIXED = [
    { name: "state", label: "State", order: "state" },
    { name: "name", label: "Name", order: "displayName" },
    { name: "created", label: "Created", order: "created_at" },
  ];

  function orderName(column) {
    return column.order || column.name;
  }

  function header(column) {
    const field = orderName(column);
    const cls = state.order === "+" + field || state.order === field ? "sorted-asc"
      : state.order === "-" + field ? "sorted-desc" : "";
    const th = el("th", { text: column.label, "data-order": field, class: cls, title: "sort by " + field });
    th.onclick = () => {
      state.order = (state.order === "+" + field ? "-" : "+") + field;
      state.cursors = [null];
      load();
    };
    return th;
  }

  function render() {
    const values = state.runs.map(rowValues);
    for (const row of values) for (const name of Object.keys(row)) state.known.add(name);
    if (state.pickColumns && values.length) {
      state.pickColumns = false;
      const numbers = [];
      for (const row of values)
        for (const [name, value] of Object.entries(row))
          if (typeof value === "number" && !numbers.includes(name)) numbers.push(name);
      const sorted = state.order.replace(/^[+-]/, "");
      state.columns = [
        ...(numbers.includes(sorted) ? [sorted] : []),
        ...numbers.filter((name) => name.startsWith("config.") && name !== sorted).slice(0, 2),
        ...numbers.filter((name) => name.startsWith("summary_metrics.") && name !== sorted).slice(0, 2),
      ];
    }
    renderColumnPicker();
    const columns = [...FIXED, ...state.columns.map((name) => ({ name, label: name.replace(/^summary_metrics\./, "summary.") }))];
    const head = el("tr", {}, el("th", { text: "" }), ...columns.map(header));
    const body = state.runs.map((node, i) => {
      const box = el("input", { type: "checkbox", "aria-label": "select " + node.name });
      box.checked = state.selected.has(node.name);
      box.onchange = () => {
        if (box.checked) state.selected.add(node.name);
        else state.selected.delete(node.name);
        renderCompare();
      };
      const link = el("a", { href: `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(node.name)}`, text: node.displayName || node.name, title: node.name });
      const cells = [
        el("td", {}, box),
        el("td", { text: node.state || "", class: "state-" + (node.state || "") }),
        el("td", {}, link),
        el("td", { text: (node.createdAt || "").replace("T", " ").replace(/Z$/, "") }),
        ...state.columns.map((name) => {
          const value = values[i][name];
          return el("td", { text: show(value), class: typeof value === "number" ? "num" : "" });
        }),
      ];
      return el("tr", { "data-run": node.name }, ...cells);
    });
    const table = document.getElementById("runs");
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
    const first = (state.cursors.length - 1) * PER_PAGE;
    document.getElementById("count").textContent = state.runs.length
      ? `runs ${first + 1}-${first + state.runs.length} of ${state.count}` : `no runs of ${state.count}`;
    document.getElementById("prev").disabled = state.cursors.length <= 1;
    document.getElementById("next").disabled = !state.pageInfo.hasNextPage;
    renderCompare();
  }

  function renderColumnPicker() {
    const box = document.getElementById("column-list");
    const names = [...state.known].sort();
    box.replaceChildren(...names.map((name) => {
      const input = el("input", { type: "checkbox", value: name });
      input.checked = state.columns.includes(name);
      input.onchange = () => {
        state.columns = input.checked ? [...state.columns, name] : state.columns.filter((c) => c !== name);
        saveAddress();
        render();
      };
      return el("label", {}, input, " " + name);
    }));
  }

  function renderCompare() {
    const button = document.getElementById("compare");
    const chosen = [...state.selected];
    button.disabled = chosen.length === 0;
    button.textContent = chosen.length > MAX_COMPARE
      ? `Compare (at most ${MAX_COMPARE}; ${chosen.length} selected)` : `Compare ${chosen.length} selected`;
    button.onclick = () => {
      const [first, ...others] = chosen.slice(0, MAX_COMPARE);
      const query = others.length ? "?compare=" + others.map(encodeURIComponent).join(",") : "";
      location.href = `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(first)}${query}`;
    };
  }

  function setup() {
    document.title = `${entity}/${project} runs`;
    document.getElementById("title").textContent = `${entity}/${project}`;
    const filters = document.getElementById("filters");
    const search = document.getElementById("search");
    filters.value = state.filters;
    search.value = state.search;
    document.getElementById("controls").onsubmit = (event) => {
      event.preventDefault();
      state.filters = filters.value;
      state.search = search.value;
      state.cursors = [null];
      load();
    };
    document.getElementById("next").onclick = () => {
      state.cursors.push(state.pageInfo.endCursor);
      load();
    };
    document.getElementById("prev").onclick = () => {
      state.cursors.pop();
      load();
    };
    load();
  }

  setup();
})();
