import { ConfigError, ConfigProblems, isAbsent, RawConfig, readBoolean, readInteger, readMap, readString, readStringList } from "./fields";
import { CONFIG_KEYS } from "./keys";
import { ATTRIBUTE_TYPES } from "../attributes";
import type { AttributeSpec, AttributeType } from "../attributes";
import type { CountryTable } from "../country";
import { SETTINGS_VARIABLE, SIGNING_KEYS_VARIABLE, VISITOR_KEY_VARIABLE } from "../functionContract";
import { DECLARED_TABLE_NAMES, LAYOUTS, TABLE_NAME_COLUMNS } from "../layout";
import type { Layout } from "../layout";
import { CAMPAIGN_PARAMETERS, STANDARD_COLUMN_NAMES } from "../schema";
import { SIGNATURE_PARAMETER } from "../signature";
import { MAX_TENANT_BYTES } from "../tenant";
import { MIN_VISITOR_KEY_LENGTH } from "../visitor";

/**
 * What the parser needs to turn a log entry into a row. The same object configures the deployed
 * function (as JSON in an environment variable), the template table's schema, the local pipeline
 * and the parse command, so the attribute whitelist exists once.
 */
export interface CoreSettings {
  /** Whitelisted query parameters, in column order; includes the tenant attribute. */
  readonly attributes: readonly AttributeSpec[];
  /** The query parameter that names the tenant; its value picks the table. */
  readonly tenantAttribute: string;
  /** When set, any other tenant is refused before a table could be created. */
  readonly tenantAllowlist?: readonly string[];
  /** Only requests for this path are events. */
  readonly pixelPath: string;
  /** Cut client IPs to /24 (IPv4) or /48 (IPv6) before they are stored. */
  readonly anonymizeIp: boolean;
  /** Longer STRING values are cut to this many characters. */
  readonly maxValueLength: number;
  /** The template table; day tables are named `<templateTable>_<tenant>_<YYYYMMDD>`. */
  readonly templateTable: string;
  /** A table per tenant and day (templateSuffix), or one partitioned table; see layout.ts. */
  readonly layout: Layout;
  /** The attribute that names the event's type: a column of daily_counts and a clustering column. */
  readonly eventTypeAttribute?: string;
  /** Refuse pixel URLs without a valid `sig` (HMAC-SHA256 with one of signingKeys). */
  readonly signedUrls: boolean;
  /**
   * Secret keys, never part of the serialised settings: the function reads them from Secret
   * Manager (PIXEL_SIGNING_KEYS), local tools from the environment. Two during a rotation.
   */
  readonly signingKeys?: readonly string[];
  /** Fill the utm_ columns from the pixel URL or the page's query. */
  readonly utmColumns: boolean;
  /**
   * The key of the daily visitor ids, never part of the serialised settings: the function reads
   * it from Secret Manager (PIXEL_VISITOR_KEY), the local pipeline from its data directory.
   * Without it visitor_id is NULL.
   */
  readonly visitorKey?: string;
  /** The IP-to-country table, loaded by the adapter that runs the core. Without it country is NULL. */
  readonly countries?: CountryTable;
}

export const DEFAULT_CORE_SETTINGS = {
  tenantAttribute: CONFIG_KEYS.tenantAttribute.default,
  pixelPath: CONFIG_KEYS.pixelPath.default,
  anonymizeIp: CONFIG_KEYS.anonymizeIp.default,
  maxValueLength: CONFIG_KEYS.maxValueLength.default,
  templateTable: CONFIG_KEYS.templateTable.default,
  layout: CONFIG_KEYS.layout.default,
  signedUrls: CONFIG_KEYS.signedUrls.default,
  utmColumns: CONFIG_KEYS.utmColumns.default,
} as const;

/** The event-type attribute when the stack names none and has an attribute of this name. */
export const DEFAULT_EVENT_TYPE_ATTRIBUTE = "type";

export const MIN_SIGNING_KEY_LENGTH = 16;

