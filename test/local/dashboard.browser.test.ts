import { domainToASCII } from "node:url";
import { chromium } from "playwright-core";
import type { BrowserContext, Route } from "playwright-core";
import { httpRequest, makeTempDir, query, removeDir, startTestPipeline, waitFor } from "../../testkit/localPipeline";
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

  expect(await page.textContent("#fired")).toContain("the server answered 200, the pixel loaded");
  expect(await page.locator("#chart rect").count()).toBe(30);
  const [row] = await query(dataDir, `SELECT type, referer FROM events WHERE tenant = 'dashboard-tenant'`);
  expect(row).toEqual({ type: "signup", referer: pipeline.url });
  await page.close();
});

it("makes every click of Fire pixel a new event, even with the same values", async () => {
  const page = await browser.newPage();
  await page.goto(pipeline.url);
  await page.fill('input[name="user_id"]', "clicked-thrice");
  for (let click = 1; click <= 3; click++) {
    await page.click("#fire-pixel");
    const rows = page.locator("#latest tr", { has: page.locator("td:text-is('clicked-thrice')") });
    const shown = await waitFor(() => rows.count(), (count) => count === click);
    expect(shown).toBe(click);
  }
  expect(await query(dataDir, `SELECT count(*) AS n FROM events WHERE tenant = 'clicked-thrice'`)).toEqual([{ n: 3 }]);
  await page.close();
});

it("shows is_bot, dnt and email_proxy in a table as wide as the page, each value on one line", async () => {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const long = "a-long-value-".repeat(12);
  await page.goto(pipeline.url);
  await page.fill('input[name="user_id"]', "wide");
  await page.fill('input[name="type"]', long);
  await page.click("#fire-pixel");
  await page.waitForSelector("#latest td:text-is('wide')");
  const headers = await page.locator("#latest th").allTextContents();
  expect(headers).toEqual(expect.arrayContaining(["is_bot", "dnt", "email_proxy"]));
  const row = page.locator("#latest tr", { has: page.locator("td:text-is('wide')") });
  const cells = await row.locator("td").allTextContents();
  // Headless Chromium says so in its user agent, which isbot flags.
  const [stored] = await query(dataDir, `SELECT is_bot, dnt, coalesce(email_proxy, '') AS email_proxy FROM events WHERE tenant = 'wide'`);
  expect(stored).toEqual({ is_bot: true, dnt: false, email_proxy: "" });
  expect(["is_bot", "dnt", "email_proxy"].map((column) => cells[headers.indexOf(column)])).toEqual(["true", "false", ""]);
  // As wide as the page's content, and no cell wraps onto a second line.
  const layout = await page.evaluate<{ table: number; page: number; cellHeights: number[] }>(`({
    table: document.querySelector("#latest").parentElement.getBoundingClientRect().width,
    page: document.body.getBoundingClientRect().width,
    cellHeights: [...document.querySelectorAll("#latest td, #latest th")].map((cell) => cell.getBoundingClientRect().height),
  })`);
  expect(layout.table).toBeGreaterThanOrEqual(layout.page - 1);
  expect(layout.page).toBeGreaterThan(1200);
  expect(Math.max(...layout.cellHeights)).toBeLessThan(1.5 * Math.min(...layout.cellHeights));
  await page.close();
});

it("shows the page, browser, device and country of the latest rows first, on screen, the raw values they come from on hover", async () => {
  const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  const referer = "https://shop.example.com/pricing?utm_source=newsletter";
  expect((await httpRequest(`${pipeline.pixelUrl}?user_id=derived&type=view`, { headers: { "user-agent": chrome, referer } })).status).toBe(200);
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(pipeline.url);
  await page.waitForSelector("#latest td:text-is('derived')");
  const headers = await page.locator("#latest th").allTextContents();
  expect(headers.slice(0, 7)).toEqual(["event_timestamp", "tenant", "page", "browser", "os", "device", "country"]);
  const row = page.locator("#latest tr", { has: page.locator("td:text-is('derived')") });
  const cell = (heading: string) => row.locator("td").nth(headers.indexOf(heading));
  // This machine's loopback address has no country.
  expect(await Promise.all(["page", "browser", "os", "device", "country"].map((heading) => cell(heading).textContent()))).toEqual(["shop.example.com/pricing", "Chrome 131", "Windows", "desktop", ""]);
  expect(await cell("page").getAttribute("title")).toBe(referer);
  expect(await cell("browser").getAttribute("title")).toBe(chrome);
  // On screen without scrolling the table sideways.
  const table = await page.locator("#latest").locator("..").boundingBox();
  const country = await cell("country").boundingBox();
  expect(country!.x + country!.width).toBeLessThanOrEqual(table!.x + table!.width);
  await page.close();
});

