import { validateStackConfig } from "../../../core/config/stackConfig";
import { IAM_PROPAGATION_SECONDS } from "../../../infra/ingest/functionDeployment";
import { DEFAULT_PIPELINE_NAME, PixelPipeline } from "../../../infra/pixelPipeline";
import { propagationTrigger } from "../../../infra/propagationWait";
import { grants, only, ProgramRun, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";

// The function is deployed only after every grant its deployment depends on has had time to
// settle, on the first deployment and whenever a grant is added later.
const ATTRIBUTES = { user_id: "STRING", type: "STRING" };

async function deploy(settings: Record<string, unknown>): Promise<ProgramRun> {
  return runProgram({}, "dev", async () => {
    const pipeline = new PixelPipeline(DEFAULT_PIPELINE_NAME, validateStackConfig({ attributes: ATTRIBUTES, ...settings }, { stack: "dev", project: TEST_PROJECT }));
    return { datasetId: pipeline.datasetId };
  });
}

let plain: ProgramRun;
let signed: ProgramRun;
beforeAll(async () => {
  plain = await deploy({});
  signed = await deploy({ signedUrls: "true", signingKeys: "k1-0123456789abcdef" });
});

const grantsWait = (run: ProgramRun) => only(run, "pulumi-nodejs:dynamic:Resource", (resource) => resource.name === "pixel-collector-grants");
const accountMembers = (run: ProgramRun) => new Set(["pixel-dev-fn", "pixel-dev-build"].map((id) => only(run, "gcp:serviceaccount/account:Account", (sa) => sa.inputs.accountId === id).state.member));
const accountGrantIds = (run: ProgramRun) => grants(run).filter((grant) => accountMembers(run).has(grant.inputs.member)).map((grant) => grant.id);

test.each([
  ["without signed URLs", () => plain, 6],
  ["with signed URLs", () => signed, 7],
])("%s, the wait is keyed on every grant of the function's build and runtime accounts", (_stack, run, count) => {
  expect(accountGrantIds(run())).toHaveLength(count);
  expect(grantsWait(run()).inputs).toMatchObject({ trigger: propagationTrigger(accountGrantIds(run())), seconds: IAM_PROPAGATION_SECONDS });
});

test("turning signedUrls on changes the wait's trigger by the signing keys' reader grant, so the wait runs again", () => {
  const reader = only(signed, "gcp:secretmanager/secretIamMember:SecretIamMember", (grant) => grant.inputs.secretId === "pixel-dev-signing-keys");
  expect(grantsWait(signed).inputs.trigger).not.toEqual(grantsWait(plain).inputs.trigger);
  expect(grantsWait(signed).inputs.trigger).toEqual(propagationTrigger([...accountGrantIds(plain), reader.id]));
});

test("the function is deployed after the wait", () => {
  const urnOf = (run: ProgramRun, suffix: string) => run.urns.filter(({ urn }) => urn.endsWith(suffix));
  const [wait] = urnOf(signed, "pulumi-nodejs:dynamic:Resource::pixel-collector-grants");
  const [fn] = urnOf(signed, "gcp:cloudfunctionsv2/function:Function::pixel-collector-function");
  expect(fn.dependencies).toContain(wait.urn);
});
