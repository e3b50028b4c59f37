// What a server process holds, read from /proc/<pid>: resident memory and open file descriptors.
// The hostile-client tests assert bounds on these (memory stays bounded, fds are released).
import fs from "node:fs";

// Resident set size in bytes (VmRSS of /proc/<pid>/status).
export function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

// Open file descriptors (entries of /proc/<pid>/fd).
export function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// Open TCP sockets of the process (fds whose link is "socket:[inode]").
export function socketCount(pid) {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}

// Both figures at once, for logging and assertions.
export function procSnapshot(pid) {
  return { rss: rssBytes(pid), fds: fdCount(pid), sockets: socketCount(pid) };
}

// True once every thread of the process is stopped (state T in /proc/<pid>/task/*/stat): kill()
// returns when SIGSTOP is sent, not when a busy process has stopped running.
export function allThreadsStopped(pid) {
  return fs.readdirSync(`/proc/${pid}/task`).every((tid) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    return /^\d+ \(.*\) [Tt] /s.test(stat);
  });
}

// CPU time (user + system) the process has used so far, in seconds (/proc/<pid>/stat).
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command: state is field 3; utime and stime are fields 14 and 15 (1-based).
  return (Number(fields[11]) + Number(fields[12])) / 100;  // USER_HZ is 100 on Linux
}

// Voluntary context switches of all the process's threads so far: each is a thread that blocked
// (in epoll_wait, a futex, a read); a thread that only computes or yields adds none.
export function voluntarySwitches(pid) {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"));
      if (m) n += Number(m[1]);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return n;
}
