import { DEFAULT_STACK_SETTINGS, stackConfigWarnings } from "../../../core/config/stackConfig";
import type { StackConfig } from "../../../core/config/stackConfig";
import { stackConfigReader, TEST_STACK_CONTEXT } from "../../../testkit/settings";

// Values arrive as Pulumi hands them over: strings, structured values as JSON.
const { validate, problems } = stackConfigReader({ attributes: JSON.stringify({ user_id: "STRING", type: "STRING" }) });

describe("defaults", () => {
  let config: StackConfig;
  beforeAll(() => {
    config = validate({});
  });

  test.each([
    ["project", "my-project-1"],
    ["region", "us-central1"],
    ["datasetId", "pixel_dev"],
    ["datasetLocation", "US"],
    ["deletionProtection", true],
    ["ingest", "streaming"],
    ["maxDeliveryAttempts", 10],
    ["domain", undefined],
    ["signingKeys", undefined],
  ] as const)("%s defaults to %p", (key, expected) => {
    expect(config[key]).toEqual(expected);
  });

  test("the function gets 1 vCPU, 512Mi, 16 concurrent requests, 10 instances and 60 s", () => {
    expect(config.collector).toEqual({ memory: "512Mi", cpu: "1", concurrency: 16, maxInstances: 10, timeoutSeconds: 60 });
    expect(DEFAULT_STACK_SETTINGS.functionConcurrency).toBe(16);
  });

  test("the parser settings come from the core reader", () => {
    expect(config.core).toMatchObject({ tenantAttribute: "user_id", pixelPath: "/pixel.png", templateTable: "pixel" });
    expect(config.core.attributes.map((attribute) => attribute.name)).toEqual(["user_id", "type"]);
  });
});

describe.each([
  ["dev", "pixel_dev"],
  ["prod-eu", "pixel_prod_eu"],
  ["my.stack_2", "pixel_my_stack_2"],
])("stack %p", (stack, datasetId) => {
  test(`defaults the dataset to ${datasetId}`, () => {
    expect(validate({}, { ...TEST_STACK_CONTEXT, stack }).datasetId).toBe(datasetId);
  });
});

describe.each([
  [{ providerRegion: "europe-west1" }, {}, "europe-west1"],
  [{ providerRegion: "europe-west1" }, { region: "asia-northeast1" }, "asia-northeast1"],
  [{}, {}, "us-central1"],
])("region with gcp config %p and stack keys %p", (context, raw, region) => {
  test(`is ${region}`, () => {
    expect(validate(raw, { ...TEST_STACK_CONTEXT, ...context }).region).toBe(region);
  });
});

describe.each([
  ["domain", "track.example.com", "domain", "track.example.com"],
  ["domain", "Track.Example.COM", "domain", "track.example.com"],
  ["datasetId", "events_eu", "datasetId", "events_eu"],
  ["datasetLocation", "europe-west3", "datasetLocation", "europe-west3"],
  ["datasetLocation", "EU", "datasetLocation", "EU"],
  ["deletionProtection", "false", "deletionProtection", false],
  ["deletionProtection", false, "deletionProtection", false],
  ["maxDeliveryAttempts", "5", "maxDeliveryAttempts", 5],
  ["maxDeliveryAttempts", "100", "maxDeliveryAttempts", 100],
] as const)("%s = %p", (key, value, field, expected) => {
  test(`sets ${field} to ${JSON.stringify(expected)}`, () => {
    expect(validate({ [key]: value })[field]).toEqual(expected);
  });
});

