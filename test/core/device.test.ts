import fc from "fast-check";
import { classifyClient } from "../../core/client";
import { describeDevice } from "../../core/device";
import { DEVICE_TYPES } from "../../core/schema";

// Real user agents of 2024-2026 browsers, and what a report should call them.
describe.each<[string, string, string | null, string | null, string | null, string]>([
  ["Chrome on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "131", "Windows", "desktop"],
  ["Firefox on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "133", "Windows", "desktop"],
  ["Edge on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge", "131", "Windows", "desktop"],
  ["Opera on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera", "115", "Windows", "desktop"],
  ["Safari on a Mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari", "18", "macOS", "desktop"],
  ["Safari on an iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", "18", "iOS", "mobile"],
  ["Chrome on an iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome", "131", "iOS", "mobile"],
  ["Safari on an old iPad", "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1", "Safari", "12", "iOS", "tablet"],
  ["Chrome on an Android phone", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome", "131", "Android", "mobile"],
  ["Chrome on an Android tablet", "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "131", "Android", "tablet"],
  ["Samsung Internet", "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet", "26", "Android", "mobile"],
  ["Firefox on Android", "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox", "133", "Android", "mobile"],
  ["Firefox on Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "133", "Linux", "desktop"],
  ["Chrome on a Chromebook", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "131", "Chrome OS", "desktop"],
  ["a Samsung smart TV", "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36", "Samsung Internet", "4", "Tizen", "other"],
  ["Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "2", null, "other"],
  ["curl", "curl/8.5.0", null, null, null, "other"],
  ["a script naming itself", "python-requests/2.32.3 (x)", null, null, null, "other"],
  ["a prototype key as product token", "constructor/1.0 (x)", null, null, null, "other"],
  ["garbage", "}}{{\u0000\u00ff<script>alert(1)</script>;;;(((( ))))", null, null, null, "other"],
  // Judged on its first 512 characters: the WebKit tokens without a version.
  ["a 5 KB user agent", `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ${"AppleWebKit/537.36 (KHTML, like Gecko) ".repeat(130)}Chrome/131.0.0.0 Safari/537.36`, "Safari", null, "Windows", "desktop"],
])("the user agent of %s", (_name, userAgent, browser, browserVersion, os, deviceType) => {
  test(`is ${browser ?? "an unknown browser"} ${browserVersion ?? ""} on ${os ?? "an unknown OS"}, ${deviceType}`, () => {
    expect(describeDevice(userAgent)).toEqual({ browser, browserVersion, os, deviceType });
  });
});

test("an iPad asking for the desktop site sends a Mac's user agent, and counts as a desktop", () => {
  expect(describeDevice("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15").deviceType).toBe("desktop");
});

test("no user agent, or an empty one, is an unknown device", () => {
  expect(describeDevice(null)).toEqual({ browser: null, browserVersion: null, os: null, deviceType: "other" });
  expect(describeDevice("")).toEqual({ browser: null, browserVersion: null, os: null, deviceType: "other" });
});

test("any text gives a device of the four types, a digits-only version, and never throws", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.string({ unit: fc.constantFrom("Mozilla/5.0 (", "iPhone", "Android", "; ", ")", "Chrome/", "1", ".", " ", "/"), maxLength: 80 })), (userAgent) => {
      const device = describeDevice(userAgent);
      expect(DEVICE_TYPES).toContain(device.deviceType);
      if (device.browserVersion !== null) expect(device.browserVersion).toMatch(/^\d+$/);
      if (device.browser === null) expect(device.browserVersion).toBeNull();
    }),
    { numRuns: 3000 },
  );
});

test("the client classification carries the device, and repeats the answer for a user agent it has seen", () => {
  const userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  const first = classifyClient(userAgent);
  expect(first.device).toEqual(describeDevice(userAgent));
  expect(classifyClient(userAgent)).toBe(first);
});
