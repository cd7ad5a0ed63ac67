// The project's jest environment (node), recording the tests each file declares when no mutant is
// active, that is in Stryker's dry run. Stryker wraps it with its own coverage-recording environment.
const { TestEnvironment } = require("jest-environment-node");
const { declaredTestNames, recordTestNames } = require("./testNames.cjs");

const ACTIVE_MUTANT = "__STRYKER_ACTIVE_MUTANT__";

class RecordingEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.testPath = context.testPath;
  }

  async handleTestEvent(event, state) {
    // While a mutant is active, test names built from the mutated code may differ: record none.
    if (event.name === "run_start" && process.env[ACTIVE_MUTANT] === undefined) {
      recordTestNames(this.testPath, declaredTestNames(state.rootDescribeBlock));
    }
  }
}

module.exports = RecordingEnvironment;
