import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { CoreSettings } from "../core/config/coreSettings";
import { MIN_VISITOR_KEY_LENGTH } from "../core/visitor";
import { checkSecretFile } from "./privateFiles";

/** The local pipeline's visitor key, beside its database: readable by its owner only (0600). */
export const VISITOR_KEY_FILE = "visitor.key";

/**
 * The settings with the data directory's visitor key, created on first use: 32 random bytes as
 * base64, as the Pulumi program generates for the cloud. Deleting the file changes every visitor
 * id from then on, as a new key in the cloud would.
 */
export async function withLocalVisitorKey(settings: CoreSettings, dataDir: string): Promise<CoreSettings> {
  const file = path.join(dataDir, VISITOR_KEY_FILE);
  await checkSecretFile(file, "the visitor key");
  const key = (await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? createKey(file) : Promise.reject(error)))).trim();
  if (key.length < MIN_VISITOR_KEY_LENGTH) throw new Error(`${file} holds no usable visitor key; delete it, and a new one is made (visitor ids change from then on).`);
  return { ...settings, visitorKey: key };
}

/**
 * Writes a new key aside and links it into place, which fails if the file exists meanwhile: two
 * starts at once keep one key, and nobody reads a half-written one. Resolves with the key kept.
 */
async function createKey(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${randomBytes(8).toString("hex")}.partial`;
  // "wx" creates the file or fails: never through a link someone prepared.
  await writeFile(partial, randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
  try {
    await link(partial, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(partial);
  }
  return readFile(file, "utf8");
}
