// Calls and bytes: the BigQuery requests each message costs, counted at the loopback insertAll
// stand-in with the real client, the real writer and the real handler.
import { bigQueryWriter } from "../functions/bigqueryWriter";
import type { PubSubMessage } from "../core/message";
import type { CoreSettings } from "../core/config/coreSettings";
import { cloudDelivery } from "../core/delivery";
import { handlePixelMessage } from "../functions/handler";
import { BigQueryStandIn } from "../testkit/bigQueryStandIn";

export interface CallsResult {
  readonly messages: number;
  readonly accepted: number;
  readonly insertAllCalls: number;
  readonly otherCalls: number;
  readonly requestBytesPerEvent: number;
}

export async function measureCalls(messages: readonly PubSubMessage[], settings: CoreSettings): Promise<CallsResult> {
  const standIn = new BigQueryStandIn();
  await standIn.start();
  try {
    const writer = bigQueryWriter(standIn.client().dataset("bench").table(settings.templateTable));
    let accepted = 0;
    for (const message of messages) {
      const { outcome } = await handlePixelMessage(message, { settings, writer, log: () => undefined, policy: cloudDelivery(1) });
      if (outcome.kind === "stored") accepted++;
    }
    const insertAll = standIn.requests.filter((request) => request.path.endsWith("/insertAll"));
    const bytes = insertAll.reduce((total, request) => total + Buffer.byteLength(JSON.stringify(request.body)), 0);
    return {
      messages: messages.length,
      accepted,
      insertAllCalls: insertAll.length,
      otherCalls: standIn.requests.length - insertAll.length,
      requestBytesPerEvent: Math.round(bytes / Math.max(accepted, 1)),
    };
  } finally {
    await standIn.stop();
  }
}
