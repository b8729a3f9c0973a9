// A minimal query page for /graphql in a browser: a query, its variables and
// the answer (errors included), sent with the same key handling as the pages.
"use strict";

(() => {
  const EXAMPLE = `query Projects($entity: String!) {
  viewer { username }
  models(entityName: $entity, first: 10) {
    edges { node { name entityName runCount } }
  }
}`;
  const query = document.getElementById("query");
  const variables = document.getElementById("variables");
  const result = document.getElementById("result");
  query.value = sessionStorage.getItem("runs_web_query") || EXAMPLE;
  variables.value = sessionStorage.getItem("runs_web_variables") || '{"entity": "demo"}';

  async function run() {
    RunsWeb.clearError();
    sessionStorage.setItem("runs_web_query", query.value);
    sessionStorage.setItem("runs_web_variables", variables.value);
    let vars = {};
    try {
      vars = variables.value.trim() ? JSON.parse(variables.value) : {};
    } catch (error) {
      RunsWeb.showError("variables are not JSON: " + error.message);
      return;
    }
    document.body.dataset.state = "loading";
    try {
      result.textContent = JSON.stringify(await RunsWeb.gql(query.value, vars), null, 2);
    } catch (error) {
      RunsWeb.showError(error);
      result.textContent = "";
    }
    document.body.dataset.state = "ready";
  }

  document.getElementById("run-query").onclick = run;
  for (const area of [query, variables])
    area.onkeydown = (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run();
      }
    };
})();
