// --busy-poll MICROS: after its last event a worker thread keeps polling for more instead of
// sleeping in epoll_wait. What must hold: clients work as without it (WebSocket and long-polling
// echo acks on two threads), a thread with traffic coming faster than the poll window does not
// sleep between requests (no voluntary context switch per request, as without the flag), and a
// server without traffic goes back to sleep (near-zero CPU), so an idle node costs nothing.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, sleep, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";
import { cpuSeconds, voluntarySwitches } from "./lib/procstat.mjs";

after(closeAll);

const ack = (socket, ...args) => socket.timeout(5000).emitWithAck("echo", ...args);

// Server CPU seconds used while `work` runs.
async function cpuDuring(pid, work) {
  const before = cpuSeconds(pid);
  await work();
  return cpuSeconds(pid) - before;
}

describe("--busy-poll", { skip: IS_REFERENCE && "a flag of the C++ server" }, () => {
  test("clients work, a thread with traffic spins, an idle server sleeps", { timeout: 60000 }, async () => {
    const server = await startServer({ kind: "chat", args: ["--busy-poll", "20000", "--threads", "2"] });
    const pid = server.proc.pid;
    const clients = await Promise.all(
      Array.from({ length: 8 }, (_, i) => sioConnect(server, "/", { transports: i % 2 ? ["polling"] : ["websocket"] }, 10000)),
    );
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(clients.map((c, i) => ack(c, { round, client: i })));
      answers.forEach((a, i) => assert.deepEqual(a, { round, client: i }));
    }

    // One WebSocket client, one request every ~5 ms for 1.5 s: gaps well inside the 20 ms
    // window, so its thread never blocks in epoll_wait. Told by the server's voluntary context
    // switches (a thread that blocks makes one; one that polls and yields makes none), not by its
    // CPU time, which a machine busy with other work shares out (0.36 s in one loaded run).
    let requests = 0;
    const switchesBefore = voluntarySwitches(pid);
    const busy = await cpuDuring(pid, async () => {
      const end = Date.now() + 1500;
      while (Date.now() < end) {
        assert.equal(await ack(clients[0], "x"), "x");
        requests++;
        await sleep(4);
      }
    });
    const switches = voluntarySwitches(pid) - switchesBefore;
    console.log(`# a request every ~5 ms: ${requests} requests, ${switches} voluntary switches, server CPU ${busy.toFixed(2)} s in 1.5 s`);
    assert.ok(requests >= 30, `only ${requests} requests in 1.5 s`);
    assert.ok(switches < requests / 3, `the shard slept between requests: ${switches} voluntary switches for ${requests} requests`);

    // No traffic: after the window the threads sleep again. (Each wake-up opens a window, the
    // server's own timers' too: two shards' once-a-second loop-lag probes cost 2 x 20 ms a second.)
    await sleep(300);
    const idle = await cpuDuring(pid, () => sleep(1500));
    console.log(`# server CPU idle: ${idle.toFixed(2)} s in 1.5 s`);
    assert.ok(idle <= 0.3, `an idle server kept spinning: ${idle.toFixed(2)} s of CPU in 1.5 s`);

    // Still answering after sleeping.
    assert.equal(await ack(clients[1], "after"), "after");
    for (const c of clients) c.disconnect();
  });
});
