import type { AttributeType } from "./attributes";
import type { ColumnValue } from "./schema";

const INT64 = /^[+-]?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT64 = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$/;
const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ["true", true],
  ["false", false],
  ["1", true],
  ["0", false],
]);
/** Well-formed text of at most `maxLength` code points: unpaired surrogates, which are not valid UTF-8, become U+FFFD. */
export function cleanText(value: string, maxLength: number): string {
  const wellFormed = value.toWellFormed();
  if (wellFormed.length <= maxLength) return wellFormed;
  let cut = "";
  let count = 0;
  for (const codePoint of wellFormed) {
    if (count++ === maxLength) break;
    cut += codePoint;
  }
  return cut;
}

/**
 * A query value as its column's type, or undefined when it does not fit the type.
 * INT64 stays a decimal string: the JSON form BigQuery uses, exact beyond 2^53.
 */
export function coerceAttribute(type: AttributeType, value: string, maxLength: number): ColumnValue | undefined {
  switch (type) {
    case "STRING":
      return cleanText(value, maxLength);
    case "INT64": {
      const trimmed = value.trim();
      if (!INT64.test(trimmed)) return undefined;
      const integer = BigInt(trimmed);
      return integer >= INT64_MIN && integer <= INT64_MAX ? integer.toString() : undefined;
    }
    case "FLOAT64": {
      const trimmed = value.trim();
      const number = Number(trimmed);
      return FLOAT64.test(trimmed) && Number.isFinite(number) ? number : undefined;
    }
    case "BOOL":
      return BOOLEANS.get(value.trim().toLowerCase());
  }
}
