// npm run fuzz -- --count 1000000 [--seed 1]
// Feeds generated hostile log entries through the core and counts broken promises; exits 1 on any.
import { SingleBar, Presets } from "cli-progress";
import fc from "fast-check";
import { parseArgs } from "node:util";
import type { CoreSettings } from "../functions/core/settings";
import { readStackCoreSettings } from "../cli/stackFile";
import { checkEntry, hostileLogEntry, Violation } from "./hostileInput";

const BATCH = 5_000;

/** The dev stack, plus a typed variant so INT64, FLOAT64 and BOOL parsing meet hostile text too. */
function settingsUnderTest(): CoreSettings[] {
  const dev = readStackCoreSettings("dev", undefined, {});
  return [
    dev,
    {
      ...dev,
      anonymizeIp: false,
      maxValueLength: 64,
      attributes: [...dev.attributes, { name: "qty", type: "INT64" }, { name: "price", type: "FLOAT64" }, { name: "first", type: "BOOL" }],
    },
  ];
}

function main(): void {
  const { values } = parseArgs({ options: { count: { type: "string", default: "1000000" }, seed: { type: "string", default: "1" } } });
  const count = Number(values.count);
  const seed = Number(values.seed);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) throw new Error("--count and --seed take whole numbers, --count at least 1.");
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
  const allViolations: Violation[] = ["crash", "unsafe_table", "foreign_key", "non_scalar", "invalid_text", "prototype_pollution"];
  console.log(allViolations.map((violation) => `${violation}: ${violations.get(violation)?.count ?? 0}`).join(", "));
  for (const [violation, { example }] of violations) console.log(`  first ${violation}: ${example}`);
  process.exitCode = violations.size > 0 ? 1 : 0;
}

main();
