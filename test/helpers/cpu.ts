// CPU time of the thread that runs the event loop: a loop that spins shows
// here, while GC, the compress workers and io_uring's io-wq threads (all
// counted by process.cpuUsage) do not.
import * as fs from 'node:fs';

/** USER_HZ: the unit of /proc's utime and stime on Linux. */
const TICKS_PER_SECOND = 100;

/** The event-loop thread's user + system CPU so far, in ms (the process's where /proc is missing). */
export function loopThreadCpuMs(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  }
}
