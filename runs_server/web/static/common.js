// Shared by every page: the GraphQL call (with the API key when the server
// asks for one), the key form, and small DOM helpers. Values are put into the
// page with textContent only, never parsed as HTML.
"use strict";

const RunsWeb = (() => {
  const KEY_ITEM = "runs_server_api_key";
  let keyPrompt = null; // one pending key form for every request waiting on it

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function pathParts() {
    return location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  }

  function basicAuth(key) {
    const bytes = new TextEncoder().encode("api:" + key);
    return "Basic " + btoa(String.fromCharCode(...bytes));
  }

  // Shows the key form and resolves once the user has entered a key; the key
  // stays in sessionStorage (this tab only) and never goes into an address.
  function askKey(reason) {
    if (keyPrompt) return keyPrompt;
    keyPrompt = new Promise((resolve) => {
      const form = document.getElementById("auth");
      const input = form.querySelector("input");
      form.querySelector(".reason").textContent = reason;
      form.hidden = false;
      input.focus();
      form.onsubmit = (event) => {
        event.preventDefault();
        if (!input.value) return;
        sessionStorage.setItem(KEY_ITEM, input.value);
        input.value = "";
        form.hidden = true;
        keyPrompt = null;
        resolve();
      };
    });
    return keyPrompt;
  }

  // POSTs one request body ({query, variables, operationName}) to this
  // server's /graphql and gives the whole JSON answer, errors included (what
  // GraphiQL shows). A 401 asks for the key and sends again. credentials
  // "omit": no browser login dialog on 401.
  async function post(request) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const headers = { "Content-Type": "application/json" };
      const key = sessionStorage.getItem(KEY_ITEM);
      if (key) headers.Authorization = basicAuth(key);
      const response = await fetch("/graphql", {
        method: "POST",
        headers,
        credentials: "omit",
        cache: "no-store",
        body: JSON.stringify(request),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        throw new Error(`the server answered ${response.status} without JSON`);
      }
      if (response.status === 401) {
        sessionStorage.removeItem(KEY_ITEM);
        await askKey(messagesOf(body) || "this server requires an API key");
        continue;
      }
      return body;
    }
    throw new Error("no accepted API key after 5 tries; reload the page to try again");
  }

  function messagesOf(body) {
    return ((body && body.errors) || []).map((e) => e.message).join("; ");
  }

  // One operation's data, or an Error with the server's messages.
  async function gql(query, variables) {
    const body = await post({ query, variables });
    const messages = messagesOf(body);
    if (messages) throw new Error(messages);
    return body.data;
  }

  // The page is drawn: the tests wait for this; the benchmark reads the time
  // of the frame after it (milliseconds since navigation start).
  function markReady() {
    document.body.dataset.state = "ready";
    requestAnimationFrame(() => {
      window.runsWebPaintedMs = performance.now();
    });
  }

  function showError(error) {
    const box = document.getElementById("error");
    box.textContent = String(error && error.message ? error.message : error);
    box.hidden = false;
  }

  function clearError() {
    document.getElementById("error").hidden = true;
  }

  // JSONString fields (config, summaryMetrics, events) may hold the bare
  // tokens NaN, Infinity and -Infinity, as W&B writes them; JSON.parse takes
  // none, so each becomes a string of its name (strings are left as they are).
  const NON_FINITE = /"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g;

  function parseJson(text, fallback) {
    if (text == null || text === "") return fallback;
    try {
      return JSON.parse(text);
    } catch (_) {
      try {
        return JSON.parse(text.replace(NON_FINITE, (m) => (m[0] === '"' ? m : `"${m}"`)));
      } catch (__) {
        return fallback;
      }
    }
  }

  // W&B config values are {"value": v, "desc": ...}; the value is what users mean.
  function configValue(entry) {
    if (entry && typeof entry === "object" && !Array.isArray(entry) && "value" in entry)
      return entry.value;
    return entry;
  }

  function show(value) {
    if (value === undefined) return "";
    if (value === null) return "null";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  return { el, pathParts, post, gql, markReady, showError, clearError, parseJson, configValue, show };
})();