describe.each([
  [{ functionCpu: "2", functionMemory: "2Gi" }, { cpu: "2", memory: "2Gi" }],
  [{ functionCpu: "0.5", functionConcurrency: "1", functionMemory: "512Mi" }, { cpu: "0.5", concurrency: 1 }],
  [{ functionCpu: "0.583", functionConcurrency: "1", functionMemory: "1Gi" }, { cpu: "0.583", memory: "1Gi" }],
  [{ functionCpu: "1.0", functionConcurrency: "250" }, { cpu: "1", concurrency: 250 }],
  [{ functionCpu: "4", functionMemory: "4Gi", functionMaxInstances: "100" }, { cpu: "4", memory: "4Gi", maxInstances: 100 }],
  [{ functionTimeoutSeconds: "600" }, { timeoutSeconds: 600 }],
  // The edges: the least CPU with the least memory, the most memory, each CPU's memory range at its ends.
  [{ functionCpu: "0.08", functionConcurrency: "1", functionMemory: "128Mi" }, { cpu: "0.08", memory: "128Mi" }],
  [{ functionCpu: "8", functionMemory: "32Gi" }, { cpu: "8", memory: "32Gi" }],
  [{ functionCpu: "4", functionMemory: "2Gi" }, { cpu: "4", memory: "2Gi" }],
  [{ functionCpu: "0.25", functionConcurrency: "1", functionMemory: "512Mi" }, { cpu: "0.25", memory: "512Mi" }],
  [{ functionCpu: "0.5", functionConcurrency: "1", functionMemory: "1Gi" }, { cpu: "0.5", memory: "1Gi" }],
])("function sizing %p", (raw, expected) => {
  test(`is accepted as ${JSON.stringify(expected)}`, () => {
    expect(validate(raw).collector).toMatchObject(expected);
  });
});

// A size the function cannot have is one problem: the CPU and memory are not also checked against each other, which would
// compare the valid one with the default put in the other's place.
test.each([
  [{ functionCpu: "8", functionMemory: "512MB" }, "functionMemory"],
  [{ functionCpu: "3", functionMemory: "32Gi" }, "functionCpu"],
])("%p is one problem, naming %s", (raw, key) => {
  expect(problems(raw)).toEqual([expect.stringMatching(new RegExp(`^pixel-pipeline:${key}: `))]);
});

// The whole message, as a user reads it: the key, the value given, and how to fix it.
test.each([
  ["region", "US", 'pixel-pipeline:region: "US" is not valid: use a Cloud Functions region such as "us-central1" or "europe-west1".'],
  ["domain", "https://track.example.com", 'pixel-pipeline:domain: "https://track.example.com" is not valid: use a host name you control, such as "track.example.com": no scheme, path, port, wildcard or trailing dot.'],
  ["datasetId", "pixel-dev", 'pixel-pipeline:datasetId: "pixel-dev" is not valid: use 1 to 1024 letters, digits and _.'],
  ["datasetLocation", "us central", 'pixel-pipeline:datasetLocation: "us central" is not valid: use a BigQuery location such as "US", "EU" or "europe-west3".'],
  ["functionMemory", "512MB", 'pixel-pipeline:functionMemory: "512MB" is not valid: use a whole number of Mi or Gi, such as "512Mi" or "2Gi".'],
  ["functionCpu", "one", 'pixel-pipeline:functionCpu: "one" is not valid: use a number from 0.08 to 1, or 2, 4, 6 or 8.'],
])("%s = %p is refused with the fix", (key, value, message) => {
  expect(problems({ [key]: value })).toEqual([message]);
});

