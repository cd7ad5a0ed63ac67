// Stryker's jest runner runs a mutant as `jest --findRelatedTests <file> -t <the covering tests>`. Jest
// then loads every related test file, even one none of whose tests match, and loading is most of the
// cost of a mutant (test/infra alone takes seconds). This sequencer drops the files none of whose
// recorded tests match -t: jest would run no test of them anyway. A file without a record is kept.
const Sequencer = require("@jest/test-sequencer").default;
const { readTestNames } = require("./testNames.cjs");

class CoveringFilesSequencer extends Sequencer {
  constructor(options) {
    super(options);
    const pattern = options?.globalConfig?.testNamePattern;
    // As jest-circus matches it: case-insensitive.
    this.testNamePattern = pattern ? new RegExp(pattern, "i") : undefined;
  }

  async sort(tests) {
    const sorted = await super.sort(tests);
    const pattern = this.testNamePattern;
    if (!pattern) return sorted;
    return sorted.filter((test) => {
      const names = readTestNames(test.path);
      return names === undefined || names.some((name) => pattern.test(name));
    });
  }
}

module.exports = CoveringFilesSequencer;
