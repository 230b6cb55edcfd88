// Apollo Client 3's BatchHttpLink sends N queries in one batch to the URL given (argv[2], N in
// argv[3]); prints what each query's caller sees (its errors' messages and codes, or what was
// thrown) as one JSON array.
const { ApolloClient, InMemoryCache, gql } = require("@apollo/client/core");
const { BatchHttpLink } = require("@apollo/client/link/batch-http");

const count = Number(process.argv[3]);
const client = new ApolloClient({
  link: new BatchHttpLink({ uri: process.argv[2], batchMax: count, batchInterval: 20 }),
  cache: new InMemoryCache(),
});
const calls = Array.from({ length: count }, (_, i) =>
  client
    .query({ query: gql(`query Q${i} { backends { name } }`), fetchPolicy: "no-cache", errorPolicy: "all" })
    .then(
      (result) => ({
        data: result.data || null,
        errors: (result.errors || []).map((e) => ({ message: e.message, code: (e.extensions || {}).code })),
      }),
      (error) => ({ thrown: String(error && error.message ? error.message : error) }),
    ),
);
Promise.all(calls).then((seen) => {
  process.stdout.write(JSON.stringify(seen));
  process.exit(0);
});
