import * as pulumi from "@pulumi/pulumi";
import { validateStackConfig } from "../../../core/config/stackConfig";
import { SIGNING_KEYS_VARIABLE, VISITOR_KEY_VARIABLE } from "../../../core/functionContract";
import { DEFAULT_PIPELINE_NAME, PixelPipeline } from "../../../infra/pixelPipeline";
import { BASE_CONFIG, grants, only, ProgramRun, RegisteredUrn, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";
import { TEST_VISITOR_KEY } from "../../../testkit/settings";

// The function's secrets: the signing keys (with signed URLs) and the generated visitor key, in
// Secret Manager, readable by the function's own account only.
const KEYS = ["k1-0123456789abcdef", "k2-0123456789abcdef"];

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:signedUrls": "true",
    "pixel-pipeline:signingKeys": JSON.stringify(KEYS),
  });
});

const collector = () => only(run, "gcp:cloudfunctionsv2/function:Function");
const runtimeMember = () => only(run, "gcp:serviceaccount/account:Account", (sa) => sa.inputs.accountId === "pixel-dev-fn").state.member;
const secret = (secretId: string) => only(run, "gcp:secretmanager/secret:Secret", (candidate) => candidate.inputs.secretId === secretId);
const versionOf = (secretId: string) => only(run, "gcp:secretmanager/secretVersion:SecretVersion", (version) => version.inputs.secret === secret(secretId).id);
// The engine receives a secret-wrapped value, which it encrypts in the state.
const encrypted = (value: string) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });

test("stores every signing key, one per line, as a secret version that stays encrypted in Pulumi's state", () => {
  expect(versionOf("pixel-dev-signing-keys").inputs.secretData).toEqual(encrypted(KEYS.join("\n")));
});

test("generates the visitor key, 32 random bytes, and stores it the same way", () => {
  const bytes = only(run, "random:index/randomBytes:RandomBytes");
  expect(bytes.inputs).toEqual({ length: 32 });
  expect(versionOf("pixel-dev-visitor-key").inputs.secretData).toEqual(encrypted(TEST_VISITOR_KEY));
});

test("hands both to the function as secret environment variables, never in its plain environment", () => {
  const { serviceConfig } = collector().inputs;
  expect(serviceConfig.secretEnvironmentVariables).toEqual([
    expect.objectContaining({ key: SIGNING_KEYS_VARIABLE, projectId: TEST_PROJECT, secret: "pixel-dev-signing-keys" }),
    expect.objectContaining({ key: VISITOR_KEY_VARIABLE, projectId: TEST_PROJECT, secret: "pixel-dev-visitor-key" }),
  ]);
  const plainEnvironment = JSON.stringify(serviceConfig.environmentVariables);
  expect([...KEYS, TEST_VISITOR_KEY].some((key) => plainEnvironment.includes(key))).toBe(false);
  expect(JSON.parse(serviceConfig.environmentVariables.PIXEL_PIPELINE_SETTINGS)).toMatchObject({ signedUrls: true });
});

test("only the function's runtime account may read the secrets", () => {
  const readers = grants(run).filter((grant) => grant.inputs.role === "roles/secretmanager.secretAccessor");
  expect(readers.map((grant) => [grant.inputs.secretId, grant.inputs.member])).toEqual([
    ["pixel-dev-signing-keys", runtimeMember()],
    ["pixel-dev-visitor-key", runtimeMember()],
  ]);
});

test("the runtime account's grants are the dataset and the secrets, nothing else", () => {
  const roles = grants(run).filter((grant) => grant.inputs.member === runtimeMember()).map((grant) => grant.inputs.role);
  expect(roles.sort()).toEqual(["roles/bigquery.dataEditor", "roles/secretmanager.secretAccessor", "roles/secretmanager.secretAccessor"]);
});

