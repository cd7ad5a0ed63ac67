import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import type { Stats } from "node:fs";
import { lstat, open, realpath, rename, rm, stat } from "node:fs/promises";
import * as path from "node:path";

/**
 * The pipeline's files hold full client IPs (the spool), personal data (the database) and the
 * query token (the server file). Another user who can write a directory on their way can read the
 * token from a file they made for us, plant a link that makes us overwrite a file of ours, or swap
 * the server file so that our SQL goes to their listener. So every path is checked before use.
 */
export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafePathError";
  }
}

const WRITABLE_BY_GROUP_OR_OTHERS = 0o022;
const STICKY = 0o1000;

function ownUid(): number | undefined {
  return process.getuid?.();
}

function mode(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, "0");
}

/** Stats of the path, or undefined when it does not exist. */
async function statIfExists(file: string, follow = true): Promise<Stats | undefined> {
  return (follow ? stat(file) : lstat(file)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
}

/** Only we may own and write what the pipeline keeps. */
function checkOwnAndPrivate(file: string, stats: Stats, uid: number): void {
  if (stats.uid !== uid) {
    throw new UnsafePathError(`${file} belongs to uid ${stats.uid}, not to you (uid ${uid}): another user could read or replace the pipeline's data there. Use a directory of your own (--data-dir, --db).`);
  }
  if ((stats.mode & WRITABLE_BY_GROUP_OR_OTHERS) !== 0) {
    throw new UnsafePathError(`${file} can be written by its group or by others (mode ${mode(stats)}): they could replace the pipeline's files. Run chmod go-w ${file}, or use a directory of your own (--data-dir, --db).`);
  }
}

/**
 * Refuses a directory that another user owns or can write, and one whose parents let another user
 * replace it: each parent must belong to us or to root, and only a sticky one (like /tmp) may be
 * writable by others. A directory that does not exist yet is checked through its parents.
 */
export async function checkPrivateDirectory(dir: string): Promise<void> {
  const uid = ownUid();
  if (uid === undefined) return;
  const resolved = path.resolve(dir);
  const stats = await statIfExists(resolved);
  if (stats) {
    if (!stats.isDirectory()) throw new UnsafePathError(`${resolved} is not a directory`);
    checkOwnAndPrivate(resolved, stats, uid);
  }
  for (let parent = path.dirname(resolved); ; parent = path.dirname(parent)) {
    const parentStats = await statIfExists(parent);
    if (parentStats) {
      if (parentStats.uid !== uid && parentStats.uid !== 0) {
        throw new UnsafePathError(`${parent} belongs to uid ${parentStats.uid}, so that user could replace ${resolved}. Use a directory of your own (--data-dir, --db).`);
      }
      if ((parentStats.mode & WRITABLE_BY_GROUP_OR_OTHERS) !== 0 && (parentStats.mode & STICKY) === 0) {
        throw new UnsafePathError(`${parent} can be written by its group or by others (mode ${mode(parentStats)}), so they could replace ${resolved}. Use a directory of your own (--data-dir, --db).`);
      }
    }
    if (parent === path.dirname(parent)) return;
  }
}

/**
 * The directory's real path, checked as checkPrivateDirectory checks: every component of the path
 * the links lead to. A link on the way is followed once, here; whoever can change it later (another
 * user's link in /tmp, say) changes nothing for a caller that uses only the returned path.
 */
export async function resolvePrivateDirectory(dir: string): Promise<string> {
  const resolved = await realPathOfExisting(path.resolve(dir));
  await checkPrivateDirectory(resolved);
  return resolved;
}

/** The real path of the longest part of `file` that exists, followed by the rest as given. */
async function realPathOfExisting(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || path.dirname(file) === file) throw error;
    if (await statIfExists(file, false)) throw new UnsafePathError(`${file} is a link to nothing: use a directory of your own (--data-dir, --db).`);
    return path.join(await realPathOfExisting(path.dirname(file)), path.basename(file));
  }
}

/** Refuses a file that another user owns or can write, or whose directory is not private (checkPrivateDirectory). */
export async function checkPrivateFile(file: string): Promise<void> {
  await checkPrivateDirectory(path.dirname(file));
  const uid = ownUid();
  const stats = await statIfExists(file);
  if (stats && uid !== undefined) checkOwnAndPrivate(file, stats, uid);
}

/**
 * Refuses a file that only we should be able to read (the server file with its token, the visitor
 * key): it must be a regular file, not a link, that belongs to us and that nobody else can read or
 * write. `what` names it in the messages.
 */
export async function checkSecretFile(file: string, what: string): Promise<void> {
  await checkPrivateDirectory(path.dirname(file));
  const uid = ownUid();
  const stats = await statIfExists(file, false);
  if (!stats || uid === undefined) return;
  if (!stats.isFile()) throw new UnsafePathError(`${file} is not a regular file (a link?): it is not ${what} as the pipeline writes it, so it is not trusted.`);
  checkOwnAndPrivate(file, stats, uid);
  if ((stats.mode & 0o077) !== 0) {
    throw new UnsafePathError(`${file} can be read by others (mode ${mode(stats)}): ${what} is secret and written 0600, so it is not trusted. Delete it and start again.`);
  }
}

/**
 * Writes the whole file under a fresh name, created exclusively, never through a link and 0600
 * from its first byte, then renames it into place: a reader never sees half a file, and nobody
 * can have prepared the name for us.
 */
export async function writePrivateFile(file: string, contents: string): Promise<void> {
  const temporary = `${file}.${randomBytes(8).toString("hex")}.tmp`;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(contents);
    await handle.close();
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}
