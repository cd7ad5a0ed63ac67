// The function's heap over a long run: the real handler and writer, with the real BigQuery client
// pointed at the loopback stand-in, handle the corpus as one instance would, 16 at a time (the
// default functionConcurrency). The heap is read after a full collection at checkpoints: once the
// bounded caches have filled, it must stay flat.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { CoreSettings } from "../core/config/coreSettings";
import { cloudDelivery } from "../core/delivery";
import type { PubSubMessage } from "../core/message";
import { bigQueryWriter } from "../functions/bigqueryWriter";
import { handlePixelMessage } from "../functions/handler";
import { BigQueryStandIn } from "../testkit/bigQueryStandIn";

export interface HeapCheckpoint {
  readonly messages: number;
  readonly heapUsedBytes: number;
}

export interface FunctionHeapResult {
  readonly messages: number;
  readonly stored: number;
  readonly checkpoints: readonly HeapCheckpoint[];
}

const CONCURRENCY = 16;

/** A full collection, so the heap read is what is still referenced, not garbage awaiting collection. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** Handles `messages` in order, reading the heap after each of `checkpoints` (message counts). */
export async function measureFunctionHeap(messages: readonly PubSubMessage[], settings: CoreSettings, checkpoints: readonly number[]): Promise<FunctionHeapResult> {
  const standIn = new BigQueryStandIn();
  await standIn.start();
  try {
    const writer = bigQueryWriter(standIn.client().dataset("bench").table(settings.templateTable));
    const handling = { settings, writer, log: () => undefined, policy: cloudDelivery(1) };
    const readings: HeapCheckpoint[] = [];
    let next = 0;
    let stored = 0;
    for (const checkpoint of checkpoints) {
      const worker = async () => {
        while (next < Math.min(checkpoint, messages.length)) {
          const { outcome } = await handlePixelMessage(messages[next++], handling);
          if (outcome.kind === "stored") stored++;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      // The stand-in records every request and row; those are the test's memory, not the function's.
      standIn.reset();
      collectGarbage();
      readings.push({ messages: next, heapUsedBytes: process.memoryUsage().heapUsed });
    }
    return { messages: next, stored, checkpoints: readings };
  } finally {
    await standIn.stop();
  }
}
