// Link-state changes as the kernel announces them (netlink, through `ip -o monitor link`), for the
// node daemons that act on a NIC going down or up (erd, the traffic client). They used to read
// sysfs every 20 ms / 100 ms: inside a traffic node capped at a few hundredths of a core, those
// polls were a large share of the node's CPU while nothing happened. A netlink event costs nothing
// until a link changes, and reacts sooner. A slow safety poll stays, in case `ip monitor` dies or
// misses an event; `ip monitor` is restarted when it exits.
import { spawn, type ChildProcess } from 'node:child_process';

/** Call `check` on every link event and every `safetyPollMs`; returns a function that stops it. */
export function watchLinks(check: () => void, safetyPollMs: number): () => void {
  let child: ChildProcess | undefined;
  let stopped = false;
  const start = () => {
    child = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout?.on('data', () => check());
    child.on('error', () => {}); // no `ip`: the safety poll still runs; 'exit' restarts
    child.on('exit', () => {
      if (!stopped) setTimeout(start, 500);
    });
  };
  start();
  const timer = setInterval(check, safetyPollMs);
  return () => {
    stopped = true;
    clearInterval(timer);
    child?.kill();
  };
}