/** BigQuery column names are case-insensitive and must not start with a reserved prefix; we also keep them short. */
const COLUMN_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
/** A template name must leave room for the suffix within BigQuery's 1,024-character table name limit. */
const TEMPLATE_TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const PIXEL_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const LAYOUT = new RegExp(`^(?:${LAYOUTS.join("|")})$`);
const DERIVED_COLUMN_NAMES: ReadonlySet<string> = new Set(TABLE_NAME_COLUMNS.map((column) => column.name));

/** Reads and validates the parser settings, adding every problem found to `problems`. */
export function readCoreSettings(raw: RawConfig, problems: ConfigProblems): CoreSettings {
  const tenantAttribute = readString(raw, "tenantAttribute", problems, {
    fallback: DEFAULT_CORE_SETTINGS.tenantAttribute,
    pattern: COLUMN_NAME,
    hint: "use a query parameter name made of letters, digits and _ that starts with a letter",
  });
  const attributes = readAttributes(raw, tenantAttribute, problems);
  const eventTypeAttribute = readEventTypeAttribute(raw, attributes, tenantAttribute, problems);
  const tenantAllowlist = readStringList(raw, "tenantAllowlist", problems);
  tenantAllowlist?.forEach((tenant, index) => {
    const bytes = Buffer.byteLength(tenant, "utf8");
    if (bytes === 0 || bytes > MAX_TENANT_BYTES) {
      problems.add(`tenantAllowlist[${index}]`, `a tenant must be 1 to ${MAX_TENANT_BYTES} bytes of UTF-8, got ${JSON.stringify(tenant)}.`);
    }
  });
  return {
    attributes,
    tenantAttribute,
    ...(tenantAllowlist ? { tenantAllowlist } : {}),
    pixelPath: readString(raw, "pixelPath", problems, {
      fallback: DEFAULT_CORE_SETTINGS.pixelPath,
      pattern: PIXEL_PATH,
      hint: 'use an absolute URL path such as "/pixel.png"',
    }),
    anonymizeIp: readBoolean(raw, "anonymizeIp", problems, DEFAULT_CORE_SETTINGS.anonymizeIp),
    maxValueLength: readInteger(raw, "maxValueLength", problems, {
      fallback: DEFAULT_CORE_SETTINGS.maxValueLength,
      min: 1,
      max: 65536,
    }),
    templateTable: readTemplateTable(raw, problems),
    layout: readString(raw, "layout", problems, {
      fallback: DEFAULT_CORE_SETTINGS.layout,
      pattern: LAYOUT,
      hint: 'use "per-tenant-day" (a table per tenant and UTC day, the default) or "partitioned" (one table partitioned by day, for high volume)',
    }) as Layout,
    ...(eventTypeAttribute ? { eventTypeAttribute } : {}),
    signedUrls: readBoolean(raw, "signedUrls", problems, DEFAULT_CORE_SETTINGS.signedUrls),
    utmColumns: readBoolean(raw, "utmColumns", problems, DEFAULT_CORE_SETTINGS.utmColumns),
  };
}

/**
 * The views read every table named `<templateTable>*` (BigQuery refuses a wildcard that matches
 * a view), and DuckDB names are case-insensitive, so no declared name may start with it in any case.
 */
function readTemplateTable(raw: RawConfig, problems: ConfigProblems): string {
  const templateTable = readString(raw, "templateTable", problems, {
    fallback: DEFAULT_CORE_SETTINGS.templateTable,
    pattern: TEMPLATE_TABLE_NAME,
    hint: "use 1 to 100 letters, digits and _, starting with a letter",
  });
  const clashes = DECLARED_TABLE_NAMES.filter((name) => name.toLowerCase().startsWith(templateTable.toLowerCase()));
  if (clashes.length === 0) return templateTable;
  problems.add(
    "templateTable",
    `"${templateTable}" is the start of ${clashes.join(", ")}, which this program declares next to the day tables; the views read every table whose name starts with the template's, so choose another name, such as "${DEFAULT_CORE_SETTINGS.templateTable}".`,
  );
  return DEFAULT_CORE_SETTINGS.templateTable;
}

