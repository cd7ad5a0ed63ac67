import { ConfigError } from "../../core/config/fields";
import { ProgramRun, runProgram } from "../../testkit/pulumiProgram";

// Several mistakes at once: the program must name every one, and declare nothing.
test("a stack with several bad keys fails before any resource, with one error listing them all", async () => {
  let run: ProgramRun | undefined;
  let failure: unknown;
  try {
    run = await runProgram({
      "pixel-pipeline:attributes": JSON.stringify({ customer: "STRING", amount: "DECIMAL" }),
      "pixel-pipeline:tenantAttribute": "user_id",
      "pixel-pipeline:domain": "https://track.example.com/",
      "pixel-pipeline:functionCpu": "0.5",
      "pixel-pipeline:functionConcurrency": "40",
      "pixel-pipeline:maxDeliveryAttempts": "3",
      "pixel-pipeline:domian": "track.example.com",
    });
  } catch (error) {
    failure = error;
  }
  expect(run).toBeUndefined();
  expect(failure).toBeInstanceOf(ConfigError);
  const problems = (failure as ConfigError).problems;
  expect(problems).toEqual([
    expect.stringMatching(/^pixel-pipeline:domian: is not a setting of this program; the settings are: attributes, .*domain/),
    expect.stringMatching(/^gcp:project: is required/),
    expect.stringMatching(/^pixel-pipeline:attributes\.amount: type "DECIMAL"/),
    expect.stringMatching(/^pixel-pipeline:tenantAttribute: "user_id" must also be listed in attributes/),
    expect.stringMatching(/^pixel-pipeline:domain: "https:\/\/track\.example\.com\/" is not valid/),
    expect.stringMatching(/^pixel-pipeline:functionConcurrency: 40 needs at least 1 vCPU/),
    expect.stringMatching(/^pixel-pipeline:maxDeliveryAttempts: expected a whole number from 5 to 100/),
  ]);
  expect((failure as ConfigError).message).toContain("The stack configuration has 7 problem(s)");
});
