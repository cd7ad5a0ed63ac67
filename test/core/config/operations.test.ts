import { ConfigProblems, RawConfig } from "../../../core/config/fields";
import { isIpRange, OperationsSettings, readOperationsSettings } from "../../../core/config/operations";
import { KNOWN_CONFIG_KEYS } from "../../../core/config/keys";
import { readRetentionSettings } from "../../../core/config/retention";
import { validateStackConfig } from "../../../core/config/stackConfig";
import { configProblems, TEST_STACK_CONTEXT } from "../../../testkit/settings";

function read(raw: RawConfig): { settings: OperationsSettings; problems: string[] } {
  const problems = new ConfigProblems();
  const retention = readRetentionSettings(raw, 2, problems);
  return { settings: readOperationsSettings(raw, retention, problems), problems: problems.messages };
}

describe("defaults: a fresh stack is archived, monitored and stores its request logs once", () => {
  let settings: OperationsSettings;
  let problems: string[];
  beforeAll(() => {
    ({ settings, problems } = read({}));
  });

  test("no problems", () => expect(problems).toEqual([]));
  test("the archive is on, cold after 30 days, deleted with the retention (760 days), recoverable for 7 days", () =>
    expect(settings.archive).toEqual({ coldAfterDays: 30, deleteAfterDays: 760, softDeleteDays: 7 }));
  test("the request logs are excluded from _Default", () => expect(settings.excludeRequestLogsFromDefaultBucket).toBe(true));
  test("monitoring is on, without e-mail, alerting on a 30-minute backlog", () => expect(settings.monitoring).toEqual({ backlogAlertMinutes: 30 }));
  test("there is no edge policy", () => expect(settings.edgeSecurity).toBeUndefined());
});

const ipRanges = (count: number) => Array.from({ length: count }, (_, index) => `10.0.${index}.0/24`);
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const regionCodes = (count: number) => Array.from({ length: count }, (_, index) => `${LETTERS[Math.floor(index / 26)]}${LETTERS[index % 26]}`);

