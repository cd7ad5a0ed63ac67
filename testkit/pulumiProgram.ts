import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ROLLUPS, VIEWS } from "../core/layout";
import { encodeTenant } from "../core/tenant";
import { BREAKDOWNS } from "../core/views";
import { memberResourceName } from "../infra/warehouse/tenantAccess";
import { TEST_VISITOR_KEY } from "./settings";

/**
 * Runs index.ts against Pulumi's mocks: no cloud, no CLI. Each test file gets a fresh module
 * registry from jest, so each file runs the program once with its own config.
 */

interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getAliasurnsList(): string[];
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
}

interface MockMonitor {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(request: RegisterResourceRequest, callback: unknown): Promise<void>;
}

export const TEST_PROJECT = "pixel-test-project";
export const TEST_PROJECT_NUMBER = "123456789012";
export const TEST_IP = "203.0.113.7";
export const SINK_WRITER = "serviceAccount:service-123456789012@gcp-sa-logging.iam.gserviceaccount.com";
/** What Cloud Storage reports as the project's service agent. */
export const STORAGE_AGENT_EMAIL = `service-${TEST_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com`;


export const BASE_CONFIG: Readonly<Record<string, string>> = {
  "gcp:project": TEST_PROJECT,
  "gcp:region": "europe-west1",
  "pixel-pipeline:attributes": JSON.stringify({ user_id: "STRING", order_id: "INT64", type: "STRING" }),
  "pixel-pipeline:deletionProtection": "false",
};

// A nested bag of resource inputs; the tests read it like the JSON the engine would send.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Bag = Record<string, any>;

export interface CapturedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Bag;
  readonly state: Bag;
  readonly id: string;
}

/** A resource's URN and the URNs its aliases name, as the engine would match them against a stack's state. */
export interface RegisteredUrn {
  readonly urn: string;
  readonly aliases: readonly string[];
  /** The URNs it waits for: dependsOn (a component expanded to its children) and its inputs' resources. */
  readonly dependencies: readonly string[];
  /** How an update treats it: the inputs it keeps as they are in the state, and whether a replacement deletes it first. */
  readonly ignoreChanges: readonly string[];
  readonly deleteBeforeReplace: boolean;
}

export interface ProgramRun {
  /** In the order the program registered them. */
  readonly resources: readonly CapturedResource[];
  readonly urns: readonly RegisteredUrn[];
  readonly outputs: Bag;
  /** What the program told `pulumi preview` with pulumi.log.warn. */
  readonly warnings: readonly string[];
}

/** The program's stack outputs: index.ts by default, or another program that declares PixelPipelines. */
type Program = () => Promise<Bag>;

/** Changes what the provider reports for a resource: a test of an answer Google may give. */
export type ReportedState = (type: string, state: Bag) => Bag;

/** Sets the mocks and the config, runs the program to completion and returns what it declared. */
export async function runProgram(
  config: Readonly<Record<string, string>>,
  stack = "dev",
  program: Program = () => import("../index"),
  reported: ReportedState = (_type, state) => state,
): Promise<ProgramRun> {
  const resources: CapturedResource[] = [];
  const urns: RegisteredUrn[] = [];
  const warnings: string[] = [];
  jest.spyOn(pulumi.log, "warn").mockImplementation(async (message) => void warnings.push(message));
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const { id, state: mocked } = mockResult(args.type, args.name, args.inputs);
        const state = reported(args.type, mocked);
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, state, id });
        return { id, state };
      },
      call(args) {
        if (args.token === "gcp:organizations/getProject:getProject") return { projectId: args.inputs.projectId, number: TEST_PROJECT_NUMBER };
        if (args.token === "gcp:storage/getProjectServiceAccount:getProjectServiceAccount") {
          return { project: args.inputs.project, emailAddress: STORAGE_AGENT_EMAIL, member: `serviceAccount:${STORAGE_AGENT_EMAIL}` };
        }
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "pixel-pipeline",
    stack,
    false,
  );
  // Alias specs would leave inherited child aliases to the engine; as URNs the SDK computes them all here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require("@pulumi/pulumi/runtime/state") as { getStore(): { supportsAliasSpecs: boolean } }).getStore().supportsAliasSpecs = false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): MockMonitor }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    urns.push({
      urn: monitor.newUrn(request.getParent(), request.getType(), request.getName()),
      aliases: request.getAliasurnsList(),
      dependencies: request.getDependenciesList(),
      ignoreChanges: request.getIgnorechangesList(),
      deleteBeforeReplace: request.getDeletebeforereplace(),
    });
    return register(request, callback);
  };
  pulumi.runtime.setAllConfig({ ...config });
  const outputs: Bag = {};
  for (const [key, value] of Object.entries(await program())) {
    outputs[key] = pulumi.Output.isInstance(value) ? await new Promise((resolve) => value.apply(resolve)) : value;
  }
  // Waits for every outstanding registration, so the list is complete.
  await pulumi.runtime.disconnect();
  return { resources, urns, outputs, warnings };
}

