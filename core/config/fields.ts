/**
 * Typed readers for raw configuration values. Values arrive either as strings (Pulumi's config
 * API hands every value over as a string, structured ones as JSON) or as native YAML values
 * (the parse command reads Pulumi.<stack>.yaml itself), so each reader accepts both.
 * Readers never throw: they record a problem naming the key and the fix, so that every problem
 * in a stack's config is reported at once.
 */
export const CONFIG_NAMESPACE = "pixel-pipeline";

export type RawConfig = Readonly<Record<string, unknown>>;

export class ConfigProblems {
  readonly messages: string[] = [];

  add(key: string, message: string): void {
    this.addQualified(`${CONFIG_NAMESPACE}:${key}`, message);
  }

  /** For keys outside the project's namespace, such as the provider's `gcp:project`. */
  addQualified(qualifiedKey: string, message: string): void {
    this.messages.push(`${qualifiedKey}: ${message}`);
  }

  get isEmpty(): boolean {
    return this.messages.length === 0;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `The stack configuration has ${problems.length} problem(s):\n` +
        problems.map((problem) => `  - ${problem}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/**
 * Not set: missing, null, or an empty value. Pulumi.yaml declares an empty value as the default of
 * optional keys (keys.ts), so an empty string, list or map reads as "not set", not as a value.
 */
export function isAbsent(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === "string") return ["", "[]", "{}"].includes(value.trim());
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}

/** Parses a JSON string from Pulumi config; native values pass through untouched. */
function structured(value: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof value !== "string") return { ok: true, value };
  try {
    return { ok: true, value: JSON.parse(value) };
  } catch {
    return { ok: false };
  }
}

export function readString(
  raw: RawConfig,
  key: string,
  problems: ConfigProblems,
  options: { fallback: string; pattern?: RegExp; hint?: string },
): string;
export function readString(
  raw: RawConfig,
  key: string,
  problems: ConfigProblems,
  options: { fallback?: undefined; pattern?: RegExp; hint?: string },
): string | undefined;
export function readString(
  raw: RawConfig,
  key: string,
  problems: ConfigProblems,
  options: { fallback?: string; pattern?: RegExp; hint?: string },
): string | undefined {
  const value = raw[key];
  if (isAbsent(value)) return options.fallback;
  if (typeof value !== "string") {
    problems.add(key, `expected a string, got ${JSON.stringify(value)}.`);
    return options.fallback;
  }
  if (options.pattern && !options.pattern.test(value)) {
    problems.add(key, `${JSON.stringify(value)} is not valid: ${options.hint ?? `it must match ${options.pattern}`}.`);
    return options.fallback;
  }
  return value;
}

export function readBoolean(raw: RawConfig, key: string, problems: ConfigProblems, fallback: boolean): boolean {
  const value = raw[key];
  if (isAbsent(value)) return fallback;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  problems.add(key, `expected true or false, got ${JSON.stringify(value)}.`);
  return fallback;
}

export function readInteger(
  raw: RawConfig,
  key: string,
  problems: ConfigProblems,
  options: { fallback: number; min: number; max: number },
): number {
  const value = raw[key];
  if (isAbsent(value)) return options.fallback;
  const number = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < options.min || number > options.max) {
    problems.add(key, `expected a whole number from ${options.min} to ${options.max}, got ${JSON.stringify(value)}.`);
    return options.fallback;
  }
  return number;
}

/** A map from name to value, as YAML `key: {a: x, b: y}` or its JSON string. */
export function readMap(raw: RawConfig, key: string, problems: ConfigProblems): Record<string, unknown> | undefined {
  const value = raw[key];
  if (isAbsent(value)) return undefined;
  const parsed = structured(value);
  if (!parsed.ok || typeof parsed.value !== "object" || parsed.value === null || Array.isArray(parsed.value)) {
    problems.add(key, `expected a map of name to value (in YAML: one "name: value" line each), got ${JSON.stringify(value)}.`);
    return undefined;
  }
  return parsed.value as Record<string, unknown>;
}

/** A list of strings, as a YAML list, its JSON string, or one comma-separated string. */
export function readStringList(raw: RawConfig, key: string, problems: ConfigProblems): string[] | undefined {
  const value = raw[key];
  if (isAbsent(value)) return undefined;
  const parsed = typeof value === "string" && !value.trim().startsWith("[") ? { ok: true as const, value: value.split(",").map((item) => item.trim()) } : structured(value);
  if (!parsed.ok || !Array.isArray(parsed.value) || !parsed.value.every((item) => typeof item === "string")) {
    problems.add(key, `expected a list of strings, got ${JSON.stringify(value)}.`);
    return undefined;
  }
  return parsed.value as string[];
}

/** A mistyped optional key would otherwise be ignored without a word and its default used. */
export function reportUnknownKeys(raw: RawConfig, knownKeys: readonly string[], problems: ConfigProblems): void {
  for (const key of Object.keys(raw)) {
    if (!knownKeys.includes(key)) problems.add(key, `is not a setting of this program; the settings are: ${knownKeys.join(", ")}.`);
  }
}