/**
 * The event-type attribute: the one named in the config, else "type" when the stack keeps it.
 * It must be a whitelisted attribute other than the tenant, and clusterable (not FLOAT64).
 */
function readEventTypeAttribute(raw: RawConfig, attributes: readonly AttributeSpec[], tenantAttribute: string, problems: ConfigProblems): string | undefined {
  const named = readString(raw, "eventTypeAttribute", problems, {
    pattern: COLUMN_NAME,
    hint: "use the name of one of the attributes",
  });
  if (named === undefined) {
    const fallback = attributes.find((attribute) => attribute.name === DEFAULT_EVENT_TYPE_ATTRIBUTE);
    return fallback && fallback.name !== tenantAttribute && fallback.type !== "FLOAT64" ? fallback.name : undefined;
  }
  const attribute = attributes.find((candidate) => candidate.name === named);
  if (!attribute) {
    problems.add("eventTypeAttribute", `"${named}" is not one of the attributes; add it to attributes or name another (${attributes.map((candidate) => candidate.name).join(", ")}).`);
  } else if (attribute.name === tenantAttribute) {
    problems.add("eventTypeAttribute", `"${named}" is the tenant attribute, which every view already has as the tenant column; name the attribute that carries the event's type.`);
  } else if (attribute.type === "FLOAT64") {
    problems.add("eventTypeAttribute", `"${named}" is FLOAT64, and BigQuery cannot cluster on FLOAT64; use a STRING, INT64 or BOOL attribute.`);
  } else {
    return named;
  }
  return undefined;
}

/**
 * Adds the signing keys from the environment. With signedUrls on, a missing or short key is a
 * start-up error, so a misconfigured function fails loudly instead of refusing every event.
 */
export function withSigningKeys(settings: CoreSettings, environment: NodeJS.ProcessEnv): CoreSettings {
  const keys = (environment[SIGNING_KEYS_VARIABLE] ?? "")
    .split(/[\n,]/)
    .map((key) => key.trim())
    .filter(Boolean);
  if (!settings.signedUrls) return settings;
  const problems = new ConfigProblems();
  if (keys.length === 0) {
    problems.add(
      "signingKeys",
      `signedUrls is on but ${SIGNING_KEYS_VARIABLE} is empty: set the key with \`pulumi config set --secret pixel-pipeline:signingKeys <key>\`; the local commands, which cannot decrypt it, read ${SIGNING_KEYS_VARIABLE} from the environment.`,
    );
  } else if (keys.some((key) => key.length < MIN_SIGNING_KEY_LENGTH)) {
    problems.add("signingKeys", `every signing key needs at least ${MIN_SIGNING_KEY_LENGTH} characters; generate one with: openssl rand -base64 32.`);
  }
  if (!problems.isEmpty) throw new ConfigError(problems.messages);
  return { ...settings, signingKeys: keys };
}

/**
 * Adds the visitor key from the environment: the deployed function's start-up fails without a
 * usable one, rather than store rows without visitor ids.
 */
export function withVisitorKey(settings: CoreSettings, environment: NodeJS.ProcessEnv): CoreSettings {
  const key = environment[VISITOR_KEY_VARIABLE] ?? "";
  if (key.length < MIN_VISITOR_KEY_LENGTH) {
    throw new ConfigError([
      `${VISITOR_KEY_VARIABLE}: the visitor key must have at least ${MIN_VISITOR_KEY_LENGTH} characters, got ${key.length}. The Pulumi program generates it into Secret Manager; for the local commands, read it with \`gcloud secrets versions access latest --secret=<stack's visitor-key secret>\`.`,
    ]);
  }
  return { ...settings, visitorKey: key };
}

