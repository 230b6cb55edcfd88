// Apollo Client 3 (HttpLink, InMemoryCache) runs a query with @defer against the URL given and
// prints every result it delivers to the application, with the milliseconds since the start, as
// one JSON array for the Python test to judge.
const { ApolloClient, HttpLink, InMemoryCache, gql } = require("@apollo/client/core");

const QUERY = gql`
  query Split {
    fast: contacts(first: 3, backends: ["support"]) { edges { node { id backend } } }
    ... @defer(label: "slow") {
      slow: contacts(first: 3, backends: ["voice"]) { edges { node { id backend } } }
    }
  }
`;

const client = new ApolloClient({ link: new HttpLink({ uri: process.argv[2] }), cache: new InMemoryCache() });
const started = Date.now();
const seen = [];
const subscription = client.watchQuery({ query: QUERY, fetchPolicy: "network-only" }).subscribe({
  next(result) {
    seen.push({ ms: Date.now() - started, loading: result.loading, data: result.data || null,
                errors: (result.errors || []).map((e) => e.message) });
    if (result.data && result.data.slow) finish();
  },
  error(error) {
    seen.push({ ms: Date.now() - started, error: String(error && error.message ? error.message : error) });
    finish();
  },
});
const timer = setTimeout(finish, 30000);

function finish() {
  clearTimeout(timer);
  subscription.unsubscribe();
  process.stdout.write(JSON.stringify(seen));
  process.exit(0);
}
