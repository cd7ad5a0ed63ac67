import type { ChildProcess } from "node:child_process";

/** What a child process has printed (stdout and stderr together), and a way to wait for more. */
export interface ChildOutput {
  /** Everything printed since capture began. */
  text(): string;
  /**
   * Resolves with the first match of `pattern` in what was printed, including what came before
   * this call; rejects, with that output, if the child exits first or `timeoutMs` passes.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Stops collecting. */
  stop(): void;
}

/**
 * Collects a child's output from now on. Capture as soon as the child is spawned: a line printed
 * before a wait begins is still found, so a wait cannot miss a line that came early.
 */
export function captureOutput(child: ChildProcess): ChildOutput {
  let output = "";
  const append = (chunk: Buffer | string) => void (output += chunk.toString());
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return {
    text: () => output,
    stop: () => {
      child.stdout?.off("data", append);
      child.stderr?.off("data", append);
    },
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          child.stderr?.off("data", onData);
          child.off("exit", onExit);
          settle();
        };
        // Runs after `append` (listeners run in the order they were added), so `output` holds the chunk.
        const onData = () => {
          const match = pattern.exec(output);
          if (match) finish(() => resolve(match));
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
          finish(() => reject(new Error(`exited (${code ?? signal}) before printing ${pattern}:\n${output}`)));
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`))), timeoutMs);
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.on("exit", onExit);
        onData();
        if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
      }),
  };
}

/** Waits for `pattern` in what the child prints from now on; see ChildOutput.waitFor. */
export async function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const output = captureOutput(child);
  try {
    return await output.waitFor(pattern, timeoutMs);
  } finally {
    output.stop();
  }
}