it("answers for a tenant and a range: events of people, visitors, bots, top pages, campaigns, devices and countries, live", async () => {
  const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
  const fire = (userAgent: string, page: string) =>
    httpRequest(`${pipeline.pixelUrl}?user_id=answers&type=view`, { headers: { "user-agent": userAgent, referer: `https://shop.example.com${page}` } });
  // Two visitors (one browser each, one address): three views of /pricing from a campaign, one of /, and a bot.
  for (const [userAgent, page] of [[chrome, "/pricing?utm_source=newsletter&utm_campaign=autumn"], [chrome, "/pricing?utm_source=newsletter&utm_campaign=autumn"], [iphone, "/pricing?utm_source=newsletter&utm_campaign=autumn"], [iphone, "/"], ["curl/8.5.0", "/"]]) {
    expect((await fire(userAgent, page)).status).toBe(200);
  }
  const page = await browser.newPage();
  await page.goto(pipeline.url);
  await page.fill("#answers-tenant", "answers");
  await page.dispatchEvent("#answers-tenant", "change");
  // Selectors, not functions: the dashboard's content security policy forbids evaluating strings.
  // The pixels may reach the database in more than one batch: wait for the answers that hold all five.
  await page.waitForSelector("#answer-events:text-is('4')");
  await page.waitForSelector("#answer-bots:text-is('20%')");
  expect(await page.locator(".card b").allTextContents()).toEqual(["4", "2", "20%"]);
  // One meaning of "events" each: the chart above counts every event, the answers those of people.
  expect(await page.locator(".card").allTextContents()).toEqual(["events of people 4", "visitors 2", "bots, of all events 20%"]);
  expect(await page.locator("h2", { has: page.locator("#totals") }).textContent()).toMatch(/^All events per minute bots included \(last 30 minutes/);
  const panel = (view: string) => page.locator(`[data-view="${view}"] tr`).allTextContents();
  expect(await panel("daily_pages")).toEqual(["eventsvisitors", "shop.example.com/pricing32", "shop.example.com/11"]);
  expect(await panel("daily_campaigns")).toEqual(["eventsvisitors", "newsletter · autumn32", "(no campaign)11"]);
  expect(await panel("daily_devices")).toEqual(["eventsvisitors", "Chrome · Windows · desktop21", "Safari · iOS · mobile21"]);
  // This machine's loopback address has no country; the page names the data's source as its licence asks.
  expect(await panel("daily_countries")).toEqual(["eventsvisitors", "(unknown)42"]);
  expect(await page.getAttribute("#answers a", "href")).toBe("https://db-ip.com");
  // Live: a new view shows up without a reload.
  await fire(chrome, "/");
  await page.waitForSelector("#answer-events:text-is('5')");
  await page.close();
});

it("shows the tenant with the most events of people until one is chosen, not a busier one only bots reached, and says so for that one", async () => {
  const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  expect((await httpRequest(`${pipeline.pixelUrl}?user_id=with-people&type=view`, { headers: { "user-agent": chrome } })).status).toBe(200);
  // curl traffic, more events than any tenant has: every one of them a bot's.
  const [{ n: busiest }] = await query(dataDir, `SELECT coalesce(max(n), 0) AS n FROM (SELECT count(*) AS n FROM events GROUP BY tenant)`);
  const curlEvents = Number(busiest) + 1;
  for (let pixel = 0; pixel < curlEvents; pixel++) {
    expect((await httpRequest(`${pipeline.pixelUrl}?user_id=curl-traffic&type=view`, { headers: { "user-agent": "curl/8.5.0" } })).status).toBe(200);
  }
  // All stored before the page opens, so its first answers already hold them.
  await waitFor(() => query(dataDir, `SELECT count(*) AS n FROM events WHERE tenant IN ('curl-traffic', 'with-people')`), ([stored]) => stored.n === curlEvents + 1);

  const page = await browser.newPage();
  await page.goto(pipeline.url);
  const picked = await waitFor(() => page.inputValue("#answers-tenant"), (value) => value !== "");
  const [mostPeople] = await query(dataDir, `SELECT tenant FROM events GROUP BY tenant ORDER BY count(*) FILTER (WHERE NOT is_bot) DESC, count(*) FILTER (WHERE is_bot) DESC, tenant LIMIT 1`);
  expect(picked).toBe(mostPeople.tenant);
  expect(picked).not.toBe("curl-traffic");
  await page.waitForSelector("#answers:not([hidden])");
  expect(await page.getAttribute('#tenant-choices option[value="curl-traffic"]', "label")).toBe(`0 events of people, ${curlEvents} of bots`);

  // Chosen, the tenant of bots only has no answers about people, and the page says why.
  await page.fill("#answers-tenant", "curl-traffic");
  await page.dispatchEvent("#answers-tenant", "change");
  await page.waitForSelector("#answers-empty:has-text('Only bots')");
  expect(await page.textContent("#answers-empty")).toContain(`all ${curlEvents} events of curl-traffic in this range come from bots`);
  expect(await page.isVisible("#answers")).toBe(false);
  await page.close();
});

it("keeps what is typed in the tenant field while answers to an earlier question arrive", async () => {
  const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  for (let view = 0; view < 2; view++) {
    expect((await httpRequest(`${pipeline.pixelUrl}?user_id=typed&type=view`, { headers: { "user-agent": chrome } })).status).toBe(200);
  }
  const page = await browser.newPage();
  // The polls' questions without a tenant wait here until released; a question for a tenant goes through.
  const held: Route[] = [];
  await page.route("**/api/analytics?*", (route) =>
    new URL(route.request().url()).searchParams.has("tenant") ? route.continue() : void held.push(route),
  );
  // A poll asks for its next stats only once it has shown the answers it was waiting for.
  const answerLate = async () => {
    await waitFor(async () => held.length, (count) => count > 0);
    const nextPoll = page.waitForRequest("**/api/stats");
    await held.shift()?.continue();
    await nextPoll;
  };
  await page.goto(pipeline.url);

  // The field has the focus, empty: the tenant the page would pick must not land in it as typing starts.
  await page.focus("#answers-tenant");
  await answerLate();
  expect(await page.inputValue("#answers-tenant")).toBe("");

  // A poll asks again without a tenant, and its answer comes after the typed tenant's answers.
  await waitFor(async () => held.length, (count) => count > 0);
  await page.keyboard.type("typed");
  await page.dispatchEvent("#answers-tenant", "change");
  await page.waitForSelector("#answer-events:text-is('2')");
  await answerLate();
  expect(await page.inputValue("#answers-tenant")).toBe("typed");
  expect(await page.isVisible("#answers")).toBe(true);
  expect(await page.textContent("#answer-events")).toBe("2");
  await page.close();
});

it("shows a banner at the top while the server cannot be reached, and hides it when the server is back", async () => {
  const page = await browser.newPage();
  await page.goto(pipeline.url);
  await page.waitForSelector("#latest td");
  expect(await page.isVisible("#offline")).toBe(false);
  const { port } = new URL(pipeline.url);
  await pipeline.close();
  await page.waitForSelector("#offline", { state: "visible" });
  expect(await page.textContent("#offline")).toContain("Cannot reach the local server");
  const banner = await page.locator("#offline").boundingBox();
  expect(banner?.y).toBe(0);
  pipeline = await startTestPipeline(dataDir, undefined, { port: Number(port) });
  await page.waitForSelector("#offline", { state: "hidden" });
  await page.close();
});

describe("long values in the answers' panels", () => {
  const windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
  const longHost = "spring-sale-landing-pages.marketing.an-online-store-with-a-long-name.example.co.uk";
  const longPath = "/collections/outdoor-furniture/garden-lounge-sets/teak-corner-sofa-with-cushions";
  // Browsers send an IDN host as its ASCII (punycode) form, which is how the page stores it.
  const idnHost = domainToASCII("bücherstube-münchen-schwabing-öffnungszeiten.example");
  const longCampaign = "black-friday-cyber-monday-extended-weekend-offers-for-returning-customers-2026";
  const campaignQuery = `utm_source=newsletter&utm_medium=email&utm_campaign=${longCampaign}`;
  const PANELS = {
    daily_pages: [[`${longHost}${longPath}`, "3", "1"], [`${idnHost}/`, "2", "1"], ["shop.example.com/", "1", "1"]],
    daily_campaigns: [[`newsletter · email · ${longCampaign}`, "4", "1"], ["(no campaign)", "2", "1"]],
    daily_devices: [["Chrome · Windows · desktop", "4", "1"], ["Safari · iOS · mobile", "2", "1"]],
    daily_countries: [["(unknown)", "6", "2"]],
  };

  beforeAll(async () => {
    const visits = [
      ...Array.from({ length: 3 }, () => [windows, `https://${longHost}${longPath}?${campaignQuery}`]),
      ...Array.from({ length: 2 }, () => [iphone, `https://${idnHost}/`]),
      [windows, `https://shop.example.com/?${campaignQuery}`],
    ];
    for (const [userAgent, referer] of visits) {
      expect((await httpRequest(`${pipeline.pixelUrl}?user_id=long-values&type=view`, { headers: { "user-agent": userAgent, referer } })).status).toBe(200);
    }
    // The URL of the long page is as long as the ones that broke the panels.
    expect(`https://${longHost}${longPath}`.length).toBeGreaterThanOrEqual(170);
  });

  interface Box {
    left: number;
    right: number;
    top: number;
    bottom: number;
  }
  interface Cell {
    text: string;
    title: string;
    column: number;
    cut: boolean;
    box: Box;
  }
  interface Layout {
    viewport: number;
    pageWidth: number;
    panels: { view: string; box: Box; rows: Cell[][] }[];
  }
  // Half a pixel for collapsed borders, which adjacent cells share.
  const overlap = (a: Box, b: Box) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const inside = (inner: Box, outer: Box) => inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5 && inner.top >= outer.top - 0.5 && inner.bottom <= outer.bottom + 0.5;

  it.each([
    [1400, 900],
    [390, 844],
  ])("cuts long labels with an ellipsis, whole on hover, and keeps every count readable, no cell over another, at %p px", async (width, height) => {
    const page = await browser.newPage();
    await page.setViewportSize({ width, height });
    await page.goto(pipeline.url);
    await page.fill("#answers-tenant", "long-values");
    await page.dispatchEvent("#answers-tenant", "change");
    await page.waitForSelector("#answer-events:text-is('6')");
    const layout = await page.evaluate<Layout>(`(() => {
      const box = (node) => { const { left, right, top, bottom } = node.getBoundingClientRect(); return { left, right, top, bottom }; };
      return {
        viewport: innerWidth,
        pageWidth: document.documentElement.scrollWidth,
        panels: [...document.querySelectorAll("#breakdowns [data-view]")].map((panel) => ({
          view: panel.dataset.view,
          box: box(panel),
          rows: [...panel.querySelectorAll("tr")].slice(1).map((row) => [...row.cells].map((cell) => ({
            text: cell.textContent, title: cell.title, column: cell.cellIndex, cut: cell.scrollWidth > cell.clientWidth, box: box(cell),
          }))),
        })),
      };
    })()`);

    expect(Object.fromEntries(layout.panels.map((panel) => [panel.view, panel.rows.map((row) => row.map((cell) => cell.text))]))).toEqual(PANELS);
    // The page does not scroll sideways, and each panel and its cells stay in their own space.
    expect(layout.pageWidth).toBeLessThanOrEqual(layout.viewport);
    const cells = layout.panels.flatMap((panel) => panel.rows.flat().map((cell) => ({ ...cell, panel })));
    for (const cell of cells) expect({ cell: cell.text, inside: inside(cell.box, cell.panel.box) }).toEqual({ cell: cell.text, inside: true });
    for (const [index, panel] of layout.panels.entries()) {
      for (const other of layout.panels.slice(index + 1)) expect({ panels: [panel.view, other.view], overlap: overlap(panel.box, other.box) }).toEqual({ panels: [panel.view, other.view], overlap: false });
    }
    for (const [index, cell] of cells.entries()) {
      for (const other of cells.slice(index + 1)) expect({ cells: [cell.text, other.text], overlap: overlap(cell.box, other.box) }).toEqual({ cells: [cell.text, other.text], overlap: false });
    }
    // Counts whole and on screen; labels whole on hover, the longest cut.
    for (const count of cells.filter((cell) => cell.column > 0)) {
      expect({ count: count.text, cut: count.cut, onScreen: count.box.right <= layout.viewport }).toEqual({ count: count.text, cut: false, onScreen: true });
    }
    for (const label of cells.filter((cell) => cell.column === 0)) expect(label.title).toBe(label.text);
    const longest = cells.find((cell) => cell.text === `${longHost}${longPath}`);
    expect(longest?.cut).toBe(true);
    await page.close();
  });
});
