// GraphiQL (vendored: vendor/graphiql/README.md) for /graphql in a browser.
// Every request goes through RunsWeb.post: this server's /graphql only, the
// API key from the page's form (kept in sessionStorage, sent as Basic auth,
// never in an address). GraphiQL's headers editor is off, so a key is never
// typed into GraphiQL's own storage (localStorage) either.
"use strict";

(() => {
  // The viewer's projects (models: the viewer's entity by default), with no
  // variables, so it runs as it stands on any server.
  const EXAMPLE = `# Ctrl+Enter runs it; Ctrl+Space completes.
{
  viewer { username }
  models(first: 10) {
    edges { node { name entityName runCount } }
  }
}
`;

  async function fetcher(request) {
    try {
      RunsWeb.clearError();
      return await RunsWeb.post(request);
    } catch (error) {
      RunsWeb.showError(error);
      throw error;
    }
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: EXAMPLE,
      defaultHeaders: "",
      isHeadersEditorEnabled: false,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "variables",
    }),
  );
  // The tests wait for the editor: GraphiQL renders after this script ends.
  const deadline = Date.now() + 20000;
  const ready = () => {
    if (document.querySelector(".graphiql-container")) document.body.dataset.state = "ready";
    else if (Date.now() < deadline) requestAnimationFrame(ready);
    else RunsWeb.showError("GraphiQL did not start");
  };
  requestAnimationFrame(ready);
})();
