// What the scripts/measure-*.mjs memory measurements share: their command-line options, the
// socketio-server they start, its RSS and /metrics, and the `ws` package from tests/node_modules.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `ws` from tests/node_modules (run `npm ci` in tests/ first). */
export const WebSocket = createRequire(path.join(root, "tests", "package.json"))("ws");

/** --name VALUE or --name=VALUE, else fallback. */
export function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : fallback;
}

/** --server, else $SIO_BUILD_DIR/bin/socketio-server, else build/bin/socketio-server. */
export function serverPath() {
  const dir = process.env.SIO_BUILD_DIR ? path.resolve(process.env.SIO_BUILD_DIR) : path.join(root, "build");
  return option("server") ?? path.join(dir, "bin", "socketio-server");
}

/** The VmRSS of a process, in KiB. */
export function rssKiB(pid) {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
}

/** Starts `server args...` and waits for its "listening on" line; resolves {proc, port}. */
export async function startServer(server, args) {
  const proc = spawn(server, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const port = await new Promise((resolve, reject) => {
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once("exit", (code) => reject(new Error(`${server} exited with ${code} before listening:\n${out}`)));
  });
  return { proc, port };
}

/** Scrapes the server's /metrics; resolves a lookup (name, labels substring) -> the sum of the
 *  matching series, NaN when there is none. */
export function scrapeMetrics(port) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () =>
          resolve((name, labels = "") => {
            let total = NaN;
            for (const m of body.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm")))
              if ((m[1] ?? "").includes(labels)) total = (Number.isNaN(total) ? 0 : total) + Number(m[2]);
            return total;
          }),
        );
      })
      .on("error", reject);
  });
}
