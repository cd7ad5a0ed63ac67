import { readFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..");
const readJson = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), "utf8"));

/** The name a lockfile entry installs, from its path: the part after the last node_modules/. */
const packageName = (lockPath: string) => lockPath.slice(lockPath.lastIndexOf("node_modules/") + "node_modules/".length);

test("package.json decides, for every locked package with an install script, whether it may run", () => {
  const { packages } = readJson("package-lock.json") as { packages: Record<string, { hasInstallScript?: boolean }> };
  const { allowScripts } = readJson("package.json") as { allowScripts?: Record<string, boolean> };
  const withScripts = [...new Set(Object.entries(packages).filter(([, entry]) => entry.hasInstallScript).map(([lockPath]) => packageName(lockPath)))];
  expect(withScripts.length).toBeGreaterThan(0);
  expect(withScripts.filter((name) => typeof allowScripts?.[name] !== "boolean")).toEqual([]);
  // An entry for a package that no longer has a script would hide the review of a new one.
  expect(Object.keys(allowScripts ?? {}).filter((name) => !withScripts.includes(name))).toEqual([]);
});
