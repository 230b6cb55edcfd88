// Runs graphql-http's GraphQL-over-HTTP server audits against the URL given and prints every
// result as one JSON array (id, name, status, reason) for the Python test to judge.
const { serverAudits } = require("graphql-http");

async function main() {
  const url = process.argv[2];
  const results = [];
  for (const audit of serverAudits({ url })) {
    const result = await audit.fn();
    results.push({ id: result.id, name: result.name, status: result.status, reason: result.reason || null });
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
