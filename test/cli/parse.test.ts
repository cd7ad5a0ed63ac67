import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { parseLine } from "../../cli/parse";
import { VISITOR_KEY_VARIABLE } from "../../core/functionContract";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../testkit/settings";

const ROOT = path.join(__dirname, "..", "..");

function runParse(input: string, args = ["--stack", "dev"], env: NodeJS.ProcessEnv = { [VISITOR_KEY_VARIABLE]: "" }) {
  const result = spawnSync(process.execPath, [path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), path.join(ROOT, "cli/parse.ts"), ...args], {
    input,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: result.status, lines: result.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line)), stderr: result.stderr };
}

it("answers every input line, in order, and never dies on a bad one", () => {
  const lines = [
    JSON.stringify(loadBalancerEntry()),
    "not json {",
    "[1,2,3]",
    JSON.stringify({ insertId: "x", timestamp: "2026-01-01T00:00:00Z" }),
    JSON.stringify(loadBalancerEntry({ httpRequest: undefined })),
    JSON.stringify(loadBalancerEntry({ httpRequest: { requestUrl: "::::" } })),
    JSON.stringify(loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl("user_id=acme_corp&type=open&secret=1") } })),
  ];
  const { status, lines: output } = runParse(lines.join("\n") + "\n");
  expect(status).toBe(0);
  expect(output).toEqual([
    { ok: true, table: "pixel_acme_20170517", insertId: expect.any(String), row: expect.objectContaining({ user_id: "acme", event_timestamp: "2017-05-17T11:12:28.408747Z", user_agent: expect.any(String), referer: "https://shop.example.com/checkout", remote_ip: "89.160.20.0" }) },
    { ok: false, reason: "invalid_message", detail: expect.stringContaining("not JSON") },
    { ok: false, reason: "invalid_message", detail: expect.any(String) },
    { ok: false, reason: "not_load_balancer", detail: expect.any(String) },
    { ok: false, reason: "missing_http_request", detail: expect.any(String) },
    { ok: false, reason: "invalid_url", detail: expect.any(String) },
    { ok: true, table: "pixel_acmeX5Fcorp_20170517", insertId: expect.any(String), row: expect.objectContaining({ user_id: "acme_corp", type: "open" }) },
  ]);
  expect(output[6].row).not.toHaveProperty("secret");
});

it("shows the answers of a real log entry: device, page, campaign, country, and the visitor id with the stack's key", () => {
  const entry = loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl("user_id=acme&type=view&utm_source=newsletter&utm_medium=email") } });
  const answers = { country: "SE", browser: "Chrome", browser_version: "126", os: "Linux", device_type: "desktop", page_host: "shop.example.com", page_path: "/checkout", utm_source: "newsletter", utm_medium: "email" };
  const withoutKey = runParse(`${JSON.stringify(entry)}\n`);
  expect(withoutKey.lines[0].row).toMatchObject({ ...answers, visitor_id: null });
  expect(withoutKey.stderr).toContain("visitor_id stays NULL without the stack's visitor key in PIXEL_VISITOR_KEY");
  const withKey = runParse(`${JSON.stringify(entry)}\n`, ["--stack", "dev"], { [VISITOR_KEY_VARIABLE]: TEST_VISITOR_KEY });
  expect(withKey.lines[0].row).toMatchObject({ ...answers, visitor_id: JSON.parse(parseLine(JSON.stringify(entry), DEV_SETTINGS)).row.visitor_id });
  expect(withKey.lines[0].row.visitor_id).toMatch(/^[A-Za-z0-9_-]{16}$/);
  expect(withKey.stderr).toBe("");
});

it("names the missing stack file and exits 2", () => {
  const { status, stderr } = runParse("{}\n", ["--stack", "does-not-exist"]);
  expect(status).toBe(2);
  expect(stderr).toContain("Pulumi.does-not-exist.yaml does not exist");
});

it("names the table and row the function writes in the partitioned layout", () => {
  const line = parseLine(JSON.stringify(loadBalancerEntry()), { ...DEV_SETTINGS, layout: "partitioned" });
  expect(JSON.parse(line)).toMatchObject({
    ok: true,
    table: "events_partitioned",
    row: { user_id: "acme", tenant: "acme", event_date: "2017-05-17" },
  });
});