describe.each<[string, RawConfig, Partial<OperationsSettings>]>([
  ["archive off", { archive: "false" }, { archive: undefined, excludeRequestLogsFromDefaultBucket: false }],
  ["archive off, exclusion asked for", { archive: false, excludeRequestLogsFromDefaultBucket: "true" }, { archive: undefined, excludeRequestLogsFromDefaultBucket: true }],
  ["exclusion off", { excludeRequestLogsFromDefaultBucket: "false" }, { excludeRequestLogsFromDefaultBucket: false }],
  ["colder later, deleted after a year", { archiveColdAfterDays: "90", archiveDeleteAfterDays: "365" }, { archive: { coldAfterDays: 90, deleteAfterDays: 365, softDeleteDays: 7 } }],
  ["kept as long as the retention", { retentionDays: "400" }, { archive: { coldAfterDays: 30, deleteAfterDays: 400, softDeleteDays: 7 } }],
  ["kept for ever with the retention", { retentionDays: "forever" }, { archive: { coldAfterDays: 30, softDeleteDays: 7 } }],
  ["kept for ever, the archive for a year", { retentionDays: "forever", archiveDeleteAfterDays: "365" }, { archive: { coldAfterDays: 30, deleteAfterDays: 365, softDeleteDays: 7 } }],
  ["the archive shorter than the rows", { retentionDays: "760", archiveDeleteAfterDays: "90" }, { archive: { coldAfterDays: 30, deleteAfterDays: 90, softDeleteDays: 7 } }],
  ["the archive exactly as long as the rows", { retentionDays: "400", archiveDeleteAfterDays: "400" }, { archive: { coldAfterDays: 30, deleteAfterDays: 400, softDeleteDays: 7 } }],
  ["soft delete off", { archiveSoftDeleteDays: "0" }, { archive: { coldAfterDays: 30, deleteAfterDays: 760, softDeleteDays: 0 } }],
  ["soft delete for 90 days", { archiveSoftDeleteDays: 90 }, { archive: { coldAfterDays: 30, deleteAfterDays: 760, softDeleteDays: 90 } }],
  ["monitoring off", { monitoring: "false" }, { monitoring: undefined }],
  ["an e-mail and a longer backlog", { alertEmail: "oncall@example.com", alertBacklogMinutes: "60" }, { monitoring: { alertEmail: "oncall@example.com", backlogAlertMinutes: 60 } }],
  [
    "denied ranges and regions",
    { edgeDeniedIpRanges: JSON.stringify(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]), edgeDeniedRegions: "KP, RU" },
    { edgeSecurity: { deniedIpRanges: ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"], deniedRegions: ["KP", "RU"] } },
  ],
  ["only regions", { edgeDeniedRegions: ["FR"] }, { edgeSecurity: { deniedIpRanges: [], deniedRegions: ["FR"] } }],
  // Pulumi merges Pulumi.yaml's defaults into every stack, as text or in YAML's own types: a switched-off feature's keys may hold them.
  ["archive off, its default as text", { archive: "false", archiveColdAfterDays: "30" }, { archive: undefined }],
  ["archive off, its default as a number", { archive: false, archiveColdAfterDays: 30 }, { archive: undefined }],
  ["monitoring off, its default", { monitoring: "false", alertBacklogMinutes: "30" }, { monitoring: undefined }],
  ["deleted the day after it goes cold", { archiveColdAfterDays: "30", archiveDeleteAfterDays: "31" }, { archive: { coldAfterDays: 30, deleteAfterDays: 31, softDeleteDays: 7 } }],
  ["as many ranges and regions as the policy takes", { edgeDeniedIpRanges: ipRanges(100), edgeDeniedRegions: regionCodes(50) }, { edgeSecurity: { deniedIpRanges: ipRanges(100), deniedRegions: regionCodes(50) } }],
])("%s", (_, raw, expected) => {
  test("is read without problems", () => {
    const { settings, problems } = read(raw);
    expect(problems).toEqual([]);
    const absent = Object.keys(expected).filter((key) => expected[key as keyof OperationsSettings] === undefined);
    expect(settings).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([key]) => !absent.includes(key))));
    for (const key of absent) expect(settings).not.toHaveProperty(key);
  });
});

describe.each<[RawConfig, RegExp]>([
  [{ archive: "yes" }, /^pixel-pipeline:archive: expected true or false/],
  [{ archiveColdAfterDays: "0" }, /^pixel-pipeline:archiveColdAfterDays: expected a whole number from 1 to 3650/],
  [{ archiveDeleteAfterDays: "10" }, /^pixel-pipeline:archiveDeleteAfterDays: 10 must be more than archiveColdAfterDays \(30\)/],
  [{ archiveDeleteAfterDays: "soon" }, /^pixel-pipeline:archiveDeleteAfterDays: expected a whole number from 2 to 3650/],
  [{ archive: "false", archiveColdAfterDays: "7" }, /^pixel-pipeline:archiveColdAfterDays: has no effect while archive is false/],
  [{ archive: "false", archiveColdAfterDays: 31 }, /^pixel-pipeline:archiveColdAfterDays: has no effect while archive is false/],
  [{ monitoring: "false", alertEmail: "a@example.com" }, /^pixel-pipeline:alertEmail: has no effect while monitoring is false/],
  [{ alertEmail: "oncall" }, /^pixel-pipeline:alertEmail: "oncall" is not valid: use one e-mail address/],
  [{ alertBacklogMinutes: "5" }, /^pixel-pipeline:alertBacklogMinutes: expected a whole number from 15 to 1440/],
  [{ edgeDeniedIpRanges: "203.0.113.0/33" }, /^pixel-pipeline:edgeDeniedIpRanges\[0\]: "203\.0\.113\.0\/33" is not an IP address or CIDR range/],
  [{ edgeDeniedIpRanges: ["10.0.0.1", "example.com"] }, /^pixel-pipeline:edgeDeniedIpRanges\[1\]: "example\.com"/],
  [{ archiveDeleteAfterDays: "30" }, /^pixel-pipeline:archiveDeleteAfterDays: 30 must be more than archiveColdAfterDays \(30\)/],
  [{ archiveDeleteAfterDays: "761" }, /^pixel-pipeline:archiveDeleteAfterDays: 761 keeps archived entries, with their full IPs, longer than retentionDays \(760\) keeps their rows.*raise retentionDays\.$/],
  [{ retentionDays: "365", archiveDeleteAfterDays: "400" }, /^pixel-pipeline:archiveDeleteAfterDays: 400 keeps archived entries.*at most 365/],
  [{ retentionDays: "30" }, /^pixel-pipeline:retentionDays: 30 also deletes archived files, which must outlast archiveColdAfterDays \(30\): lower archiveColdAfterDays, or raise retentionDays\.$/],
  [{ archiveSoftDeleteDays: "3" }, /^pixel-pipeline:archiveSoftDeleteDays: 3 is not a soft-delete retention Cloud Storage accepts: use 0 \(off\) or 7 to 90\.$/],
  [{ archiveSoftDeleteDays: "91" }, /^pixel-pipeline:archiveSoftDeleteDays: expected a whole number from 0 to 90/],
  [{ archive: "false", archiveSoftDeleteDays: "30" }, /^pixel-pipeline:archiveSoftDeleteDays: has no effect while archive is false/],
  [{ edgeDeniedIpRanges: ipRanges(101) }, /^pixel-pipeline:edgeDeniedIpRanges: lists 101 ranges; at most 100 are supported: merge them into wider ranges\.$/],
  [{ edgeDeniedRegions: ["fr"] }, /^pixel-pipeline:edgeDeniedRegions\[0\]: "fr" is not a region code/],
  [{ edgeDeniedRegions: regionCodes(51) }, /^pixel-pipeline:edgeDeniedRegions: lists 51 regions; at most 50 are supported\.$/],
])("%p", (raw, message) => {
  test("is one problem naming the key and the fix", () => {
    const { problems } = read(raw);
    expect(problems).toEqual([expect.stringMatching(message)]);
  });
});

