// Real nginx for the tests that put it in front of the nodes (nginx.test.mjs, cluster_topology
// .test.mjs): a runtime copy of a production config from deploy/nginx/, rewritten only where a
// test must (node addresses, ports, names, certificate and log paths; every rewrite asserted with
// must(), so a reworded config fails instead of being tested half-way), run in the foreground from
// a private directory, stopped by closeAll() with the servers. A missing nginx fails the test.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { setTimeout as delay } from "node:timers/promises";
import { track, until, freePort } from "./harness.mjs";

export const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";

/** The file's text, or "" when it cannot be read. */
export function readOr(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** The complete lines of a log nginx may be writing to: what follows the last newline (nothing,
 * or a line not yet whole) is left out. */
export function logLines(file) {
  return readOr(file).split("\n").slice(0, -1).filter(Boolean);
}

/** Applies one substitution that must match (at least `min` times); `file` names the config in the message. */
export function must(text, pattern, replacement, what, { min = 1, file = "the nginx config" } = {}) {
  const flags = pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`;
  const count = (text.match(new RegExp(pattern.source, flags)) ?? []).length;
  assert.ok(count >= min, `${file}: expected ${what} (${pattern})`);
  return text.replace(pattern, replacement);
}

/** Pids of the direct children of `pid` (nginx's worker), from /proc. */
function childrenOf(pid) {
  const text = readOr(`/proc/${pid}/task/${pid}/children`).trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

/** True once a TLS handshake with `servername` on 127.0.0.1:port succeeds, trusting `ca`. */
export function tlsReachable(port, { servername, ca }) {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: "127.0.0.1", port, servername, ca }, () => {
      sock.end();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
    sock.setTimeout(2000, () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/**
 * Starts nginx with the site config that site({dir, port, httpPort}) returns (port: the TLS
 * listener, httpPort: the plain one, both free), included in a minimal nginx.conf, once `nginx -t`
 * accepts it; resolves when reachable(port) does. The access and error logs are dir/access.log
 * and dir/error.log (the site config must point there).
 */
export async function startNginx({ dir, site, reachable }) {
  fs.mkdirSync(dir, { recursive: true });
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const [port, httpPort] = [await freePort(), await freePort()];
  fs.writeFileSync(path.join(dir, "site.conf"), site({ dir, port, httpPort }));
  // As root, nginx would run its worker as "nobody", which cannot use this private temp dir.
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  fs.writeFileSync(path.join(dir, "nginx.conf"), `${isRoot ? "user root;\n" : ""}worker_processes 1;
events { worker_connections 1024; }
http {
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    access_log ${dir}/default-access.log;
    include ${dir}/site.conf;
}
`);
  const errorLog = path.join(dir, "error.log");
  const common = ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", errorLog];
  const globals = `daemon off; pid ${path.join(dir, "nginx.pid")};`;

  const check = await new Promise((resolve) => {
    execFile(NGINX, [...common, "-t", "-g", globals], { timeout: 20000 }, (err, stdout, stderr) => resolve({ err, out: stdout + stderr }));
  });
  assert.equal(check.err, null, `nginx -t refused the runtime config:\n${check.out}`);

  const proc = spawn(NGINX, [...common, "-g", globals], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  let exited = null;
  const exit = new Promise((resolve) => proc.once("exit", (code, signal) => resolve((exited = { code, signal }))));
  // A test process that dies must not leave nginx behind: SIGTERM stops master and worker.
  const onExit = () => proc.kill("SIGTERM");
  process.on("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    if (exited) return;
    const workers = childrenOf(proc.pid);
    proc.kill("SIGTERM");
    const res = await Promise.race([exit, delay(5000, null, { ref: false })]);
    if (res === null) {
      for (const pid of [...workers, ...childrenOf(proc.pid)]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      proc.kill("SIGKILL");
      await exit;
    }
  };
  // Stopped with the servers, after the clients.
  track({ __isServer: true }, stop);

  await until(
    async () => {
      if (exited) throw new Error(`nginx exited (${JSON.stringify(exited)}):\n${output}\n${readOr(errorLog)}`);
      return reachable(port);
    },
    { timeoutMs: 20000, intervalMs: 100, message: "nginx accepting connections" },
  );
  return { port, httpPort, dir, proc, accessLog: path.join(dir, "access.log"), errorLog, output: () => output, stop };
}

/**
 * A runtime copy of a deploy/nginx site config for one TLS server block: the `server` lines of
 * `upstream` replaced by `servers` (host:port), listen ports, server_name, certificate and log
 * paths rewritten, each rewrite asserted. `logFormat`: the access_log's format name.
 */
export function rewriteSite(conf, { file, upstream, servers, port, httpPort, serverName, cert, key, dir, logFormat }) {
  const opts = { file };
  conf = must(conf, new RegExp(`(upstream ${upstream} \\{[\\s\\S]*?)\\n\\}`), (_, body) => {
    const lines = body.split("\n").filter((l) => !/^\s*server\s+\S+[^;]*;\s*$/.test(l));
    lines.splice(1, 0, ...servers.map((s) => `    server ${s} max_fails=3 fail_timeout=10s;`));
    return `${lines.join("\n")}\n}`;
  }, `upstream ${upstream}`, opts);
  if (httpPort !== undefined) {
    conf = must(conf, /^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${httpPort};`, "listen 80", opts);
    conf = must(conf, /^\s*listen \[::\]:80;\n/m, "", "listen [::]:80", opts);
  }
  conf = must(conf, /^(\s*)listen 443 ssl;$/m, `$1listen 127.0.0.1:${port} ssl;`, "listen 443 ssl", opts);
  conf = must(conf, /^\s*listen \[::\]:443 ssl;\n/m, "", "listen [::]:443 ssl", opts);
  conf = must(conf, /^(\s*)server_name [^;]+;$/gm, `$1server_name ${serverName};`, "server_name", opts);
  conf = must(conf, /^(\s*)ssl_certificate\s+[^;]+;$/m, `$1ssl_certificate ${cert};`, "ssl_certificate", opts);
  conf = must(conf, /^(\s*)ssl_certificate_key\s+[^;]+;$/m, `$1ssl_certificate_key ${key};`, "ssl_certificate_key", opts);
  conf = must(conf, new RegExp(`^(\\s*)access_log\\s+\\S+\\s+${logFormat};$`, "m"), `$1access_log ${path.join(dir, "access.log")} ${logFormat};`, "access_log", opts);
  conf = must(conf, /^(\s*)error_log\s+\S+\s+(\w+);$/m, `$1error_log ${path.join(dir, "error.log")} $2;`, "error_log", opts);
  assert.doesNotMatch(conf.replace(/#.*$/gm, ""), /10\.0\.0\.\d+/, `${file}: every production address was replaced`);
  return conf;
}
