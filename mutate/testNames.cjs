// Which tests each test file declares, as the dry run found them: lets a mutant's jest run load only
// the test files that hold a test covering it (see sequencer.cjs). Kept in the sandbox Stryker runs in.
const { createHash } = require("node:crypto");
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require("node:fs");
const path = require("node:path");

const DIRECTORY = path.join(process.cwd(), ".stryker-test-names");

function recordFile(testPath) {
  return path.join(DIRECTORY, `${createHash("sha256").update(testPath).digest("hex")}.json`);
}

/** Jest's full name of a test: its describe titles and its own, joined by spaces, as `-t` matches it. */
function declaredTestNames(describeBlock, prefix = "") {
  const names = [];
  for (const child of describeBlock.children) {
    const name = `${prefix} ${child.name}`.trimStart();
    if (child.type === "test") names.push(name);
    else names.push(...declaredTestNames(child, name));
  }
  return names;
}

function recordTestNames(testPath, names) {
  mkdirSync(DIRECTORY, { recursive: true });
  const file = recordFile(testPath);
  const temporary = `${file}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify({ testPath, names }));
  renameSync(temporary, file);
}

/** The names recorded for a test file, or undefined when it has no record. */
function readTestNames(testPath) {
  try {
    return JSON.parse(readFileSync(recordFile(testPath), "utf8")).names;
  } catch {
    return undefined;
  }
}

module.exports = { declaredTestNames, recordTestNames, readTestNames };
