// Runs the graphql-http package's serverAudits against the URL given as the first argument and prints one
// JSON line: {ok, warn, error, results: [{id, name, status, reason}]}. Used by test_http_audit.py.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const results = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason || null });
}
const count = (status) => results.filter((r) => r.status === status).length;
console.log(JSON.stringify({ ok: count('ok'), warn: count('warn'), error: count('error'), results }));
