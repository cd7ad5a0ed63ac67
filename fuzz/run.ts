// npm run fuzz -- --count 1000000 [--seed 1]
// Feeds generated hostile log entries through the core and counts broken promises; exits 1 on any.
import { randomBytes } from "node:crypto";
import { SingleBar, Presets } from "cli-progress";
import fc from "fast-check";
import { defineCommand, EXIT, runCommand, UsageError } from "../cli/runner";
import { readStack } from "../cli/stackFile";
import type { CoreSettings } from "../core/config/coreSettings";
import { VISITOR_KEY_VARIABLE } from "../core/functionContract";
import { checkEntry, hostileLogEntry, Violation, VIOLATIONS, withEveryAttributeType } from "./hostileInput";

const BATCH = 5_000;

/**
 * The dev stack with a visitor key and the country table, plus a variant with an attribute of
 * every type, short values and the utm_ columns off (the same pair test/fuzz runs).
 */
function settingsUnderTest(): CoreSettings[] {
  const dev = readStack("dev", undefined, { [VISITOR_KEY_VARIABLE]: randomBytes(32).toString("base64") }).settings;
  return [dev, withEveryAttributeType({ ...dev, anonymizeIp: false, maxValueLength: 64, utmColumns: false })];
}

const USAGE = `Usage: npm run fuzz -- [--count N] [--seed S]
Feeds generated hostile log entries through the core and counts broken promises; exits 1 on any.
  --count N        entries to generate (default 1000000)
  --seed S         fast-check seed, to repeat a run exactly (default 1)
  -h, --help       this help`;

export const fuzzCommand = defineCommand({
  usage: USAGE,
  args: { options: { count: { type: "string", default: "1000000" }, seed: { type: "string", default: "1" } } },
  run({ values }) {
    const count = Number(values.count);
    const seed = Number(values.seed);
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) throw new UsageError("--count and --seed take whole numbers, --count at least 1.");
    return fuzz(count, seed);
  },
});

function fuzz(count: number, seed: number): number {
  const variants = settingsUnderTest();
  const outcomes = new Map<string, number>();
  const violations = new Map<Violation, { count: number; example: string }>();
  const progress = new SingleBar({ format: "fuzz [{bar}] {percentage}% | {value}/{total} entries | {rate}/s | ETA {eta_formatted}", hideCursor: true }, Presets.shades_classic);
  const started = Date.now();
  progress.start(count, 0, { rate: 0 });
  for (let done = 0, batch = 0; done < count; batch++) {
    const size = Math.min(BATCH, count - done);
    for (const entry of fc.sample(hostileLogEntry, { numRuns: size, seed: seed + batch })) {
      const result = checkEntry(entry, variants[done % variants.length]);
      outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
      if (result.violation) {
        const seen = violations.get(result.violation) ?? { count: 0, example: JSON.stringify(entry)?.slice(0, 300) ?? String(entry) };
        violations.set(result.violation, { ...seen, count: seen.count + 1 });
      }
      done++;
    }
    progress.update(done, { rate: Math.round(done / ((Date.now() - started) / 1000)) });
  }
  progress.stop();
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n${count} hostile log entries in ${seconds.toFixed(1)} s (${Math.round(count / seconds)}/s), seed ${seed}`);
  for (const [outcome, number] of [...outcomes].sort((a, b) => b[1] - a[1])) console.log(`  ${outcome.padEnd(22)} ${number}`);
  console.log(VIOLATIONS.map((violation) => `${violation}: ${violations.get(violation)?.count ?? 0}`).join(", "));
  for (const [violation, { example }] of violations) console.log(`  first ${violation}: ${example}`);
  return violations.size > 0 ? EXIT.failure : EXIT.ok;
}

if (require.main === module) void runCommand(fuzzCommand);
