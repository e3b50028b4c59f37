// Shared command line handling for the reference servers. They accept the same flags as the C++
// binaries (--host, --port, --threads) so the integration harness can start either one the same way.
// Node runs on one thread: --threads is accepted and ignored. --ping-interval/--ping-timeout (ms)
// override the server's heartbeat settings (the load tests use longer ones than the conformance
// defaults, so that a busy test machine does not turn into ping timeouts). Unknown flags are
// reported on stderr and ignored, so flags added to the C++ binaries later do not break the
// reference. --redis URL [--redis-key K] [--redis-mode classic|sharded] [--name N] put the chat
// server on a Redis cluster (redis-cluster.mjs).

const positiveInt = (name, key, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: invalid ${key} ${v}`);
  return n;
};

export function parseArgs(argv, name, defaults = {}) {
  const opts = { host: "127.0.0.1", port: 0, threads: 1, ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const key = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = () => {
      if (eq >= 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) throw new Error(`${name}: ${key} needs a value`);
      return argv[++i];
    };
    switch (key) {
      case "--host":
        opts.host = takeValue();
        break;
      case "--port":
        opts.port = Number.parseInt(takeValue(), 10);
        if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
          throw new Error(`${name}: invalid --port`);
        }
        break;
      case "--threads":
        opts.threads = positiveInt(name, key, takeValue());
        break;
      case "--ping-interval":
        opts.pingInterval = positiveInt(name, key, takeValue());
        break;
      case "--ping-timeout":
        opts.pingTimeout = positiveInt(name, key, takeValue());
        break;
      case "--redis":
        opts.redis = takeValue();
        break;
      case "--redis-key":
        opts.redisKey = takeValue();
        break;
      case "--redis-mode":
        opts.redisMode = takeValue();
        if (opts.redisMode !== "classic" && opts.redisMode !== "sharded") {
          throw new Error(`${name}: invalid --redis-mode`);
        }
        break;
      case "--name":
        opts.name = takeValue();
        break;
      default:
        process.stderr.write(`${name}: ignoring unknown argument ${arg}\n`);
    }
  }
  return opts;
}

// Prints the line the harness waits for, once the server really listens.
export function announce(name, httpServer) {
  const { address, port } = httpServer.address();
  const host = address.includes(":") ? `[${address}]` : address;
  process.stdout.write(`${name} listening on http://${host}:${port}\n`);
}

// SIGTERM/SIGINT: close everything and exit 0 (the C++ binaries are expected to do the same).
export function handleSignals(name, closeAll) {
  let closing = false;
  const onSignal = (signal) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`${name}: ${signal}, shutting down\n`);
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    Promise.resolve()
      .then(closeAll)
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
}
