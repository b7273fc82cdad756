// Subscribes to `requestUpdated` with the graphql-ws npm client, the way a browser or Node app would.
//
//   node subscribe.mjs <ws-url> <bearer-token> <count> [timeout-seconds]
//
// Prints `SUBSCRIBED` once the server acknowledged the connection and the subscription is sent, then one JSON
// line per event received, and exits 0 after <count> events; exits 1 on an error, a close, or the timeout.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, countArg, timeoutArg] = process.argv.slice(2);
const wanted = Number(countArg ?? 1);
const timeoutMs = Number(timeoutArg ?? 20) * 1000;

const fail = (message) => {
  console.error(`FAILED ${message}`);
  process.exit(1);
};
const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  lazy: false,
  on: {
    closed: (event) => fail(`socket closed: ${event?.code} ${event?.reason}`),
  },
});

let received = 0;
client.on('connected', () => {
  client.subscribe(
    { query: 'subscription Watch { requestUpdated { id body status customer { id } } }' },
    {
      next: (result) => {
        console.log(JSON.stringify(result));
        received += 1;
        if (received >= wanted) {
          clearTimeout(timer);
          client.dispose();
          process.exit(0);
        }
      },
      error: (error) => fail(`subscription error: ${JSON.stringify(error)}`),
      complete: () => fail('subscription completed early'),
    },
  );
  // The subscribe message is on the wire once this tick ends; give the server a moment to register it.
  setTimeout(() => console.log('SUBSCRIBED'), 300);
});
