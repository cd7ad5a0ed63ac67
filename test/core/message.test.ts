import { decodeLogEntry } from "../../core/message";
import type { PubSubMessage } from "../../core/message";

const base64 = (text: string) => Buffer.from(text).toString("base64");

// The detail is what an operator reads in the refusal's log line, so it is pinned word for word.
test.each<[string, PubSubMessage | undefined, string]>([
  ["no message", undefined, "message.data is undefined, not base64 text"],
  ["no data", {}, "message.data is undefined, not base64 text"],
  ["empty data", { data: "" }, 'message.data is "", not base64 text'],
  ["data that is no text", { data: 42 }, "message.data is 42, not base64 text"],
  ["data that is not JSON", { data: base64("<html>") }, 'message.data decodes to "<html>", which is not JSON'],
  ["long data that is not JSON, cut", { data: base64("x".repeat(300)) }, `message.data decodes to "${"x".repeat(119)}…, which is not JSON`],
])("%s is refused as invalid_message, saying what came", (_name, message, detail) => {
  expect(decodeLogEntry(message)).toEqual({ ok: false, reason: "invalid_message", detail });
});

test.each([
  ["an object", '{"insertId":"1"}', { insertId: "1" }],
  ["JSON null, which the core refuses next", "null", null],
])("data that decodes to %s is handed on", (_name, json, entry) => {
  expect(decodeLogEntry({ data: base64(json) })).toEqual({ ok: true, entry });
});
