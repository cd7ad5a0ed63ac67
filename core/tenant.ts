/**
 * Tenant ids become part of table names, whose alphabet is [A-Za-z0-9_]. The encoding keeps
 * a-z and 0-9 as they are and writes every other UTF-8 byte as "X" plus two upper-case hex
 * digits ("acme-corp" -> "acmeX2Dcorp", "Acme" -> "X41cme"). It is injective and never emits
 * "_", so the table name `<template>_<tenant>_<YYYYMMDD>` has exactly two underscores after the
 * template, and the wildcard `<template>_<tenant>_*` matches the tables of that tenant only:
 * "acme_*" cannot reach the tables of "acme_corp" (encoded "acmeX5Fcorp").
 * It relies on table names being case-sensitive, which the dataset is declared to be.
 */
export const MAX_TENANT_BYTES = 64;

const PLAIN_TENANT = /^[a-z0-9]*$/;
/** The encoding of each ASCII character, looked up per character on the per-event path. */
const ASCII_ENCODING = Array.from({ length: 128 }, (_, code) => {
  const char = String.fromCharCode(code);
  return /[a-z0-9]/.test(char) ? char : `X${code.toString(16).toUpperCase().padStart(2, "0")}`;
});
const ESCAPED = /X([0-9A-F]{2})|([a-z0-9])/gy;

export function encodeTenant(tenant: string): string {
  if (PLAIN_TENANT.test(tenant)) return tenant;
  let encoded = "";
  for (const char of tenant) {
    const code = char.charCodeAt(0);
    encoded += code < 128 ? ASCII_ENCODING[code] : escapeBytes(char);
  }
  return encoded;
}

function escapeBytes(char: string): string {
  let escaped = "";
  for (const byte of Buffer.from(char, "utf8")) escaped += `X${byte.toString(16).toUpperCase()}`;
  return escaped;
}

/** The inverse of encodeTenant; undefined for a string encodeTenant cannot produce. */
export function decodeTenant(encoded: string): string | undefined {
  const bytes: number[] = [];
  let consumed = 0;
  // Sticky matching stops at the first character that is neither plain nor an escape.
  for (const match of encoded.matchAll(ESCAPED)) {
    consumed += match[0].length;
    bytes.push(match[1] !== undefined ? parseInt(match[1], 16) : match[2].charCodeAt(0));
  }
  if (consumed !== encoded.length) return undefined;
  const tenant = Buffer.from(bytes).toString("utf8");
  // Rejects escaped plain bytes ("X61") and byte runs that are not UTF-8.
  return encodeTenant(tenant) === encoded ? tenant : undefined;
}

/** `_<encoded tenant>_<YYYYMMDD>`: appended to the template table's name by BigQuery. */
export function tableSuffix(tenant: string, utcDay: string): string {
  return `_${encodeTenant(tenant)}_${utcDay}`;
}
