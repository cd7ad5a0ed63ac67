import { validateStackConfig } from "../../core/config/stackConfig";
import { DEFAULT_PIPELINE_NAME, PixelPipeline } from "../../infra/pixelPipeline";
import { CapturedResource, ofType, ProgramRun, runProgram, TEST_PROJECT } from "../../testkit/pulumiProgram";

// Another program declares two pipelines in one stack, each from its own validated config.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({}, "prod", async () => {
    const context = { stack: "prod", project: TEST_PROJECT };
    const attributes = { user_id: "STRING", type: "STRING" };
    const main = new PixelPipeline(DEFAULT_PIPELINE_NAME, validateStackConfig({ attributes, signedUrls: "true", signingKeys: "k1-0123456789abcdef" }, context));
    const shop = new PixelPipeline("shop", validateStackConfig({ attributes, datasetId: "shop_events", signedUrls: "true", signingKeys: "k2-0123456789abcdef" }, context));
    return { main: main.datasetId, shop: shop.datasetId };
  });
});

const values = (resources: CapturedResource[], read: (resource: CapturedResource) => string) => resources.map(read);
const duplicates = (items: string[]) => items.filter((item, index) => items.indexOf(item) !== index);

test("each pipeline is whole: two functions, two datasets, two push subscriptions", () => {
  expect(ofType(run, "pixel:infra:PixelPipeline").map((pipeline) => pipeline.name)).toEqual(["pixel", "shop"]);
  expect(ofType(run, "gcp:cloudfunctionsv2/function:Function")).toHaveLength(2);
  expect(run.outputs).toEqual({ main: `${TEST_PROJECT}.pixel_prod`, shop: `${TEST_PROJECT}.shop_events` });
});

test("nothing collides: URNs, service account ids and secret ids are all distinct", () => {
  expect(duplicates(run.urns.map(({ urn }) => urn))).toEqual([]);
  const accounts = values(ofType(run, "gcp:serviceaccount/account:Account"), (account) => account.inputs.accountId);
  // fn, build, push and rollup, per pipeline.
  expect(accounts).toHaveLength(8);
  expect(duplicates(accounts)).toEqual([]);
  expect(accounts.filter((id) => !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(id))).toEqual([]);
  const secrets = values(ofType(run, "gcp:secretmanager/secret:Secret"), (secret) => secret.inputs.secretId);
  expect(secrets.sort()).toEqual(["pixel-prod-signing-keys", "pixel-prod-visitor-key", "pixel-shop-prod-signing-keys", "pixel-shop-prod-visitor-key"]);
});
