// Module load hook (see register.mjs). In every vendored test-suite.js:
//  - the hard-coded server URL becomes the one the runner passed;
//  - the documented fixes of upstream test races below are applied.
// Each replacement must match exactly once, so a suite that changed upstream fails to load rather
// than silently testing localhost:3000 or running unpatched.
const URL_LINE = 'const URL = "http://localhost:3000";';

// engine.io-v3 "message > WebSocket > sends and receives a plain text packet" waits for "open" and
// only then adds a once-listener for the handshake message; when the 101 response and the open
// packet arrive in one TCP read, ws emits that message before the listener exists and the case
// times out. It fails this way against Node's engine.io too (see README.md). The fix is the one
// the v3 suite's own binary case and the v4 suite use: wait for the handshake message (which
// implies "open") directly.
const PATCHES = {
  "engine.io-v3": [
    {
      from: 'await waitFor(socket, "open");\n\n        await waitFor(socket, "message"); // handshake\n\n        socket.send("4hello");',
      to: 'await waitFor(socket, "message"); // handshake\n\n        socket.send("4hello");',
    },
  ],
};

let target;

export function initialize({ url }) {
  target = url;
}

function replaceOnce(source, from, to, where) {
  const first = source.indexOf(from);
  if (first < 0 || source.indexOf(from, first + 1) >= 0)
    throw new Error(`${where}: expected exactly one ${JSON.stringify(from)}; update protocol-suites/run/url-hook.mjs`);
  return source.slice(0, first) + to + source.slice(first + from.length);
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  const m = /\/protocol-suites\/([^/]+)\/test-suite\.js$/.exec(url);
  if (!m) return result;
  let source = replaceOnce(String(result.source), URL_LINE, `const URL = ${JSON.stringify(target)};`, url);
  for (const { from, to } of PATCHES[m[1]] ?? []) source = replaceOnce(source, from, to, url);
  return { ...result, source };
}
