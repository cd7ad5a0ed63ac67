import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import * as path from "node:path";
import type { Readable } from "node:stream";
import type { GoogleApi } from "../functions/googleApi";

/**
 * Where replay reads archived log entries. The Cloud Storage sink writes newline-delimited
 * LogEntry JSON in hourly files, `<log id>/YYYY/MM/DD/HH:00:00_HH:59:59_S<n>.json` (sharded;
 * `A<n>` files hold late entries), so a prefix selects a day or an hour. A local copy
 * (`gcloud storage cp -r`) reads the same way.
 */
export interface ArchiveFile {
  /** gs://bucket/object or a local path. */
  readonly name: string;
  readonly size: number;
  open(): Promise<Readable>;
}

export interface GcsLocation {
  readonly bucket: string;
  /** Object name prefix; "" for the whole bucket. */
  readonly prefix: string;
}

/** `gs://bucket/prefix` → its parts; undefined when the text is not a gs:// URL. */
export function parseGcsUrl(text: string): GcsLocation | undefined {
  const match = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*))?$/.exec(text);
  return match ? { bucket: match[1], prefix: match[2] ?? "" } : undefined;
}

/**
 * The sink writes only `.json` objects, and the local spool `.ndjson` segments in the same line
 * format; anything else under a prefix (a note, a copy's manifest) is not an archive file.
 */
export const ARCHIVE_FILE_EXTENSIONS = [".json", ".ndjson"] as const;

export function isArchiveFileName(name: string): boolean {
  return ARCHIVE_FILE_EXTENSIONS.some((extension) => name.endsWith(extension));
}

interface ObjectList {
  items?: { name: string; size: string }[];
  nextPageToken?: string;
}

/**
 * The archive files behind each source, in order: objects under a gs:// prefix or files under a
 * directory are read in name order, which is time order for the sink's layout; a named file is
 * always read. `storage` is only called for gs:// sources.
 */
export async function listArchive(sources: readonly string[], storage: () => GoogleApi): Promise<ArchiveFile[]> {
  const lists = [];
  for (const source of sources) {
    const gcs = parseGcsUrl(source);
    lists.push(gcs ? await listObjects(storage(), gcs) : await listLocal(source));
  }
  return lists.flat();
}

async function listObjects(api: GoogleApi, { bucket, prefix }: GcsLocation): Promise<ArchiveFile[]> {
  const files: ArchiveFile[] = [];
  let pageToken: string | undefined;
  do {
    const query = new URLSearchParams({ prefix, fields: "items(name,size),nextPageToken", ...(pageToken ? { pageToken } : {}) });
    const page = await api.json<ObjectList>("GET", `/storage/v1/b/${encodeURIComponent(bucket)}/o?${query}`);
    for (const item of page.items ?? []) {
      if (!isArchiveFileName(item.name)) continue;
      files.push({
        name: `gs://${bucket}/${item.name}`,
        size: Number(item.size),
        open: () => api.stream(`/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(item.name)}?alt=media`),
      });
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return files;
}

async function listLocal(source: string): Promise<ArchiveFile[]> {
  const info = await stat(source).catch(() => {
    throw new Error(`${source} does not exist: pass an archive file, a directory of them, or a gs://bucket/prefix`);
  });
  if (!info.isDirectory()) return [localFile(source, info.size)];
  const names = (await readdir(source, { recursive: true })).filter(isArchiveFileName).sort();
  const files = [];
  for (const name of names) {
    const file = path.join(source, name);
    const fileInfo = await stat(file);
    if (fileInfo.isFile()) files.push(localFile(file, fileInfo.size));
  }
  return files;
}

function localFile(file: string, size: number): ArchiveFile {
  return { name: file, size, open: async () => createReadStream(file) };
}