/** Stands in for the provider: the outputs that Google (or Pulumi's auto-naming) would fill in. */
function mockResult(type: string, name: string, inputs: Bag): { id: string; state: Bag } {
  const physicalName: string = inputs.name ?? `${name}-x1y2z3`;
  const state = { ...inputs, name: physicalName };
  switch (type) {
    case "gcp:serviceaccount/account:Account": {
      const email = `${inputs.accountId}@${TEST_PROJECT}.iam.gserviceaccount.com`;
      const id = `projects/${TEST_PROJECT}/serviceAccounts/${email}`;
      return { id, state: { ...state, email, member: `serviceAccount:${email}`, name: id } };
    }
    case "gcp:projects/serviceIdentity:ServiceIdentity": {
      const email = `service-${TEST_PROJECT_NUMBER}@gcp-sa-${String(inputs.service).split(".")[0]}.iam.gserviceaccount.com`;
      return { id: `${name}-id`, state: { ...state, email, member: `serviceAccount:${email}` } };
    }
    case "gcp:pubsub/topic:Topic":
      return { id: `projects/${TEST_PROJECT}/topics/${physicalName}`, state };
    case "gcp:pubsub/subscription:Subscription":
      return { id: `projects/${TEST_PROJECT}/subscriptions/${physicalName}`, state };
    case "gcp:logging/projectSink:ProjectSink":
      return { id: `${name}-id`, state: { ...state, writerIdentity: SINK_WRITER } };
    case "gcp:compute/globalAddress:GlobalAddress":
      return { id: `projects/${TEST_PROJECT}/global/addresses/${physicalName}`, state: { ...state, address: TEST_IP } };
    // What the random provider would generate for the visitor key: 32 bytes, as base64.
    case "random:index/randomBytes:RandomBytes":
      return { id: `${name}-id`, state: { ...state, base64: TEST_VISITOR_KEY, hex: Buffer.from(TEST_VISITOR_KEY, "base64").toString("hex") } };
    case "gcp:cloudfunctionsv2/function:Function":
      return {
        id: `projects/${TEST_PROJECT}/locations/${inputs.location}/functions/${physicalName}`,
        state: {
          ...state,
          serviceConfig: {
            ...inputs.serviceConfig,
            uri: `https://${physicalName}-abc123-ew.a.run.app`,
            service: `projects/${TEST_PROJECT}/locations/${inputs.location}/services/${physicalName}`,
          },
        },
      };
    default:
      return { id: `${name}-id`, state: { ...state, selfLink: `https://www.googleapis.com/compute/v1/projects/${TEST_PROJECT}/global/${physicalName}` } };
  }
}

export function ofType(run: ProgramRun, type: string): CapturedResource[] {
  return run.resources.filter((resource) => resource.type === type);
}

