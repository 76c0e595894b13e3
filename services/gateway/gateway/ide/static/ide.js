// The gateway's GraphiQL page (gateway/ide/__init__.py). Everything it loads comes from the
// gateway itself; the first query and the headers template come from the page's own markup.
(function () {
  "use strict";
  const root = document.getElementById("graphiql");
  const gateway = GraphiQL.createFetcher({ url: window.location.pathname });
  const placeholder = root.dataset.placeholder;

  // Until a token replaces the template's placeholder, say so instead of sending it.
  function fetcher(params, options) {
    const headers = Object.values((options && options.headers) || {});
    if (headers.some((value) => String(value).includes(placeholder))) {
      return Promise.resolve({ errors: [{ message: root.dataset.noToken }] });
    }
    return gateway(params, options);
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: root.dataset.query,
      defaultHeaders: root.dataset.headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // Tabs and headers (the pasted token too) last as long as the browser tab, no longer.
      storage: window.sessionStorage,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
