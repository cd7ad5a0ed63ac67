import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";
import { makeTempDir, query, removeDir, startTestPipeline, waitFor } from "../../testkit/localPipeline";
import type { TestPipeline } from "../../testkit/localPipeline";

jest.setTimeout(180_000);

// Debian's Chromium, never a downloaded browser; a fresh profile each run.
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let dataDir: string;
let profileDir: string;
let pipeline: TestPipeline;
let browser: BrowserContext;

beforeAll(async () => {
  dataDir = await makeTempDir();
  profileDir = await makeTempDir();
  pipeline = await startTestPipeline(dataDir);
  browser = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  browser.setDefaultTimeout(90_000);
});

afterAll(async () => {
  await browser?.close();
  await pipeline?.close();
  await removeDir(dataDir);
  await removeDir(profileDir);
});

// Page-side expressions as strings: this project compiles without the DOM's types.
const ALL_IMAGES_LOADED = "[...document.images].every((image) => image.complete && image.naturalWidth === 1)";

const PIXELS = [
  { user_id: "acme", type: "view", order_id: "1", price: "9.99", beta: "true" },
  { user_id: "acme", type: "click", order_id: "2", price: "0.5", beta: "0" },
  { user_id: "globex", type: "purchase", order_id: "3", price: "120", beta: "1" },
];

it("stores each pixel a page embeds with its attributes, the page as referer and the browser's user agent", async () => {
  // A shop page on the pipeline's own origin, as a site embedding the pixel on its own domain would.
  const shopUrl = `${pipeline.url}shop/checkout.html?step=2`;
  const images = PIXELS.map((attributes) => `<img alt="" width="1" height="1" src="${pipeline.pixelUrl}?${new URLSearchParams(attributes)}">`);
  const page = await browser.newPage();
  await page.route(shopUrl, (route) =>
    route.fulfill({ contentType: "text/html", body: `<!doctype html><title>checkout</title><h1>Checkout</h1>${images.join("")}` }),
  );
  await page.goto(shopUrl);
  await page.waitForFunction(ALL_IMAGES_LOADED);
  const userAgent = await page.evaluate<string>("navigator.userAgent");

  const rows = await waitFor(
    () => query(dataDir, `SELECT tenant, user_id, type, order_id, price, beta, referer, user_agent, status FROM events WHERE referer = '${shopUrl}' ORDER BY order_id`),
    (found) => found.length === PIXELS.length,
  );
  expect(rows).toEqual(
    PIXELS.map((attributes) => ({
      tenant: attributes.user_id,
      user_id: attributes.user_id,
      type: attributes.type,
      order_id: Number(attributes.order_id),
      price: Number(attributes.price),
      beta: attributes.beta === "true" || attributes.beta === "1",
      referer: shopUrl,
      user_agent: userAgent,
      status: 200,
    })),
  );

  // Every view is an event. (Routing turns Playwright's HTTP cache off, so the second view
  // fetches rather than revalidates; 304 revalidations are covered in pipeline.test.ts.)
  await page.goto(shopUrl);
  await page.waitForFunction(ALL_IMAGES_LOADED);
  const views = await waitFor(
    () => query(dataDir, `SELECT count(*) AS n FROM events WHERE referer = '${shopUrl}'`),
    ([found]) => found.n === 2 * PIXELS.length,
  );
  expect(views).toEqual([{ n: 2 * PIXELS.length }]);
  await page.close();
});

it("fires pixels from the dashboard and shows the new row and the refusal there", async () => {
  const page = await browser.newPage();
  await page.goto(pipeline.url);
  await page.fill('input[name="user_id"]', "dashboard-tenant");
  await page.fill('input[name="type"]', "signup");
  await page.click("#fire-pixel");
  await page.waitForSelector("#latest td:text-is('dashboard-tenant')");
  await page.click("#fire-untenanted");
  await page.waitForSelector("#refusals td:text-is('missing_tenant')");

  expect(await page.textContent("#fired")).toContain("pixel loaded");
  expect(await page.locator("#chart rect").count()).toBe(30);
  const [row] = await query(dataDir, `SELECT type, referer FROM events WHERE tenant = 'dashboard-tenant'`);
  expect(row).toEqual({ type: "signup", referer: pipeline.url });
  await page.close();
});
