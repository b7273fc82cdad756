// The GraphiQL page served by customer-graph at GET /graphql (built by build.mjs; no CDN at run time).
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createClient } from 'graphql-ws';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';

const config = JSON.parse(document.getElementById('graphiql-config').textContent);

// Monaco runs its language services in web workers, built beside this file.
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const name = label === 'json' || label === 'graphql' ? label : 'editor';
    return new Worker(`${config.staticUrl}/${name}.worker.js`);
  },
};

const endpoint = new URL(config.endpoint, window.location.href).toString();
const http = createGraphiQLFetcher({ url: endpoint });

function authorizationOf(headers) {
  for (const [key, value] of Object.entries(headers || {})) {
    if (key.toLowerCase() === 'authorization') return String(value);
  }
  return undefined;
}

// Subscriptions go over graphql-transport-ws, signed in with the Authorization header of the headers pane.
function subscribe(params, opts) {
  const authorization = authorizationOf(opts && opts.headers);
  const client = createClient({
    url: endpoint.replace(/^http/, 'ws'),
    connectionParams: authorization ? { authorization } : {},
    lazy: true,
  });
  const iterator = client.iterate(params);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => iterator.next(),
    async return() {
      await (iterator.return ? iterator.return() : undefined);
      await client.dispose();
      return { done: true, value: undefined };
    },
  };
}

function fetcher(params, opts) {
  const isSubscription = /^\s*subscription\b/m.test(
    (params.query || '').replace(/#.*$/gm, ''),
  );
  return isSubscription && config.subscriptions ? subscribe(params, opts) : http(params, opts);
}

const root = createRoot(document.getElementById('graphiql'));
root.render(
  createElement(GraphiQL, {
    fetcher,
    plugins: [explorerPlugin()],
    defaultQuery: config.defaultQuery,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: 'headers',
    shouldPersistHeaders: false,
  }),
);
