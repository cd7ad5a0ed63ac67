import fc from "fast-check";
import { ATTRIBUTE_TYPES } from "../../core/attributes";
import type { AttributeType } from "../../core/attributes";
import { coerceAttribute } from "../../core/values";
import { nearTypedValue } from "../../fuzz/hostileInput";

const MAX_LENGTH = 8;

describe.each<[AttributeType, string, unknown]>([
  ["INT64", "42", "42"],
  // Spaces around a typed value are dropped before it is read, as for every type but STRING.
  ["INT64", " 42 ", "42"],
  ["INT64", " +7 ", "7"],
  ["INT64", "007", "7"],
  ["INT64", "-9223372036854775808", "-9223372036854775808"],
  ["INT64", "-9223372036854775809", undefined],
  ["INT64", "9223372036854775807", "9223372036854775807"],
  ["INT64", "9223372036854775808", undefined],
  // Junk before or after the digits: each anchor of the grammar matters, and BigInt would throw on the first.
  ["INT64", "x1", undefined],
  ["INT64", "1x", undefined],
  ["INT64", "1e3", undefined],
  ["INT64", "0x1F", undefined],
  ["INT64", "", undefined],
  ["FLOAT64", "9.5", 9.5],
  ["FLOAT64", ".5", 0.5],
  ["FLOAT64", "5.", 5],
  ["FLOAT64", "-1.5e3", -1500],
  ["FLOAT64", " 1.5 ", 1.5],
  ["FLOAT64", "\t-2e1\n", -20],
  ["FLOAT64", "1e999", undefined],
  ["FLOAT64", "x1.5", undefined],
  ["FLOAT64", "1.5x", undefined],
  ["FLOAT64", "NaN", undefined],
  ["FLOAT64", "Infinity", undefined],
  ["FLOAT64", "0x10", undefined],
  ["FLOAT64", "", undefined],
  ["BOOL", "TRUE", true],
  ["BOOL", " 0 ", false],
  ["BOOL", " true ", true],
  ["BOOL", "\tFalse\n", false],
  ["BOOL", "yes", undefined],
  ["STRING", "😀abcdefghij", "😀abcdefg"],
  ["STRING", "\uD800x", "\uFFFDx"],
  ["STRING", " a b ", " a b "],
])("%s %p", (type, text, expected) => {
  test(`is ${String(expected)}`, () => {
    expect(coerceAttribute(type, text, MAX_LENGTH)).toBe(expected);
  });
});

test("INT64 takes exactly the decimal integers within 64 bits, as BigInt reads them", () => {
  const around64Bits = fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n });
  fc.assert(
    fc.property(around64Bits, (integer) => {
      const inRange = integer >= -9223372036854775808n && integer <= 9223372036854775807n;
      expect(coerceAttribute("INT64", integer.toString(), MAX_LENGTH)).toBe(inRange ? integer.toString() : undefined);
    }),
    { numRuns: 2000 },
  );
});

test("no text makes any type throw: it is a value of that type, or undefined", () => {
  const text = fc.oneof(nearTypedValue, fc.string({ unit: "binary", maxLength: 40 }));
  const ofType: Record<AttributeType, (value: unknown) => boolean> = {
    STRING: (value) => typeof value === "string",
    INT64: (value) => typeof value === "string",
    FLOAT64: (value) => typeof value === "number" && Number.isFinite(value),
    BOOL: (value) => typeof value === "boolean",
  };
  fc.assert(
    fc.property(fc.constantFrom(...ATTRIBUTE_TYPES), text, (type, value) => {
      const coerced = coerceAttribute(type, value, MAX_LENGTH);
      expect(coerced === undefined || ofType[type](coerced)).toBe(true);
    }),
    { numRuns: 5000 },
  );
});