// Where the secrets are replicated. Automatic replication counts as the `global` location, which
// organisation policies commonly refuse; a secret's replication cannot change once it exists.
describe("replication", () => {
  let placed: ProgramRun;
  beforeAll(async () => {
    placed = await runProgram({}, "dev", async () => {
      const raw = { attributes: { user_id: "STRING" }, signedUrls: "true", signingKeys: KEYS, secretLocations: "europe-west4,europe-north1" };
      const pipeline = new PixelPipeline(DEFAULT_PIPELINE_NAME, validateStackConfig(raw, { stack: "dev", project: TEST_PROJECT, providerRegion: "europe-west1" }));
      return { datasetId: pipeline.datasetId };
    });
  });

  const SECRET_TYPE = "gcp:secretmanager/secret:Secret";
  const registered = (of: ProgramRun, type: string) => of.urns.filter(({ urn }) => urn.includes(`$${type}::`));
  const replicasOf = (of: ProgramRun) => ofSecrets(of).map((secret) => secret.inputs.replication);
  const ofSecrets = (of: ProgramRun) => of.resources.filter((resource) => resource.type === SECRET_TYPE);
  const updateRules = (urns: RegisteredUrn[]) => urns.map(({ ignoreChanges, deleteBeforeReplace }) => ({ ignoreChanges, deleteBeforeReplace }));

  test("by default, in the stack's region, user-managed", () => {
    expect(replicasOf(run)).toEqual([
      { userManaged: { replicas: [{ location: "europe-west1" }] } },
      { userManaged: { replicas: [{ location: "europe-west1" }] } },
    ]);
  });

  test("by default, an existing secret keeps its replication, so a stack deployed with automatic replication replaces nothing", () => {
    expect(updateRules(registered(run, SECRET_TYPE))).toEqual([
      { ignoreChanges: ["replication"], deleteBeforeReplace: false },
      { ignoreChanges: ["replication"], deleteBeforeReplace: false },
    ]);
  });

  test("with secretLocations, in those regions, and a secret elsewhere is deleted before its copy takes its id", () => {
    expect(replicasOf(placed)).toEqual([
      { userManaged: { replicas: [{ location: "europe-west4" }, { location: "europe-north1" }] } },
      { userManaged: { replicas: [{ location: "europe-west4" }, { location: "europe-north1" }] } },
    ]);
    expect(updateRules(registered(placed, SECRET_TYPE))).toEqual([
      { ignoreChanges: [], deleteBeforeReplace: true },
      { ignoreChanges: [], deleteBeforeReplace: true },
    ]);
  });

  test("a replaced visitor-key secret gets the same value: the random bytes do not depend on the secret, and nothing replaces them", () => {
    const [secret] = registered(placed, SECRET_TYPE).filter(({ urn }) => urn.endsWith("::pixel-collector-visitor-key-secret"));
    for (const of of [run, placed]) {
      const [bytes] = registered(of, "random:index/randomBytes:RandomBytes");
      expect(bytes.urn).toBe("urn:pulumi:dev::pixel-pipeline::pixel:infra:CollectorFunction$random:index/randomBytes:RandomBytes::pixel-collector-visitor-key-bytes");
      expect(bytes.dependencies).not.toContain(secret.urn);
      expect(updateRules([bytes])).toEqual([{ ignoreChanges: [], deleteBeforeReplace: false }]);
      expect(only(of, "random:index/randomBytes:RandomBytes").inputs).toEqual({ length: 32 });
      const [version] = registered(of, "gcp:secretmanager/secretVersion:SecretVersion").filter(({ urn }) => urn.endsWith("::pixel-collector-visitor-key-version"));
      expect(version.dependencies).toContain(bytes.urn);
    }
    const visitorVersion = only(placed, "gcp:secretmanager/secretVersion:SecretVersion", (version) => version.name === "pixel-collector-visitor-key-version");
    expect(visitorVersion.inputs.secretData).toEqual(encrypted(TEST_VISITOR_KEY));
  });
});
