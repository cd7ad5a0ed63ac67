/** The part of lookml-parser (no types of its own) that testkit/lookml.ts uses. */
declare module "lookml-parser" {
  export function parseFiles(options: {
    source: readonly { path: string; content: string }[];
    fileOutput: "by-name";
    console: { log(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void };
  }): Promise<unknown>;
}
