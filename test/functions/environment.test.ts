import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { countryTableFile } from "../../assets/countryTable";
import { serializeCoreSettings } from "../../core/config/coreSettings";
import { ARCHIVE_BUCKET_VARIABLE, COUNTRY_TABLE_FILE, SETTINGS_VARIABLE, SIGNING_KEYS_VARIABLE, VISITOR_KEY_VARIABLE } from "../../core/functionContract";
import { requiredVariable, settingsFromEnvironment } from "../../functions/environment";
import { DEV_SETTINGS } from "../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../testkit/settings";

test("the settings come from their variable, the keys from theirs, and the country table from beside the bundle", () => {
  const keys = ["a-signing-key-of-enough-characters-1", "a-signing-key-of-enough-characters-2"];
  const signing = { ...DEV_SETTINGS, signedUrls: true };
  const environment = { [SETTINGS_VARIABLE]: serializeCoreSettings(signing), [VISITOR_KEY_VARIABLE]: TEST_VISITOR_KEY, [SIGNING_KEYS_VARIABLE]: keys.join(",") };
  // The bundle's directory, as the bundle pipeline lays it out.
  const bundleDirectory = mkdtempSync(path.join(tmpdir(), "pixel-environment-"));
  try {
    copyFileSync(countryTableFile(), path.join(bundleDirectory, COUNTRY_TABLE_FILE));
    const settings = settingsFromEnvironment(bundleDirectory, environment);
    expect(settings).toMatchObject({ attributes: DEV_SETTINGS.attributes, layout: DEV_SETTINGS.layout, signedUrls: true, signingKeys: keys });
    expect(settings.visitorKey).toBeDefined();
    expect(settings.countries?.source).toMatch(/^@ip-location-db\/dbip-country /);
  } finally {
    rmSync(bundleDirectory, { recursive: true, force: true });
  }
});

test("a missing variable names itself and who sets it", () => {
  expect(() => requiredVariable(ARCHIVE_BUCKET_VARIABLE, {})).toThrow(`${ARCHIVE_BUCKET_VARIABLE} is not set: the Pulumi program sets it on the deployed function.`);
  expect(requiredVariable(ARCHIVE_BUCKET_VARIABLE, { [ARCHIVE_BUCKET_VARIABLE]: "pixel-archive" })).toBe("pixel-archive");
});
