import { readdirSync, readFileSync } from "node:fs";

/** A process's peak resident set size so far, in bytes (Linux's VmHWM); undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    return Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** The loader's processes that `pid` started (local/loaderMain.ts), by pid (Linux /proc). */
export function loaderPids(pid: number): number[] {
  const children = readOr(`/proc/${pid}/task/${pid}/children`, "").split(" ").filter(Boolean).map(Number);
  return children.filter((child) => readOr(`/proc/${child}/cmdline`, "").includes("loaderMain.ts"));
}

/** The nice value of each thread of a process (field 19 of /proc/PID/task/TID/stat): Linux sets it per thread. */
export function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")[16]));
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}
