import type { ListedObject } from "../core/loadLedger";
import type { ArchiveObject } from "./archiveLoader";
import type { GoogleApi } from "./googleApi";

/** An object as Cloud Storage lists it, or as its finalized event describes it. */
export interface BucketObject extends ListedObject {
  readonly size: number;
  readonly generation?: string;
}

interface ObjectList {
  items?: { name: string; size: string; generation?: string; timeCreated: string }[];
  nextPageToken?: string;
}

/** Every object under `prefix`, page by page (objects.list). */
export async function listBucketObjects(api: GoogleApi, bucket: string, prefix: string): Promise<BucketObject[]> {
  const objects: BucketObject[] = [];
  let pageToken: string | undefined;
  do {
    const query = new URLSearchParams({ prefix, fields: "items(name,size,generation,timeCreated),nextPageToken", ...(pageToken ? { pageToken } : {}) });
    const page = await api.json<ObjectList>("GET", `/storage/v1/b/${encodeURIComponent(bucket)}/o?${query}`);
    for (const item of page.items ?? []) {
      objects.push({ name: item.name, size: Number(item.size), generation: item.generation, createdAt: new Date(item.timeCreated) });
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return objects;
}

/**
 * The object for the loader. Each read asks for the generation it was told of, so that every pass
 * of the loader reads the same content even if the object is rewritten meanwhile; a generation
 * that is gone answers 404, and the rewrite's own event loads the new one.
 */
export function archiveObject(api: GoogleApi, bucket: string, object: Pick<BucketObject, "name" | "size" | "generation">): ArchiveObject {
  const query = new URLSearchParams({ alt: "media", ...(object.generation ? { generation: object.generation } : {}) });
  return {
    bucket,
    name: object.name,
    generation: object.generation,
    size: object.size,
    open: () => api.stream(`/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object.name)}?${query}`),
  };
}
