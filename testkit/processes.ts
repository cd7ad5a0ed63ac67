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

/** A process's soft and hard limit of a resource, as /proc/PID/limits names it ("Max data size"): a number, or "unlimited". */
export function resourceLimits(pid: number, resource: string): [string, string] | undefined {
  const line = readOr(`/proc/${pid}/limits`, "").split("\n").find((row) => row.startsWith(`${resource} `));
  const [soft, hard] = line?.slice(resource.length).trim().split(/\s+/) ?? [];
  return soft === undefined ? undefined : [soft, hard];
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
