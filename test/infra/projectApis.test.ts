import { REQUIRED_APIS, API_PROPAGATION_SECONDS } from "../../infra/projectApis";
import { propagationTrigger } from "../../infra/propagationWait";
import { BASE_CONFIG, only, ProgramRun, runProgram } from "../../testkit/pulumiProgram";

// The APIs are enabled first, and everything else waits until they have had time to become usable.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(BASE_CONFIG);
});

const WAIT = "pulumi-nodejs:dynamic:Resource";
const apisWait = () => only(run, WAIT, (resource) => resource.name === "pixel-apis-usable");
const urnOf = (type: string, name: string) => {
  const found = run.urns.filter(({ urn }) => urn.endsWith(`${type}::${name}`));
  if (found.length !== 1) throw new Error(`expected one ${type} ${name}, found ${found.length}`);
  return found[0];
};

test("the wait is keyed on the set of APIs, so it runs once, and again only when an API is added", () => {
  expect(apisWait().inputs).toMatchObject({ trigger: propagationTrigger(REQUIRED_APIS), seconds: API_PROPAGATION_SECONDS });
});

test("every stage of the pipeline waits for it", () => {
  const waitUrn = urnOf(WAIT, "pixel-apis-usable").urn;
  const stages = run.urns.filter(({ urn }) => /::pixel:infra:PixelPipeline\$pixel:infra:[A-Za-z]+::/.test(urn) && !urn.includes("pixel:infra:ProjectApis::"));
  expect(stages.length).toBeGreaterThanOrEqual(8);
  expect(stages.filter(({ dependencies }) => !dependencies.includes(waitUrn)).map(({ urn }) => urn)).toEqual([]);
});
