// Builds the GraphiQL page that customer-graph serves at GET /graphql: GraphiQL, its explorer plugin and the
// Monaco editor workers, bundled by esbuild into ../server/graphiql_static/ (committed, so running the server
// needs no Node and no CDN). Rebuild with `make graphiql` after changing package.json or src/.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const out = process.argv[2] || '../server/graphiql_static';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, legalComments: 'none', target: 'es2020', logLevel: 'warning', format: 'iife' };
await build({
  ...common,
  entryPoints: { graphiql: 'src/main.jsx' },
  outdir: out,
  loader: { '.ttf': 'file' },
  assetNames: '[name]',
  define: { 'process.env.NODE_ENV': '"production"' },
});
await build({
  ...common,
  entryPoints: {
    'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
    'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
    'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
  },
  outdir: out,
});

// What went in and what came out: tests/graphiql checks it against package-lock.json and the files.
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const packages = {};
for (const name of Object.keys(lock.packages[''].dependencies)) {
  packages[name] = lock.packages[`node_modules/${name}`].version;
}
const files = {};
for (const name of readdirSync(out).sort()) {
  files[name] = createHash('sha256').update(readFileSync(join(out, name))).digest('hex');
}
writeFileSync(join(out, 'BUILD.json'), `${JSON.stringify({ packages, files }, null, 2)}\n`);
