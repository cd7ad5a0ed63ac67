// Core cost: decode + parse + row build per Pub/Sub message, against the floor measured in the
// same process on the same messages: base64 decode + JSON.parse + new URL().
import { logEntryToEvent } from "../core/event";
import { decodeLogEntry, PubSubMessage } from "../core/message";
import type { CoreSettings } from "../core/config/coreSettings";

export interface CoreResult {
  readonly messages: number;
  readonly floorMicros: number;
  readonly coreMicros: number;
  readonly accepted: number;
}

function floorPass(messages: readonly PubSubMessage[]): number {
  let checksum = 0;
  for (const message of messages) {
    const entry = JSON.parse(Buffer.from(message.data as string, "base64").toString("utf8")) as { httpRequest: { requestUrl: string } };
    checksum += new URL(entry.httpRequest.requestUrl).search.length;
  }
  return checksum;
}

function corePass(messages: readonly PubSubMessage[], settings: CoreSettings): number {
  let accepted = 0;
  for (const message of messages) {
    const decoded = decodeLogEntry(message);
    if (decoded.ok && logEntryToEvent(decoded.entry, settings).ok) accepted++;
  }
  return accepted;
}

function microsPerMessage(pass: () => number, count: number): { micros: number; result: number } {
  const started = process.hrtime.bigint();
  const result = pass();
  return { micros: Number(process.hrtime.bigint() - started) / 1000 / count, result };
}

/** The middle of the measurements, which a noisy neighbour moves less than the mean. */
export const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Alternates floor and core passes and keeps the median of each, so drift on a shared machine hits both. */
export function measureCore(messages: readonly PubSubMessage[], settings: CoreSettings, rounds: number): CoreResult {
  floorPass(messages);
  corePass(messages, settings);
  const floor: number[] = [];
  const core: number[] = [];
  let accepted = 0;
  for (let round = 0; round < rounds; round++) {
    floor.push(microsPerMessage(() => floorPass(messages), messages.length).micros);
    const pass = microsPerMessage(() => corePass(messages, settings), messages.length);
    core.push(pass.micros);
    accepted = pass.result;
  }
  return { messages: messages.length, floorMicros: median(floor), coreMicros: median(core), accepted };
}