/** The only resource of a type (that matches), failing loudly if there are none or several. */
export function only(run: ProgramRun, type: string, matches: (resource: CapturedResource) => boolean = () => true): CapturedResource {
  const found = ofType(run, type).filter(matches);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}: ${found.map((resource) => resource.name).join(", ")}`);
  return found[0];
}

/** Every IAM grant the program declares, whatever the resource type, as role/member/resource. */
export function grants(run: ProgramRun): CapturedResource[] {
  return run.resources.filter((resource) => typeof resource.inputs.role === "string");
}

/** Every string anywhere in a resource's inputs. */
export function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === "object") return Object.values(value).flatMap(strings);
  return [];
}

/** What a stack deployed from an earlier program holds, as fixtures/deployed-urns.json records it. */
export interface DeployedStack {
  readonly stack: string;
  readonly config: Readonly<Record<string, string>>;
  readonly urns: readonly string[];
}

/** A stack deployed from the program before PixelPipeline (commit e4b0799): "dev", or "prod" with every optional feature on. */
export function deployedStack(name: "dev" | "prod"): DeployedStack {
  const fixture = JSON.parse(readFileSync(path.join(__dirname, "fixtures", "deployed-urns.json"), "utf8")) as { stacks: DeployedStack[] };
  const [stack] = fixture.stacks.filter((candidate) => candidate.stack === name);
  return stack;
}

/**
 * The resources a stack deployed from the fixture's commit gains, and nothing else: the component
 * that now holds the others; the wait for the just-enabled APIs; the Pub/Sub service agent,
 * declared before it is granted roles; the build account's read access to the source bucket; for
 * the answer columns, the generated visitor key and its secret, the four breakdown views, and
 * each tenant reader's grant on them; and the rollups (addedWithRollups).
 */
export function addedSinceDeployed(deployed: DeployedStack): string[] {
  const { stack } = deployed;
  const secret = "pixel:infra:VisitorKeySecret";
  const views = [...BREAKDOWNS.map((breakdown) => breakdown.name), VIEWS.dailyTotals].map((view) => `pixel-analytics-${view.replace(/_/g, "-")}`);
  const readers = deployedReaders(deployed);
  return [
    ...addedWithRollups(deployed),
    ...addedWithRetention(deployed),
    `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:PixelPipeline::pixel`,
    `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:ProjectApis$pulumi-nodejs:dynamic:Resource::pixel-apis-usable`,
    `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:PushDelivery$gcp:projects/serviceIdentity:ServiceIdentity::pixel-delivery-pubsub-agent`,
    `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:CollectorFunction$gcp:storage/bucketIAMMember:BucketIAMMember::pixel-collector-build-source-reader`,
    `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:CollectorFunction$${secret}::pixel-collector-visitor-key`,
    `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:CollectorFunction$random:index/randomBytes:RandomBytes::pixel-collector-visitor-key-bytes`,
    `urn:pulumi:${stack}::pixel-pipeline::${secret}$gcp:secretmanager/secret:Secret::pixel-collector-visitor-key-secret`,
    `urn:pulumi:${stack}::pixel-pipeline::${secret}$gcp:secretmanager/secretVersion:SecretVersion::pixel-collector-visitor-key-version`,
    `urn:pulumi:${stack}::pixel-pipeline::${secret}$gcp:secretmanager/secretIamMember:SecretIamMember::pixel-collector-visitor-key-reader`,
    ...views.map((view) => `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:AnalyticsViews$gcp:bigquery/table:Table::${view}`),
    ...views.flatMap((view) => readers.map((member) => `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:AnalyticsViews$gcp:bigquery/iamMember:IamMember::${view}-${memberResourceName(member)}`)),
  ];
}

/**
 * What the retention adds to a per-tenant-day stack that keeps data for a time: the query jobs that
 * clear the expiration the dataset would give the template and each view (infra/warehouse/tableExpiration.ts).
 */
function addedWithRetention(deployed: DeployedStack): string[] {
  const { stack, config } = deployed;
  if (config["pixel-pipeline:layout"] === "partitioned" || config["pixel-pipeline:retentionDays"] === "forever") return [];
  const prefix = `urn:pulumi:${stack}::pixel-pipeline::pixel:infra:`;
  return [
    `${prefix}EventWarehouse$gcp:bigquery/job:Job::pixel-events-template-keep`,
    ...Object.values(VIEWS).map((view) => `${prefix}AnalyticsViews$gcp:bigquery/job:Job::pixel-analytics-${view.replace(/_/g, "-")}-keep`),
  ];
}

function deployedReaders(deployed: DeployedStack): string[] {
  return [...new Set([...JSON.parse(deployed.config["pixel-pipeline:allTenantsReaders"] ?? "[]"), ...Object.values<string[]>(JSON.parse(deployed.config["pixel-pipeline:tenantReaders"] ?? "{}")).flat()])];
}

/**
 * What the rollups add to a deployed stack: the Data Transfer API; the Rollups component with its
 * tables, runner account and grants and the transfer agent; the RollupSchedule component with the
 * scheduled query; with tenantReaders, each rollup table's row access policies and each reader's
 * grant on it. The daily views stay, with new SQL, under their URNs.
 */
function addedWithRollups(deployed: DeployedStack): string[] {
  const { stack } = deployed;
  const prefix = `urn:pulumi:${stack}::pixel-pipeline::`;
  const readers = deployedReaders(deployed);
  const tenants = Object.keys(JSON.parse(deployed.config["pixel-pipeline:tenantReaders"] ?? "{}") as Record<string, unknown>);
  const partitioned = deployed.config["pixel-pipeline:layout"] === "partitioned";
  const rollup = "pixel:infra:Rollups$";
  const tables = Object.values(ROLLUPS).map((table) => `pixel-rollups-${table.replace(/_/g, "-")}`);
  return [
    `${prefix}pixel:infra:ProjectApis$gcp:projects/service:Service::pixel-apis-bigquerydatatransfer`,
    `${prefix}pixel:infra:PixelPipeline$pixel:infra:Rollups::pixel-rollups`,
    `${prefix}${rollup}gcp:serviceaccount/account:Account::pixel-rollups-runner`,
    `${prefix}${rollup}gcp:bigquery/${partitioned ? "iamMember:IamMember" : "datasetIamMember:DatasetIamMember"}::pixel-rollups-events-reader`,
    `${prefix}${rollup}gcp:projects/iAMMember:IAMMember::pixel-rollups-job-user`,
    `${prefix}${rollup}gcp:projects/serviceIdentity:ServiceIdentity::pixel-rollups-transfer-agent`,
    `${prefix}${rollup}gcp:serviceaccount/iAMMember:IAMMember::pixel-rollups-transfer-agent-token-creator`,
    `${prefix}pixel:infra:PixelPipeline$pixel:infra:RollupSchedule::pixel-rollups-schedule`,
    `${prefix}pixel:infra:RollupSchedule$gcp:bigquery/dataTransferConfig:DataTransferConfig::pixel-rollups-schedule`,
    ...tables.flatMap((table) => [
      `${prefix}${rollup}gcp:bigquery/table:Table::${table}`,
      `${prefix}${rollup}gcp:bigquery/iamMember:IamMember::${table}-writer`,
      ...(tenants.length > 0 ? [`${prefix}${rollup}gcp:bigquery/rowAccessPolicy:RowAccessPolicy::${table}-all-tenants`] : []),
      ...tenants.map((tenant) => `${prefix}${rollup}gcp:bigquery/rowAccessPolicy:RowAccessPolicy::${table}-tenant-${encodeTenant(tenant)}`),
      ...readers.map((member) => `${prefix}${rollup}gcp:bigquery/iamMember:IamMember::${table}-${memberResourceName(member)}`),
    ]),
  ];
}

/**
 * Runs the program with a deployed stack's config and tells how the stack would update: each of
 * its resources is either kept (same URN) or reached through an alias, or it would be deleted and
 * created anew. `claimedTwice` lists old URNs that two new resources would both take over;
 * `created` the new resources that take over none.
 */
export async function updateOf(deployed: DeployedStack): Promise<{ deleted: string[]; claimedTwice: string[]; created: string[] }> {
  const run = await runProgram(deployed.config, deployed.stack);
  const claims = new Map<string, number>();
  for (const { urn, aliases } of run.urns) {
    for (const claimed of new Set([urn, ...aliases])) claims.set(claimed, (claims.get(claimed) ?? 0) + 1);
  }
  return {
    deleted: deployed.urns.filter((urn) => !claims.has(urn)),
    claimedTwice: deployed.urns.filter((urn) => (claims.get(urn) ?? 0) > 1),
    created: run.urns.filter(({ urn, aliases }) => ![urn, ...aliases].some((claimed) => deployed.urns.includes(claimed))).map(({ urn }) => urn),
  };
}
