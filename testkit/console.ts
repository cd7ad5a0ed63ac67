/**
 * What a command prints, for tests that run commands in this process: console.log and
 * console.error are captured before each test and restored after it, and the exit code the
 * runner set is cleared, so it does not become the test process's.
 */
export function captureCommandOutput(): { readonly stdout: string[]; readonly stderr: string[] } {
  const output = { stdout: [] as string[], stderr: [] as string[] };
  beforeEach(() => {
    output.stdout.length = 0;
    output.stderr.length = 0;
    jest.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void output.stdout.push(parts.join(" ")));
    jest.spyOn(console, "error").mockImplementation((...parts: unknown[]) => void output.stderr.push(parts.join(" ")));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
  });
  return output;
}
