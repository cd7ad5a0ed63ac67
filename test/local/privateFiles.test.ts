import { chmod, chown, lchown, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { dataPaths } from "../../local/paths";
import { readServerFile, writeServerFile } from "../../local/serverFile";
import { freshDirectoryEachTest, httpRequest, query, waitFor } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

jest.setTimeout(60_000);

// Tests run as root here and in CI, so they can hand files to another user.
const OTHER_USER = 65534;
const isRoot = process.getuid?.() === 0;

const local = freshDirectoryEachTest();

/** Prepares `base/data` (or more) as another user, or a careless one, left it; returns the data directory. */
type Setup = (base: string) => Promise<string>;

const UNSAFE: readonly [string, Setup, RegExp][] = [
  ["a data directory others can write", async (dir) => mkdirMode(path.join(dir, "data"), 0o777), /data can be written by its group or by others \(mode 0777\)/],
  ["a data directory its group can write", async (dir) => mkdirMode(path.join(dir, "data"), 0o770), /mode 0770/],
  ["a parent others can write, without the sticky bit", async (dir) => path.join(await mkdirMode(path.join(dir, "open"), 0o777), "data"), /open can be written by its group or by others \(mode 0777\), so they could replace/],
  ["a spool directory others can write", async (dir) => {
    const data = await mkdirMode(path.join(dir, "data"), 0o700);
    await mkdirMode(path.join(data, "spool"), 0o777);
    return data;
  }, /spool can be written by its group or by others/],
  ["a database file others can write", async (dir) => {
    const data = await mkdirMode(path.join(dir, "data"), 0o700);
    await writeFile(path.join(data, "pixel.duckdb"), "", { mode: 0o666 });
    await chmod(path.join(data, "pixel.duckdb"), 0o666);
    return data;
  }, /pixel\.duckdb can be written by its group or by others \(mode 0666\)/],
  ["a WAL others can write", async (dir) => {
    const data = await mkdirMode(path.join(dir, "data"), 0o700);
    await writeFile(path.join(data, "pixel.duckdb.wal"), "");
    await chmod(path.join(data, "pixel.duckdb.wal"), 0o646);
    return data;
  }, /pixel\.duckdb\.wal can be written by its group or by others/],
  ["a link to a private directory below a parent others can write", async (dir) => {
    const data = await mkdirMode(path.join(await mkdirMode(path.join(dir, "open"), 0o777), "data"), 0o700);
    await symlink(data, path.join(dir, "link"));
    return path.join(dir, "link");
  }, /open can be written by its group or by others \(mode 0777\), so they could replace .*open\/data/],
  ...(isRoot
    ? ([
        ["another user's link to a private directory below a directory of theirs", async (dir) => {
          const theirs = await mkdirMode(path.join(dir, "theirs"), 0o755);
          const data = await mkdirMode(path.join(theirs, "data"), 0o700);
          await chown(theirs, OTHER_USER, OTHER_USER);
          await symlink(data, path.join(dir, "link"));
          await lchown(path.join(dir, "link"), OTHER_USER, OTHER_USER);
          return path.join(dir, "link");
        }, new RegExp(`theirs belongs to uid ${OTHER_USER}, so that user could replace .*theirs/data`)],
        ["a data directory another user owns", async (dir) => {
          const data = await mkdirMode(path.join(dir, "data"), 0o700);
          await chown(data, OTHER_USER, OTHER_USER);
          return data;
        }, new RegExp(`data belongs to uid ${OTHER_USER}, not to you`)],
        ["a database file another user owns", async (dir) => {
          const data = await mkdirMode(path.join(dir, "data"), 0o700);
          await writeFile(path.join(data, "pixel.duckdb"), "", { mode: 0o600 });
          await chown(path.join(data, "pixel.duckdb"), OTHER_USER, OTHER_USER);
          return data;
        }, new RegExp(`pixel\\.duckdb belongs to uid ${OTHER_USER}`)],
        ["a parent another user owns", async (dir) => {
          const parent = await mkdirMode(path.join(dir, "theirs"), 0o755);
          await chown(parent, OTHER_USER, OTHER_USER);
          return path.join(parent, "data");
        }, new RegExp(`theirs belongs to uid ${OTHER_USER}, so that user could replace`)],
      ] satisfies [string, Setup, RegExp][])
    : []),
];

async function mkdirMode(dir: string, mode: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, mode);
  return dir;
}

describe("the server refuses to start on", () => {
  it.each(UNSAFE)("%s, creating nothing", async (_, setup, message) => {
    const dataDir = await setup(local.dir);
    const before = await listing(local.dir);
    await expect(local.startPipeline(undefined, { dataDir })).rejects.toThrow(message);
    expect(await listing(local.dir)).toEqual(before);
  });
});

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

