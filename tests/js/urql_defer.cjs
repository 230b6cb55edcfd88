// urql (@urql/core with its fetchExchange) runs a query with @defer (or the query given as
// argv[3]) against the URL given and prints every result it delivers, with the milliseconds
// since the start, as one JSON array.
const { Client, fetchExchange, gql } = require("@urql/core");

const QUERY = process.argv[3] ? gql(process.argv[3]) : gql`
  query Split {
    fast: contacts(first: 3, backends: ["support"]) { edges { node { id backend } } }
    ... @defer(label: "slow") {
      slow: contacts(first: 3, backends: ["voice"]) { edges { node { id backend } } }
    }
  }
`;

const client = new Client({ url: process.argv[2], exchanges: [fetchExchange], requestPolicy: "network-only" });
const started = Date.now();
const seen = [];
const timer = setTimeout(finish, 30000);
const { unsubscribe } = client.query(QUERY, {}).subscribe((result) => {
  seen.push({
    ms: Date.now() - started,
    hasNext: Boolean(result.hasNext),
    data: result.data || null,
    errors: result.error
      ? result.error.graphQLErrors.map((e) => ({ message: e.message, code: (e.extensions || {}).code }))
      : [],
  });
  if (!result.hasNext) finish();
});

function finish() {
  clearTimeout(timer);
  unsubscribe();
  process.stdout.write(JSON.stringify(seen));
  process.exit(0);
}
