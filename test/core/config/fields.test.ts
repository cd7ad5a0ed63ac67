import { ConfigError, ConfigProblems, isAbsent, readBoolean, readInteger, readMap, readString, readStringList, reportUnknownKeys } from "../../../core/config/fields";

/** Runs one reader on `{k: value}`, and returns what it read with the problems it reported. */
function readK<T>(value: unknown, reader: (raw: { k: unknown }, problems: ConfigProblems) => T): { read: T; problems: readonly string[] } {
  const problems = new ConfigProblems();
  return { read: reader({ k: value }, problems), problems: problems.messages };
}

describe("isAbsent: what counts as not set", () => {
  it.each<[unknown, boolean]>([
    [undefined, true],
    [null, true],
    ["", true],
    ["  ", true],
    ["[]", true],
    [" {} ", true],
    [[], true],
    [{}, true],
    ["x", false],
    ["[1]", false],
    [0, false],
    [false, false],
    [[""], false],
    [{ a: 1 }, false],
  ])("%p is %p", (value, absent) => expect(isAbsent(value)).toBe(absent));
});

// Each reader gets Pulumi's string form and the native YAML value, and reports a mistyped one by key, with its fix.
describe("readString", () => {
  const pattern = /^[a-z]+$/;
  it.each<[unknown, string | undefined, readonly string[]]>([
    ["abc", "abc", []],
    ["", "fallback", []],
    [5, "fallback", ["pixel-pipeline:k: expected a string, got 5."]],
    [["abc"], "fallback", ['pixel-pipeline:k: expected a string, got ["abc"].']],
    ["ab1", "fallback", ['pixel-pipeline:k: "ab1" is not valid: use lower-case letters.']],
  ])("%p reads as %p", (value, expected, problems) => {
    expect(readK(value, (raw, found) => readString(raw, "k", found, { fallback: "fallback", pattern, hint: "use lower-case letters" }))).toEqual({ read: expected, problems });
  });

  it("names the pattern when there is no hint, and has no value without a fallback", () => {
    expect(readK("ab1", (raw, found) => readString(raw, "k", found, { pattern }))).toEqual({ read: undefined, problems: ['pixel-pipeline:k: "ab1" is not valid: it must match /^[a-z]+$/.'] });
  });
});

describe("readBoolean", () => {
  it.each<[unknown, boolean, readonly string[]]>([
    [true, true, []],
    ["true", true, []],
    [false, false, []],
    ["false", false, []],
    [undefined, true, []],
    ["yes", true, ['pixel-pipeline:k: expected true or false, got "yes".']],
    [1, true, ["pixel-pipeline:k: expected true or false, got 1."]],
  ])("%p reads as %p", (value, expected, problems) => {
    expect(readK(value, (raw, found) => readBoolean(raw, "k", found, true))).toEqual({ read: expected, problems });
  });
});

describe("readInteger, from -5 to 10", () => {
  const refused = (text: string): readonly string[] => [`pixel-pipeline:k: expected a whole number from -5 to 10, got ${text}.`];
  it.each<[unknown, number, readonly string[]]>([
    ["7", 7, []],
    [7, 7, []],
    [" 7 ", 7, []],
    ["-5", -5, []],
    ["10", 10, []],
    [null, 3, []],
    ["11", 3, refused('"11"')],
    [-6, 3, refused("-6")],
    ["1.5", 3, refused('"1.5"')],
    [1.5, 3, refused("1.5")],
    // Number() would read the first two as 16 and 10: a whole number here is decimal digits only.
    ["0x10", 3, refused('"0x10"')],
    ["1e1", 3, refused('"1e1"')],
    ["7 8", 3, refused('"7 8"')],
    ["seven", 3, refused('"seven"')],
    [true, 3, refused("true")],
  ])("%p reads as %p", (value, expected, problems) => {
    expect(readK(value, (raw, found) => readInteger(raw, "k", found, { fallback: 3, min: -5, max: 10 }))).toEqual({ read: expected, problems });
  });
});

describe("readMap", () => {
  const refused = (text: string): readonly string[] => [`pixel-pipeline:k: expected a map of name to value (in YAML: one "name: value" line each), got ${text}.`];
  it.each<[unknown, Record<string, unknown> | undefined, readonly string[]]>([
    [{ a: "x" }, { a: "x" }, []],
    ['{"a":"x"}', { a: "x" }, []],
    ["{}", undefined, []],
    ['{"a":', undefined, refused('"{\\"a\\":"')],
    ["[1]", undefined, refused('"[1]"')],
    [[1], undefined, refused("[1]")],
    ["null", undefined, refused('"null"')],
    ['"a"', undefined, refused('"\\"a\\""')],
    [5, undefined, refused("5")],
  ])("%p reads as %p", (value, expected, problems) => {
    expect(readK(value, (raw, found) => readMap(raw, "k", found))).toEqual({ read: expected, problems });
  });
});

describe("readStringList", () => {
  const refused = (text: string): readonly string[] => [`pixel-pipeline:k: expected a list of strings, got ${text}.`];
  it.each<[unknown, readonly string[] | undefined, readonly string[]]>([
    [["a", "b"], ["a", "b"], []],
    ['["a","b"]', ["a", "b"], []],
    [' ["a", "b"]', ["a", "b"], []],
    ["a, b ,c", ["a", "b", "c"], []],
    ["a", ["a"], []],
    ["[]", undefined, []],
    ['["a",', undefined, refused('"[\\"a\\","')],
    ["[1]", undefined, refused('"[1]"')],
    [["a", 1], undefined, refused('["a",1]')],
    [5, undefined, refused("5")],
    [{ a: "b" }, undefined, refused('{"a":"b"}')],
  ])("%p reads as %p", (value, expected, problems) => {
    expect(readK(value, (raw, found) => readStringList(raw, "k", found))).toEqual({ read: expected, problems });
  });
});

test("an unknown key is reported with the list of settings, and a key outside the namespace by its own name", () => {
  const problems = new ConfigProblems();
  reportUnknownKeys({ region: "x", regoin: "y" }, ["region", "domain"], problems);
  problems.addQualified("gcp:project", "is required.");
  expect(problems.messages).toEqual(["pixel-pipeline:regoin: is not a setting of this program; the settings are: region, domain.", "gcp:project: is required."]);
  expect(problems.isEmpty).toBe(false);
  expect(new ConfigProblems().isEmpty).toBe(true);
});

test("ConfigError lists every problem, one a line, as the commands and `pulumi preview` print it", () => {
  const error = new ConfigError(["pixel-pipeline:a: is required.", "pixel-pipeline:b: expected true or false, got 1."]);
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe("ConfigError");
  expect(error.message).toBe("The stack configuration has 2 problem(s):\n  - pixel-pipeline:a: is required.\n  - pixel-pipeline:b: expected true or false, got 1.");
  expect(error.problems).toHaveLength(2);
});
