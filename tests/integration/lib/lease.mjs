// A file whose open() blocks until the test says so: a write lease (fcntl F_SETLEASE, Linux)
// taken by a python3 child. Any other open() of the file then waits in the kernel (or fails with
// EWOULDBLOCK under O_NONBLOCK) while the holder is told (SIGIO) to let go: what a slow disk or a
// network file system does to a reader, on demand. The kernel ends the wait by itself after
// /proc/sys/fs/lease-break-time (45 s by default); the child also lets go when the test process
// goes (its stdin closes). Node has no fcntl, hence python3 (scripts/deps.sh installs it).
import { spawn } from "node:child_process";
import readline from "node:readline";
import { track } from "./harness.mjs";

const HOLDER = `
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, lambda *_: print("broken", flush=True))
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("leased", flush=True)
sys.stdin.readline()
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
print("released", flush=True)
`;

/**
 * Holds a lease on `file`. Resolves once it is held, to {broken, release()}: `broken` resolves
 * when someone's open() has run into the lease (the holder got SIGIO), release() lets it go.
 */
export async function holdLease(file, timeoutMs = 10000) {
  const proc = spawn("python3", ["-c", HOLDER, file], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const lines = readline.createInterface({ input: proc.stdout });
  const waiters = new Map();
  const seen = new Set();
  lines.on("line", (line) => {
    seen.add(line);
    waiters.get(line)?.();
  });
  const next = (word) =>
    new Promise((resolve) => {
      if (seen.has(word)) resolve();
      else waiters.set(word, resolve);
    });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  const failed = new Promise((_, reject) => {
    proc.once("error", reject);
    exited.then((code) => reject(new Error(`python3 lease holder exited (${code}): ${stderr.trim()}`)));
  });
  failed.catch(() => {});
  const release = async () => {
    if (proc.exitCode === null) proc.stdin.end("release\n");
    await exited;
  };
  track(proc, release);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no lease on ${file} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([next("leased"), failed, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return { broken: next("broken"), release };
}