it("follows a link to its data directory once: retargeted while the server runs, the link moves nothing", async () => {
  // A link in a sticky directory, as another user could leave one in /tmp, to a private directory of ours.
  const sticky = await mkdirMode(path.join(local.dir, "tmp"), 0o1777);
  const real = await mkdirMode(path.join(local.dir, "real"), 0o700);
  const elsewhere = await mkdirMode(path.join(local.dir, "elsewhere"), 0o700);
  const link = path.join(sticky, "data");
  const pointLink = async (target: string) => {
    await rm(link, { force: true });
    await symlink(target, link);
    if (isRoot) await lchown(link, OTHER_USER, OTHER_USER);
  };
  await pointLink(real);
  // A segment a line, so that the spool opens new files after the link has moved.
  const pipeline = await local.startPipeline(undefined, { dataDir: link, spool: { segmentBytes: 1 } });
  for (const index of [1, 2, 3]) expect((await httpRequest(`${pipeline.pixelUrl}?user_id=acme&order_id=${index}`)).status).toBe(200);
  await pointLink(elsewhere);
  for (const index of [4, 5, 6]) expect((await httpRequest(`${pipeline.pixelUrl}?user_id=acme&order_id=${index}`)).status).toBe(200);
  await local.stopPipeline();

  expect(await readdir(elsewhere)).toEqual([]);
  expect(await query(real, `SELECT count(DISTINCT order_id) AS n FROM events`)).toEqual([{ n: 6 }]);
  // The server file went from where it was written.
  expect(await readdir(real)).not.toContain("server.json");
});

it("starts in a private directory below a sticky one that everybody can write, as /tmp", async () => {
  const sticky = await mkdirMode(path.join(local.dir, "tmp"), 0o1777);
  await local.startPipeline(undefined, { dataDir: path.join(sticky, "data") });
  expect((await stat(path.join(sticky, "data"))).mode & 0o777).toBe(0o700);
});

it("creates the database and its WAL 0600 whatever the directory's mode, and tightens an older file", async () => {
  const dataDir = await mkdirMode(path.join(local.dir, "data"), 0o755);
  await writeFile(path.join(dataDir, "older.duckdb"), "");
  const pipeline = await local.startPipeline(undefined, { dataDir });
  await httpRequest(`${pipeline.pixelUrl}?user_id=acme`);
  await waitFor(() => query(dataDir, `SELECT count(*) AS n FROM events`), ([row]) => row.n === 1);
  for (const file of ["pixel.duckdb", "pixel.duckdb.wal", "server.json"]) {
    expect([file, (await stat(path.join(dataDir, file))).mode & 0o777]).toEqual([file, 0o600]);
  }
});

describe("the query command does not trust a server file", () => {
  const forged = { url: "http://127.0.0.1:9/", token: "stolen", pid: 1, database: "" };
  it.each<[string, (file: string) => Promise<void>, RegExp]>([
    ["that others can read", async (file) => {
      await writeFile(file, JSON.stringify(forged));
      await chmod(file, 0o644);
    }, /server\.json can be read by others \(mode 0644\)/],
    ["that is a link", async (file) => {
      await writeFile(`${file}.elsewhere`, JSON.stringify(forged), { mode: 0o600 });
      await symlink(`${file}.elsewhere`, file);
    }, /server\.json is not a regular file \(a link\?\)/],
    ...(isRoot
      ? ([["that another user wrote", async (file) => {
          await writeFile(file, JSON.stringify(forged), { mode: 0o600 });
          await chown(file, OTHER_USER, OTHER_USER);
        }, new RegExp(`server\\.json belongs to uid ${OTHER_USER}`)]] satisfies [string, (file: string) => Promise<void>, RegExp][])
      : []),
  ])("%s", async (_, plant, message) => {
    const dataDir = await mkdirMode(path.join(local.dir, "data"), 0o700);
    await plant(dataPaths(dataDir).serverFile);
    await expect(query(dataDir, "SELECT 1")).rejects.toThrow(message);
  });
});

it("writes the server file through a fresh exclusive name, so a prepared name or link cannot catch it", async () => {
  const dataDir = await mkdirMode(path.join(local.dir, "data"), 0o700);
  const { serverFile } = dataPaths(dataDir);
  const victim = path.join(local.dir, "victim.txt");
  await writeFile(victim, "mine");
  // The names the server used to write through: server.json.<pid>.tmp.
  await symlink(victim, `${serverFile}.${process.pid}.tmp`);
  await writeServerFile(serverFile, { url: "http://127.0.0.1:1/", token: "t", pid: process.pid, database: "d" });
  expect(await readFile(victim, "utf8")).toBe("mine");
  expect((await stat(serverFile)).mode & 0o777).toBe(0o600);
  expect(await readServerFile(serverFile)).toMatchObject({ token: "t" });
});

it("stores refusals with the client's IP and user agent as rows store them", async () => {
  const dataDir = await mkdirMode(path.join(local.dir, "data"), 0o700);
  const pipeline = await local.startPipeline(settingsFor(), { dataDir });
  const agent = "Mozilla/5.0 Refused";
  await httpRequest(`${pipeline.pixelUrl}?type=no-tenant`, { headers: { "user-agent": agent } });
  await httpRequest(`${pipeline.pixelUrl}?type=no-tenant&dnt=1`, { headers: { "user-agent": agent } });
  const refusals = await waitFor(() => query(dataDir, `SELECT log_entry FROM refusals ORDER BY message_id`), (rows) => rows.length === 2);
  const [plain, dnt] = refusals.map((row) => JSON.parse(row.log_entry as string).httpRequest);
  expect([plain.remoteIp, plain.userAgent]).toEqual(["127.0.0.0", agent]);
  expect([dnt.remoteIp, dnt.userAgent]).toEqual([undefined, undefined]);
  // The spool keeps the entry as logged, as Cloud Logging does.
  const spooled = (await readFile(path.join(dataDir, "spool", "00000001.ndjson"), "utf8")).trim().split("\n").map((line) => JSON.parse(line).httpRequest.remoteIp);
  expect(spooled).toEqual(["127.0.0.1", "127.0.0.1"]);
});
