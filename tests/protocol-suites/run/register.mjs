// Loaded with `node --import` before mocha: points the vendored suites at the server under test.
// The suites hard-code `const URL = "http://localhost:3000";`; the load hook in url-hook.mjs
// rewrites that one line to $SIO_SUITE_URL, so the vendored files stay byte-identical to upstream.
import { register } from "node:module";

if (!process.env.SIO_SUITE_URL) throw new Error("SIO_SUITE_URL is not set (e.g. http://127.0.0.1:3000)");
register("./url-hook.mjs", import.meta.url, { data: { url: process.env.SIO_SUITE_URL } });