describe.each([
  ["domain", "https://track.example.com", "domain"],
  ["domain", "track.example.com/pixel.png", "domain"],
  ["domain", "*.example.com", "domain"],
  ["domain", "localhost", "domain"],
  ["domain", "track.example.com.", "domain"],
  ["domain", "-bad.example.com", "domain"],
  ["region", "US", "region"],
  ["datasetId", "pixel-dev", "datasetId"],
  ["datasetLocation", "us central", "datasetLocation"],
  ["deletionProtection", "yes", "deletionProtection"],
  ["maxDeliveryAttempts", "4", "maxDeliveryAttempts"],
  ["maxDeliveryAttempts", "101", "maxDeliveryAttempts"],
  ["functionMemory", "512", "functionMemory"],
  ["functionMemory", "512MB", "functionMemory"],
  ["functionMemory", "64Mi", "functionMemory"],
  ["functionMemory", "64Gi", "functionMemory"],
  ["functionMemory", "127Mi", "functionMemory"],
  ["functionMemory", "32769Mi", "functionMemory"],
  ["functionCpu", "3", "functionCpu"],
  ["functionCpu", "0.05", "functionCpu"],
  ["functionCpu", "0.07", "functionCpu"],
  ["functionCpu", "1.01", "functionCpu"],
  ["functionCpu", "one", "functionCpu"],
  ["functionConcurrency", "0", "functionConcurrency"],
  ["functionMaxInstances", "0", "functionMaxInstances"],
  ["functionTimeoutSeconds", "5", "functionTimeoutSeconds"],
  ["functionTimeoutSeconds", "3600", "functionTimeoutSeconds"],
  ["pixelPath", "pixel.png", "pixelPath"],
  ["attributes", "user_id", "attributes"],
])("%s = %p", (key, value, reported) => {
  test(`is refused, naming pixel-pipeline:${reported}`, () => {
    const found = problems({ [key]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^pixel-pipeline:${reported}: `));
  });
});

describe.each([
  [{ functionCpu: "0.5", functionConcurrency: "2" }, "functionConcurrency", /needs at least 1 vCPU/],
  [{ functionCpu: "0.25", functionConcurrency: "1", functionMemory: "1Gi" }, "functionMemory", /needs at least 0.5 vCPU/],
  [{ functionCpu: "0.5", functionConcurrency: "1", functionMemory: "2Gi" }, "functionMemory", /needs at least 1 vCPU/],
  [{ functionCpu: "1", functionMemory: "8Gi" }, "functionMemory", /does not fit 1 vCPU/],
  [{ functionCpu: "8", functionMemory: "2Gi" }, "functionMemory", /does not fit 8 vCPU/],
  // Below 1 vCPU no memory range applies, so only the function's own 128Mi floor refuses this.
  [{ functionCpu: "0.5", functionConcurrency: "1", functionMemory: "127Mi" }, "functionMemory", /is outside the 128Mi to 32Gi a function may have/],
  [{ functionCpu: "4", functionMemory: "2047Mi" }, "functionMemory", /does not fit 4 vCPU/],
  [{ functionCpu: "4", functionMemory: "16385Mi" }, "functionMemory", /does not fit 4 vCPU/],
  [{ functionCpu: "0.25", functionConcurrency: "1", functionMemory: "513Mi" }, "functionMemory", /needs at least 0.5 vCPU/],
  [{ functionCpu: "0.5", functionConcurrency: "1", functionMemory: "1025Mi" }, "functionMemory", /needs at least 1 vCPU/],
])("the combination %p", (raw, reported, message) => {
  test(`is refused at ${reported}`, () => {
    expect(problems(raw)).toEqual([expect.stringMatching(new RegExp(`^pixel-pipeline:${reported}: \\S+ ${message.source}`))]);
  });
});

describe.each([
  [{ functionCpu: "three", functionConcurrency: "80" }, ["functionCpu"]],
  [{ functionCpu: "0.5", functionConcurrency: "many" }, ["functionConcurrency"]],
  [{ functionCpu: "0.25", functionConcurrency: "1", functionMemory: "lots" }, ["functionMemory"]],
])("a malformed value in %p", (raw, reported) => {
  test("is reported alone, without cross-checks against the value it fell back to", () => {
    expect(problems(raw).map((problem) => problem.split(": ")[0])).toEqual(reported.map((key) => `pixel-pipeline:${key}`));
  });
});

describe.each([
  [undefined, /^gcp:project: is required/],
  ["My Project", /^gcp:project: "My Project" is not a project id/],
  ["123456789012", /^gcp:project: "123456789012" is not a project id/],
])("gcp:project %p", (project, message) => {
  test("is refused", () => {
    expect(problems({}, { stack: "dev", project })).toEqual([expect.stringMatching(message)]);
  });
});

// The secrets' replication: the stack's region by default, where existing secrets may stay; the
// setting names the regions and moves every secret there.
describe("secretLocations", () => {
  test.each([
    ["not set", {}, { locations: ["europe-west1"], keepExisting: true }],
    ["its declared default", { secretLocations: "[]" }, { locations: ["europe-west1"], keepExisting: true }],
    ["one region", { secretLocations: "europe-west4" }, { locations: ["europe-west4"], keepExisting: false }],
    ["a list", { secretLocations: JSON.stringify(["europe-west1", "europe-west4"]) }, { locations: ["europe-west1", "europe-west4"], keepExisting: false }],
    ["a comma-separated list", { secretLocations: "europe-west1, europe-west4" }, { locations: ["europe-west1", "europe-west4"], keepExisting: false }],
  ])("%s: %p", (_what, raw, placement) => {
    expect(validate({ region: "europe-west1", ...raw }).secretPlacement).toEqual(placement);
  });

  test("follows the provider's region when the stack names none", () => {
    expect(validate({}, { ...TEST_STACK_CONTEXT, providerRegion: "asia-east1" }).secretPlacement.locations).toEqual(["asia-east1"]);
  });

  test.each([
    [["global"], ['pixel-pipeline:secretLocations[0]: "global" is not a region: use regions such as "europe-west1", which your organisation\'s resource locations allow.']],
    [["europe-west1", "EU"], ['pixel-pipeline:secretLocations[1]: "EU" is not a region: use regions such as "europe-west1", which your organisation\'s resource locations allow.']],
    [["europe-west1", "europe-west1"], ['pixel-pipeline:secretLocations[1]: "europe-west1" is listed twice: name each region once.']],
  ])("%p is refused with the fix", (locations, messages) => {
    expect(problems({ secretLocations: JSON.stringify(locations) })).toEqual(messages);
  });
});

describe("signed URLs", () => {
  test.each([
    ["a JSON list", JSON.stringify(["k1-0123456789abcdef", "k2-0123456789abcdef"])],
    ["a comma-separated string", "k1-0123456789abcdef, k2-0123456789abcdef"],
    ["one key per line", "k1-0123456789abcdef\nk2-0123456789abcdef"],
  ])("keys given as %s reach the function one per line", (_form, keys) => {
    expect(validate({ signedUrls: "true", signingKeys: keys }).signingKeys).toBe("k1-0123456789abcdef\nk2-0123456789abcdef");
  });

  test.each([
    [undefined, /PIXEL_SIGNING_KEYS is empty: set the key with `pulumi config set --secret pixel-pipeline:signingKeys <key>`/],
    ["short", /at least 16 characters/],
    ["0123456789abcde", /at least 16 characters/],
    // A rotation that adds a short key: the function would refuse to start, so the program refuses the config.
    ["k1-0123456789abcdef\nshort", /^pixel-pipeline:signingKeys: every signing key needs at least 16 characters/],
  ])("signingKeys %p is refused when signedUrls is on", (keys, message) => {
    expect(problems({ signedUrls: "true", signingKeys: keys })).toEqual([expect.stringMatching(message)]);
  });

  test("a key of exactly 16 characters is long enough", () => {
    expect(validate({ signedUrls: "true", signingKeys: "0123456789abcdef" }).signingKeys).toBe("0123456789abcdef");
  });

  test("keys are not carried when signedUrls is off", () => {
    expect(validate({ signingKeys: "k1-0123456789abcdef" }).signingKeys).toBeUndefined();
  });
});

test("every problem in the stack is reported at once, each with its key", () => {
  const found = problems(
    {
      attributes: JSON.stringify({ user_id: "STRING", price: "MONEY" }),
      tenantAttribute: "tenant",
      domain: "http://track.example.com",
      datasetId: "my-dataset",
      maxDeliveryAttempts: "1",
      functionMemory: "huge",
    },
    { stack: "dev" },
  );
  expect(found.map((problem) => problem.split(": ")[0])).toEqual([
    "gcp:project",
    "pixel-pipeline:attributes.price",
    "pixel-pipeline:tenantAttribute",
    "pixel-pipeline:domain",
    "pixel-pipeline:datasetId",
    "pixel-pipeline:functionMemory",
    "pixel-pipeline:maxDeliveryAttempts",
  ]);
});

describe("warnings about a valid configuration", () => {
  // A retention set on purpose: its own warning is tested in retention.test.ts.
  const { validate: configWith } = stackConfigReader({ attributes: { user_id: "STRING" }, retentionDays: 760 }, { ...TEST_STACK_CONTEXT, providerRegion: "us-central1" });

  test.each([
    [{}, /each new tenant creates BigQuery tables/],
    [{ layout: "partitioned" }, /each invented tenant becomes rows/],
  ])("a stack with %p and neither an allowlist nor signed URLs is warned", (raw, consequence) => {
    const warnings = stackConfigWarnings(configWith(raw));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(consequence);
    expect(warnings[0]).toContain("docs/deploy.md#production-checklist");
  });

  test.each([{ tenantAllowlist: ["acme"] }, { signedUrls: true, signingKeys: "0123456789abcdef" }])("a stack with %p is not", (raw) => {
    expect(stackConfigWarnings(configWith(raw))).toEqual([]);
  });

  // The first words of each warning: who may invent tenants, then whether batch loads may run out.
  test.each([
    [{ ingest: "batch" }, ["Anyone can invent tenants", "Batch loads may run out of BigQuery's load jobs"]],
    [{ ingest: "batch", signedUrls: true, signingKeys: "0123456789abcdef" }, ["Batch loads may run out of BigQuery's load jobs"]],
    [{ ingest: "batch", tenantAllowlist: ["acme"] }, []],
    [{ ingest: "batch", layout: "partitioned", signedUrls: true, signingKeys: "0123456789abcdef" }, []],
  ])("a stack with %p is warned: %p", (raw, warnings) => {
    expect(stackConfigWarnings(configWith(raw)).map((warning) => warning.split(":")[0])).toEqual(warnings);
  });
});

describe("ingest", () => {
  test.each([
    [{ ingest: "streaming" }, "streaming"],
    [{ ingest: "batch" }, "batch"],
    [{ ingest: "batch", archive: "true", functionTimeoutSeconds: "60", maxDeliveryAttempts: 10 }, "batch"],
    [{ ingest: "streaming", archive: "false", functionTimeoutSeconds: "600" }, "streaming"],
  ])("%p reads as %s", (raw, mode) => {
    expect(validate(raw).ingest).toBe(mode);
  });

  // The whole message, as a user reads it: the key, what is wrong, and the fix.
  test.each([
    [{ ingest: "Batch" }, ['pixel-pipeline:ingest: "Batch" is not valid: use "streaming" (each event in BigQuery within seconds, the default) or "batch" (the archive\'s hourly files loaded hours later, for about the price of the CDN alone).']],
    [{ ingest: "batch", archive: "false" }, ["pixel-pipeline:ingest: batch loads the raw archive's files, but archive is false: set archive to true, or ingest to streaming."]],
    [
      { ingest: "batch", functionTimeoutSeconds: "600", maxDeliveryAttempts: "20", alertBacklogMinutes: "60" },
      ["functionTimeoutSeconds", "maxDeliveryAttempts", "alertBacklogMinutes"].map((key) => `pixel-pipeline:${key}: has no effect while ingest is batch: remove it, or set ingest to streaming.`),
    ],
  ])("%p is refused with the fix", (raw, messages) => {
    expect(problems(raw)).toEqual(messages);
  });

  test("a batch stack's problems are reported with every other problem, at once", () => {
    expect(problems({ ingest: "batch", archive: "false", region: "US" }).map((problem) => problem.split(": ")[0]).sort()).toEqual(["pixel-pipeline:ingest", "pixel-pipeline:region"]);
  });
});
