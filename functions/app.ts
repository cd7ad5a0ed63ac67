import * as functions from "@google-cloud/functions-framework";
import type { PubSubMessage } from "./core/message";
import type { CoreSettings } from "./core/settings";
import { handlePixelMessage, Logger, RowWriter } from "./handler";

export const FUNCTION_NAME = "collectPixelEvent";

/** The CloudEvent data of a Pub/Sub `messagePublished` event. */
interface MessagePublishedData {
  message?: PubSubMessage;
  subscription?: string;
}

/**
 * Registers the handler as a CloudEvent function. The framework also converts a plain Pub/Sub
 * push request (`{message, subscription}`) into this event, so Eventarc triggers and the push
 * subscription with a dead-letter topic reach the same code.
 */
export function registerPixelFunction(settings: CoreSettings, writer: RowWriter, log: Logger): void {
  functions.cloudEvent(FUNCTION_NAME, async (event: functions.CloudEvent<MessagePublishedData>) => {
    await handlePixelMessage(event.data?.message, settings, writer, log);
  });
}
