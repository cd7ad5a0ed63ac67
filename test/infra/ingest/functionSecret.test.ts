import * as pulumi from "@pulumi/pulumi";
import { SIGNING_KEYS_VARIABLE } from "../../../core/functionContract";
import { BASE_CONFIG, grants, only, ProgramRun, runProgram, TEST_PROJECT } from "../../../testkit/pulumiProgram";

// With signed URLs: the keys go to Secret Manager, readable by the function's own account only.
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

test("stores every key, one per line, as a secret version that stays encrypted in Pulumi's state", () => {
  const secret = only(run, "gcp:secretmanager/secret:Secret");
  expect(secret.inputs.secretId).toBe("pixel-dev-signing-keys");
  const version = only(run, "gcp:secretmanager/secretVersion:SecretVersion");
  expect(version.inputs.secret).toBe(secret.id);
  // The engine receives a secret-wrapped value, which it encrypts in the state.
  expect(version.inputs.secretData).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: KEYS.join("\n") });
});

test("hands the keys to the function as a secret environment variable, never in its plain environment", () => {
  const { serviceConfig } = collector().inputs;
  expect(serviceConfig.secretEnvironmentVariables).toEqual([
    expect.objectContaining({ key: SIGNING_KEYS_VARIABLE, projectId: TEST_PROJECT, secret: "pixel-dev-signing-keys" }),
  ]);
  const plainEnvironment = JSON.stringify(serviceConfig.environmentVariables);
  expect(KEYS.some((key) => plainEnvironment.includes(key))).toBe(false);
  expect(JSON.parse(serviceConfig.environmentVariables.PIXEL_PIPELINE_SETTINGS)).toMatchObject({ signedUrls: true });
});

test("only the function's runtime account may read the secret", () => {
  const readers = grants(run).filter((grant) => grant.inputs.role === "roles/secretmanager.secretAccessor");
  expect(readers.map((grant) => [grant.inputs.secretId, grant.inputs.member])).toEqual([["pixel-dev-signing-keys", runtimeMember()]]);
});

test("the runtime account's grants are the dataset and the secret, nothing else", () => {
  const roles = grants(run).filter((grant) => grant.inputs.member === runtimeMember()).map((grant) => grant.inputs.role);
  expect(roles.sort()).toEqual(["roles/bigquery.dataEditor", "roles/secretmanager.secretAccessor"]);
});