function readAttributes(raw: RawConfig, tenantAttribute: string, problems: ConfigProblems): AttributeSpec[] {
  const declared = readMap(raw, "attributes", problems);
  if (!declared) {
    // readMap reported a value that is not a map; an empty one (null, "", {}) is reported here, as missing.
    if (isAbsent(raw.attributes)) {
      problems.add("attributes", `is required: list the query parameters to keep, e.g. "attributes: {${tenantAttribute}: STRING, type: STRING}".`);
    }
    return [];
  }
  const attributes: AttributeSpec[] = [];
  const seen = new Set<string>();
  for (const [name, type] of Object.entries(declared)) {
    const key = `attributes.${name}`;
    if (!COLUMN_NAME.test(name)) {
      problems.add(key, "the name must be 1 to 128 letters, digits and _, starting with a letter (it becomes a BigQuery column).");
      continue;
    }
    const folded = name.toLowerCase();
    if (folded === SIGNATURE_PARAMETER) {
      problems.add(key, `"${SIGNATURE_PARAMETER}" carries the URL signature and cannot be an attribute.`);
      continue;
    }
    if (STANDARD_COLUMN_NAMES.has(folded)) {
      // Stacks that kept campaign parameters as attributes before they became columns keep their data by removing them.
      const isCampaign = (CAMPAIGN_PARAMETERS as readonly string[]).includes(folded);
      problems.add(
        key,
        isCampaign
          ? `"${name}" is a standard column of every row, filled from the pixel URL or the page's query (see utmColumns): remove it from attributes; the column and its data stay.`
          : `"${name}" is a standard column of every row; rename the attribute (and the query parameter).`,
      );
      continue;
    }
    if (DERIVED_COLUMN_NAMES.has(folded)) {
      problems.add(key, `"${name}" is a column the views add (and the partitioned table stores); rename the attribute.`);
      continue;
    }
    if (seen.has(folded)) {
      problems.add(key, "BigQuery column names ignore case, and another attribute differs from this one only in case.");
      continue;
    }
    const upperType = typeof type === "string" ? type.toUpperCase() : type;
    if (!ATTRIBUTE_TYPES.includes(upperType as AttributeType)) {
      problems.add(key, `type ${JSON.stringify(type)} is not one of ${ATTRIBUTE_TYPES.join(", ")}.`);
      continue;
    }
    seen.add(folded);
    attributes.push({ name, type: upperType as AttributeType });
  }
  const tenant = attributes.find((attribute) => attribute.name === tenantAttribute);
  if (!tenant && !problems.messages.some((message) => message.includes(`attributes.${tenantAttribute}:`))) {
    problems.add("tenantAttribute", `"${tenantAttribute}" must also be listed in attributes (as STRING), because it names each event's tenant.`);
  } else if (tenant && tenant.type !== "STRING") {
    problems.add(`attributes.${tenantAttribute}`, `the tenant attribute must be STRING, not ${tenant.type}.`);
  }
  return attributes;
}

/** Validates settings that were serialised for the deployed function; throws with every problem. */
export function parseCoreSettingsJson(json: string | undefined): CoreSettings {
  const problems = new ConfigProblems();
  let raw: RawConfig = {};
  try {
    raw = JSON.parse(json ?? "{}") as RawConfig;
  } catch {
    problems.add("settings", `the function's ${SETTINGS_VARIABLE} environment variable is not JSON.`);
  }
  const settings = readCoreSettings(raw, problems);
  if (!problems.isEmpty) throw new ConfigError(problems.messages);
  return settings;
}

/** The inverse of parseCoreSettingsJson: the raw form, attributes as a name-to-type map, never the keys or the country table. */
export function serializeCoreSettings(settings: CoreSettings): string {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { signingKeys, visitorKey, countries, ...publicSettings } = settings;
  return JSON.stringify({
    ...publicSettings,
    attributes: Object.fromEntries(settings.attributes.map((attribute) => [attribute.name, attribute.type])),
  });
}
