// contact-gateway's GraphiQL page: GraphiQL with the Explorer and a "Table" plugin that shows the
// list in the last answer as rows, with a CSV download. The layout (columns from the query's
// selection set) is computed by the gateway at settings.tableEndpoint, by the same code as
// `contact-gateway query --format csv`, so the two exports are equal.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("graphiql-settings").textContent);
  var h = React.createElement;

  // The operation to name in the request. GraphiQL learns the operation name from the editor
  // after a short delay, so text replaced and run at once (Ctrl-Enter) went out under the old
  // tab's name. The document being sent is the truth: keep the name only if it names one of its
  // operations; with one operation, name that one.
  function operationNameFor(query, given) {
    var names;
    try {
      names = GraphiQL.GraphQL.parse(query).definitions
        .filter(function (d) { return d.kind === "OperationDefinition"; })
        .map(function (d) { return d.name ? d.name.value : null; });
    } catch (e) {
      return given; // the server reports the syntax error with its line and column
    }
    if (given && names.indexOf(given) >= 0) return given;
    return names.length === 1 ? names[0] : given;
  }

  // The last answer, for the Table plugin: GraphiQL's fetcher, wrapped.
  var last = null;
  var listeners = [];
  function deepMerge(target, source) {
    if (source === undefined) return target;
    if (!target || typeof target !== "object" || !source || typeof source !== "object") return source;
    var merged = Array.isArray(target) ? target.slice() : Object.assign({}, target);
    Object.keys(source).forEach(function (key) { merged[key] = deepMerge(merged[key], source[key]); });
    return merged;
  }
  // A later part of a @defer/@stream answer, as the pieces this GraphiQL understands (the older
  // draft's `{path, data}` objects, each merged at its path) instead of `incremental` entries.
  function pieces(part) {
    var found = [];
    (part.incremental || []).forEach(function (entry) {
      var path = entry.path || [];
      if (entry.data) found.push({ path: path, data: entry.data, errors: entry.errors });
      else if (Array.isArray(entry.items)) {
        // The path ends with the index of the first item (the 2022 draft).
        var start = path[path.length - 1];
        entry.items.forEach(function (item, i) { found.push({ path: path.slice(0, -1).concat([start + i]), data: item }); });
        if (entry.errors) found.push({ errors: entry.errors });
      } else if (entry.errors) found.push({ errors: entry.errors });
    });
    if (part.errors) found.push({ errors: part.errors });
    return found;
  }
  function setAt(data, path, value) {
    if (!path.length) return deepMerge(data, value);
    var copy = Array.isArray(data) ? data.slice() : Object.assign({}, data);
    copy[path[0]] = setAt(data ? data[path[0]] : undefined, path.slice(1), value);
    return copy;
  }
  // Keeps the last answer (merged as it arrives) for the Table plugin; returns the part as
  // GraphiQL should merge it.
  function remember(params, result) {
    if (!result || typeof result !== "object") return [result];
    if ("data" in result) {
      last = { query: params.query, operationName: params.operationName || null, data: result.data };
      listeners.forEach(function (listener) { listener(last); });
      var shown = Object.assign({}, result);
      delete shown.hasNext; delete shown.pending;
      return [shown];
    }
    if (!result.incremental && !result.errors) return [];
    var found = pieces(result);
    if (last && last.query === params.query) {
      var data = last.data;
      found.forEach(function (piece) { if (piece.path) data = setAt(data, piece.path, piece.data); });
      last = Object.assign({}, last, { data: data });
      listeners.forEach(function (listener) { listener(last); });
    }
    return found;
  }
  var baseFetcher = GraphiQL.createFetcher({ url: settings.endpoint });
  function fetcher(params, options) {
    var named = Object.assign({}, params, { operationName: operationNameFor(params.query || "", params.operationName) });
    var answer = baseFetcher(named, options);
    if (named.operationName === "IntrospectionQuery" || !answer) return answer;
    if (typeof answer.then === "function") {
      answer.then(function (result) { remember(named, result); }, function () {});
      return answer;
    }
    if (typeof answer[Symbol.asyncIterator] === "function") {
      // The multipart fetcher (GraphiQL's default) yields the answer in batches of parts.
      return (async function* () {
        for await (var batch of answer) {
          var shown = [];
          (Array.isArray(batch) ? batch : [batch]).forEach(function (part) {
            shown.push.apply(shown, remember(named, part));
          });
          yield Array.isArray(batch) ? shown : shown[0] || batch;
        }
      })();
    }
    return answer;
  }

  function useLastAnswer() {
    var state = React.useState(last);
    React.useEffect(function () {
      listeners.push(state[1]);
      return function () { listeners.splice(listeners.indexOf(state[1]), 1); };
    }, []);
    return state[0];
  }

  function download(text, name) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  }

  var SHOWN_ROWS = 1000; // the page stays quick; the CSV holds every row

  function TablePanel() {
    var answer = useLastAnswer();
    var laid = React.useState(null);
    var table = laid[0], setTable = laid[1];
    React.useEffect(function () {
      if (!answer) return;
      var current = true;
      fetch(settings.tableEndpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(answer)
      }).then(function (r) { return r.json(); })
        .then(function (body) { if (current) setTable(body); })
        .catch(function (e) { if (current) setTable({ error: String(e) }); });
      return function () { current = false; };
    }, [answer]);
    if (!answer) return h("div", { className: "cg-table-note" }, "Run a query: the list in its answer shows here as a table.");
    if (!table) return h("div", { className: "cg-table-note" }, "Laying out…");
    if (table.error) return h("div", { className: "cg-table-note cg-table-error" }, table.error);
    var name = (answer.operationName || "result") + ".csv";
    return h("div", { className: "cg-table-panel" },
      h("div", { className: "cg-table-bar" },
        h("span", { className: "cg-table-count" }, table.rows.length + (table.rows.length === 1 ? " row" : " rows")),
        h("button", { type: "button", className: "graphiql-button cg-table-download",
                      onClick: function () { download(table.csv, name); } }, "Download CSV")),
      h("div", { className: "cg-table-scroll" },
        h("table", { className: "cg-table" },
          h("thead", null, h("tr", null, table.columns.map(function (c) { return h("th", { key: c }, c); }))),
          h("tbody", null, table.rows.slice(0, SHOWN_ROWS).map(function (row, i) {
            return h("tr", { key: i }, row.map(function (cell, j) { return h("td", { key: j }, cell); }));
          })))),
      table.rows.length > SHOWN_ROWS
        ? h("div", { className: "cg-table-note" }, "The first " + SHOWN_ROWS + " rows are shown; the CSV holds all.")
        : null);
  }

  function TableIcon() {
    return h("svg", { viewBox: "0 0 24 24", width: "1em", height: "1em", fill: "none", stroke: "currentColor",
                      strokeWidth: 1.5, "aria-hidden": "true" },
      h("rect", { x: 3, y: 4, width: 18, height: 16, rx: 1 }),
      h("path", { d: "M3 9h18M3 14h18M9 4v16" }));
  }

  var tablePlugin = { title: "Table", icon: TableIcon, content: TablePanel };

  function App() {
    var state = React.useState(window.localStorage.getItem("graphiql:query") || settings.defaultQuery);
    var query = state[0], setQuery = state[1];
    var explorer = GraphiQLPluginExplorer.useExplorerPlugin({ query: query, onEdit: setQuery, showAttribution: false });
    return h(GraphiQL, {
      fetcher: fetcher,
      query: query,
      onEditQuery: setQuery,
      onTabChange: function (tabs) { setQuery(tabs.tabs[tabs.activeTabIndex].query || ""); },
      plugins: [explorer, tablePlugin],
      defaultTabs: settings.tabs,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false
    });
  }

  ReactDOM.render(h(App), document.getElementById("graphiql"));
})();