describe.each([
  ["203.0.113.7", true],
  ["203.0.113.0/24", true],
  ["0.0.0.0/0", true],
  ["2001:db8::/32", true],
  ["::1", true],
  ["203.0.113.7/32", true],
  ["2001:db8::1/128", true],
  ["203.0.113.0/33", false],
  ["2001:db8::/129", false],
  // Only digits: Number() would read " 24" as 24.
  ["203.0.113.0/x24", false],
  ["203.0.113.0/24x", false],
  ["203.0.113.0/ 24", false],
  ["203.0.113.0/", false],
  ["203.0.113.0/24/1", false],
  ["203.0.113", false],
  ["*", false],
])("isIpRange(%p)", (text, expected) => {
  test(`is ${expected}`, () => expect(isIpRange(text)).toBe(expected));
});

describe("in the stack config", () => {
  const attributes = JSON.stringify({ user_id: "STRING" });

  test("every operations key is a known setting, and the validated config carries them", () => {
    const config = validateStackConfig({ attributes, alertEmail: "oncall@example.com", archiveColdAfterDays: "60" }, TEST_STACK_CONTEXT);
    expect(KNOWN_CONFIG_KEYS).toEqual(expect.arrayContaining(["archive", "alertEmail", "edgeDeniedIpRanges", "excludeRequestLogsFromDefaultBucket"]));
    expect(config.operations).toEqual({
      archive: { coldAfterDays: 60, deleteAfterDays: 760, softDeleteDays: 7 },
      excludeRequestLogsFromDefaultBucket: true,
      monitoring: { alertEmail: "oncall@example.com", backlogAlertMinutes: 30 },
    });
  });

  test("their problems are reported with everyone else's, at once", () => {
    expect(configProblems(() => validateStackConfig({ attributes, alertEmail: "nobody", edgeDeniedRegions: "Narnia", domain: "https://x" }, TEST_STACK_CONTEXT))).toEqual([
      expect.stringMatching(/^pixel-pipeline:domain:/),
      expect.stringMatching(/^pixel-pipeline:alertEmail:/),
      expect.stringMatching(/^pixel-pipeline:edgeDeniedRegions\[0\]:/),
    ]);
  });
});
