import * as functions from "@google-cloud/functions-framework";
import type { CoreSettings } from "../core/config/coreSettings";
import type { DeliveryPolicy, Logger } from "../core/delivery";
import { FUNCTION_ENTRY_POINT } from "../core/functionContract";
import type { PubSubMessage } from "../core/message";
import { handlePixelMessage } from "./handler";
import type { RowWriter } from "./handler";

/** The CloudEvent data of a Pub/Sub `messagePublished` event. */
interface MessagePublishedData {
  message?: PubSubMessage;
  subscription?: string;
}

/** Rejecting the event makes the framework answer 500, which Pub/Sub takes as a nack. */
export class MessageNotStoredError extends Error {
  constructor(decision: string) {
    super(`the event was not stored; decision: ${decision}`);
    this.name = "MessageNotStoredError";
  }
}

/**
 * Registers the handler as a CloudEvent function. The framework also converts a plain Pub/Sub
 * push request (`{message, subscription}`) into this event, so Eventarc triggers and the push
 * subscription with a dead-letter topic reach the same code. Only "ack" answers 2xx: for "retry"
 * and "dead_letter" alike the function answers with an error, and Pub/Sub redelivers the message
 * until its budget is spent, then dead-letters it.
 */
export function registerPixelFunction(settings: CoreSettings, writer: RowWriter, log: Logger, policy: DeliveryPolicy): void {
  functions.cloudEvent(FUNCTION_ENTRY_POINT, async (event: functions.CloudEvent<MessagePublishedData>) => {
    const { decision } = await handlePixelMessage(event.data?.message, { settings, writer, log, policy });
    if (decision !== "ack") throw new MessageNotStoredError(decision);
  });
}
