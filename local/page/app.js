// The dashboard: fires pixels the way a page embedding them would, and polls /api/stats and,
// for the answers of one tenant over a range of days, /api/analytics.
// Plain browser JavaScript, no build step. Values from the database are shown with textContent only.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
// The latest rows: first what a reader looks for (the page, browser, device and country derived from
// the request), then the stack's attributes, then the flags. The Referer and the User-Agent show on
// hover over what was derived from them; `npm run query` shows every column.
const LEADING_COLUMNS = [
  rawColumn("event_timestamp"),
  rawColumn("tenant"),
  { heading: "page", text: pageOf, hover: (row) => row.referer },
  { heading: "browser", text: (row) => joined([row.browser, row.browser_version], null, " "), hover: (row) => row.user_agent },
  { heading: "os", text: (row) => row.os, hover: (row) => row.user_agent },
  { heading: "device", text: (row) => row.device_type, hover: (row) => row.user_agent },
  { heading: "country", text: (row) => row.country, hover: (row) => (row.country === null ? null : regionName(row.country)) },
];
const TRAILING_COLUMNS = ["is_bot", "dnt", "email_proxy", "status", "cache_hit", "remote_ip", "invalid_attributes"].map(rawColumn);
// A server that other machines can reach wants its token for the stats; its start-up line gives the dashboard's address with it.
const TOKEN = new URLSearchParams(location.hash.slice(1)).get("token");

const byId = (id) => document.getElementById(id);
let settings;

function element(tag, text, namespace) {
  const node = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
}

function setUpForm(stats) {
  settings = stats;
  const defaults = { [stats.tenantAttribute]: "acme", type: "click" };
  for (const attribute of stats.attributes) {
    const label = element("label", `${attribute.name} (${attribute.type})`);
    const input = element("input");
    input.name = attribute.name;
    input.value = defaults[attribute.name] ?? "";
    label.append(input);
    byId("fields").append(label);
  }
}

/**
 * Requests the pixel from the server on every click, with the browser's own Referer and
 * User-Agent. Not as an <img>: the browser would serve a repeated URL from its memory cache,
 * sending nothing, so a click would not be an event.
 */
async function firePixel(withTenant) {
  const params = new URLSearchParams();
  for (const input of byId("fields").querySelectorAll("input")) {
    if (input.value !== "" && (withTenant || input.name !== settings.tenantAttribute)) params.append(input.name, input.value);
  }
  const url = `${settings.pixelPath}?${params}`;
  try {
    const response = await fetch(url, { cache: "no-store" });
    byId("fired").textContent = `fired ${url}: the server answered ${response.status}${response.ok ? ", the pixel loaded" : ""}`;
  } catch (error) {
    byId("fired").textContent = `fired ${url}: the pixel did not load (${error.message})`;
  }
}

function renderChart(stats) {
  const chart = byId("chart");
  chart.replaceChildren();
  const width = chart.clientWidth || 800;
  const height = 170;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const counts = new Map(stats.perMinute.map((row) => [Date.parse(row.minute), row.events]));
  const lastMinute = Math.floor(Date.now() / 60000) * 60000;
  const minutes = Array.from({ length: stats.chartMinutes }, (_, i) => lastMinute - (stats.chartMinutes - 1 - i) * 60000);
  const max = Math.max(1, ...counts.values());
  const slot = width / minutes.length;
  minutes.forEach((minute, i) => {
    const count = counts.get(minute) ?? 0;
    const barHeight = ((height - 34) * count) / max;
    const bar = element("rect", undefined, SVG);
    Object.entries({ x: i * slot + 2, y: height - 18 - barHeight, width: slot - 4, height: barHeight }).forEach(([k, v]) => bar.setAttribute(k, v));
    bar.append(element("title", `${new Date(minute).toISOString().slice(11, 16)} UTC: ${count}`, SVG));
    chart.append(bar);
    if (count > 0) chart.append(label(i * slot + slot / 2, height - 22 - barHeight, String(count)));
    if (i % 5 === 4 || i === minutes.length - 1) chart.append(label(i * slot + slot / 2, height - 4, new Date(minute).toISOString().slice(11, 16)));
  });
}

function label(x, y, text) {
  const node = element("text", text, SVG);
  node.setAttribute("x", x);
  node.setAttribute("y", y);
  node.setAttribute("text-anchor", "middle");
  return node;
}

/** A table column: its heading, the text of a row's cell and what hovering the cell shows (the whole text unless said). */
function rawColumn(name) {
  return { heading: name, text: (row) => row[name] };
}

function cellText(value) {
  return value === null || value === undefined ? "" : String(value);
}

function renderTable(table, columns, rows, empty) {
  const head = element("tr");
  columns.forEach((column) => head.append(element("th", column.heading)));
  const body = rows.map((row) => {
    const tr = element("tr");
    columns.forEach((column) => {
      const cell = element("td", cellText(column.text(row)));
      // Long values are cut on screen; the whole value shows on hover.
      cell.title = column.hover ? cellText(column.hover(row)) : cell.textContent;
      tr.append(cell);
    });
    return tr;
  });
  if (rows.length === 0) {
    const tr = element("tr");
    const td = element("td", empty);
    td.colSpan = columns.length;
    td.className = "muted";
    tr.append(td);
    body.push(tr);
  }
  table.replaceChildren(head, ...body);
}

function render(stats) {
  byId("totals").textContent = `(last ${stats.chartMinutes} minutes, UTC; ${plural(stats.totals.events, "event")} from ${plural(stats.totals.tenants, "tenant")} in all; ` +
    `spool: ${stats.spool.entries} entries in ${stats.spool.fsyncs} fsyncs since start)`;
  renderChart(stats);
  renderTable(byId("refusals"), ["reason", "count", "description"].map(rawColumn), stats.refusals, "none yet");
  const attributes = stats.attributes.map((attribute) => rawColumn(attribute.name));
  renderTable(byId("latest"), [...LEADING_COLUMNS, ...attributes, ...TRAILING_COLUMNS], stats.latest, "no events yet: fire a pixel");
}

async function poll() {
  try {
    const response = await fetch("/api/stats", { cache: "no-store", headers: TOKEN ? { authorization: `Bearer ${TOKEN}` } : {} });
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error ?? `HTTP ${response.status}`);
    const stats = await response.json();
    if (!settings) setUpForm(stats);
    render(stats);
    await pollAnswers();
    byId("offline").hidden = true;
    byId("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    byId("offline-reason").textContent = error.message;
    byId("offline").hidden = false;
  }
  setTimeout(poll, POLL_MS);
}

/** The breakdowns of the answers, by the view whose dimensions they use, and how a row reads. */
const BREAKDOWN_LABELS = {
  daily_pages: { title: "Top pages", label: (row) => pageOf(row) ?? "(no page: the Referer was empty)" },
  daily_campaigns: { title: "Campaigns", label: (row) => joined([row.utm_source, row.utm_medium, row.utm_campaign, row.utm_term, row.utm_content], "(no campaign)") },
  daily_devices: { title: "Devices", label: (row) => joined([row.browser, row.os, row.device_type], "(unknown)") },
  daily_countries: { title: "Countries", label: (row) => (row.country === null ? "(unknown)" : `${row.country} ${regionName(row.country)}`) },
};

function joined(values, none, separator = " · ") {
  const present = values.filter((value) => value !== null && value !== "");
  return present.length > 0 ? present.join(separator) : none;
}

/** The page that showed the pixel, host and path, as the Referer named it; null without one. */
function pageOf(row) {
  return row.page_host === null ? null : `${row.page_host}${row.page_path ?? ""}`;
}

const regionNames = new Intl.DisplayNames(["en"], { type: "region" });
function regionName(code) {
  try {
    return regionNames.of(code);
  } catch {
    return "";
  }
}

function utcDay(offsetDays) {
  return new Date(Date.now() + offsetDays * 86400000).toISOString().slice(0, 10);
}

function renderAnswers(answers) {
  // Answers to a question the form no longer asks: a newer request is on its way.
  const asked = question();
  if ((answers.tenant ?? "") !== asked.tenant || answers.from !== asked.from || answers.to !== asked.to) return;
  const tenantInput = byId("answers-tenant");
  const choices = byId("tenant-choices");
  choices.replaceChildren(
    ...answers.tenants.map((row) => Object.assign(element("option"), { value: row.tenant, label: `${plural(row.human_events, "event")} of people, ${row.bot_events} of bots` })),
  );
  // The tenant with the most events of people (the server's first) until one is chosen; never while
  // the field has the focus, where it would land in the middle of what is being typed.
  if (tenantInput.value === "" && answers.tenants.length > 0 && document.activeElement !== tenantInput) {
    tenantInput.value = answers.tenants[0].tenant;
    return pollAnswers();
  }
  const { events, bot_events: botEvents, visitors } = answers.totals ?? { events: 0, bot_events: 0, visitors: 0 };
  // The answers are about people: a tenant that only bots reached has none to show, and says so.
  const hasPeople = events > botEvents;
  byId("answers").hidden = !hasPeople;
  byId("answers-empty").hidden = hasPeople;
  byId("answers-empty").textContent =
    tenantInput.value === "" ? "No events in this range yet: fire a pixel."
    : events > 0 ? `Only bots: all ${plural(events, "event")} of ${tenantInput.value} in this range come from bots (is_bot, from the user agent, as for curl), and the answers count people. Pick another tenant.`
    : `No events of ${tenantInput.value} in this range.`;
  if (!hasPeople) return;
  byId("answer-events").textContent = String(events - botEvents);
  byId("answer-visitors").textContent = String(visitors);
  byId("answer-bots").textContent = `${Math.round((100 * botEvents) / events)}%`;
  renderDays(answers);
  byId("breakdowns").replaceChildren(
    ...answers.breakdowns.map((breakdown) => {
      const { title, label: labelOf } = BREAKDOWN_LABELS[breakdown.view];
      const panel = element("div");
      panel.dataset.view = breakdown.view;
      const table = element("table");
      const head = element("tr");
      ["", "events", "visitors"].forEach((name) => head.append(element("th", name)));
      const max = Math.max(1, ...breakdown.rows.map((row) => row.events));
      const rows = breakdown.rows.map((row) => {
        const tr = element("tr");
        const name = element("td", labelOf(row));
        name.className = "bar";
        name.style.setProperty("--share", `${(100 * row.events) / max}%`);
        name.title = labelOf(row);
        tr.append(name, element("td", String(row.events)), element("td", String(row.visitors)));
        return tr;
      });
      if (rows.length === 0) {
        const none = element("td", "none in this range");
        none.colSpan = 3;
        none.className = "muted";
        rows.push(element("tr"));
        rows[0].append(none);
      }
      table.replaceChildren(head, ...rows);
      panel.append(element("h3", title), table);
      return panel;
    }),
  );
}

/** Bars for the events of people per day, dots for the visitors, on one scale. */
function renderDays(answers) {
  const chart = byId("days-chart");
  chart.replaceChildren();
  const width = chart.clientWidth || 800;
  const height = 170;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const byDay = new Map(answers.days.map((row) => [row.event_date.slice(0, 10), row]));
  const count = Math.round((Date.parse(answers.to) - Date.parse(answers.from)) / 86400000) + 1;
  const days = Array.from({ length: count }, (_, i) => new Date(Date.parse(answers.from) + i * 86400000).toISOString().slice(0, 10));
  const max = Math.max(1, ...answers.days.map((row) => Math.max(row.human_events, row.visitors)));
  const slot = width / days.length;
  const scale = (value) => ((height - 34) * value) / max;
  days.forEach((day, i) => {
    const row = byDay.get(day) ?? { human_events: 0, visitors: 0 };
    const bar = element("rect", undefined, SVG);
    Object.entries({ x: i * slot + 2, y: height - 18 - scale(row.human_events), width: Math.max(1, slot - 4), height: scale(row.human_events) }).forEach(([k, v]) => bar.setAttribute(k, v));
    bar.append(element("title", `${day}: ${plural(row.human_events, "event")} of people, ${plural(row.visitors, "visitor")}`, SVG));
    chart.append(bar);
    if (row.visitors > 0) {
      const dot = element("circle", undefined, SVG);
      Object.entries({ cx: i * slot + slot / 2, cy: height - 18 - scale(row.visitors), r: 4 }).forEach(([k, v]) => dot.setAttribute(k, v));
      chart.append(dot);
    }
    if (row.human_events > 0) chart.append(label(i * slot + slot / 2, height - 22 - scale(row.human_events), String(row.human_events)));
    if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) chart.append(label(i * slot + slot / 2, height - 4, day.slice(5)));
  });
}

/** What the answers form asks now: a tenant, or none yet, over a range of UTC days. */
function question() {
  return { tenant: byId("answers-tenant").value, from: byId("answers-from").value, to: byId("answers-to").value };
}

async function pollAnswers() {
  const { tenant, from, to } = question();
  const query = new URLSearchParams({ from, to });
  if (tenant !== "") query.set("tenant", tenant);
  const response = await fetch(`/api/analytics?${query}`, { cache: "no-store", headers: TOKEN ? { authorization: `Bearer ${TOKEN}` } : {} });
  const answers = await response.json();
  if (!response.ok) {
    byId("answers").hidden = true;
    byId("answers-empty").hidden = false;
    byId("answers-empty").textContent = answers.error ?? `HTTP ${response.status}`;
    return;
  }
  renderAnswers(answers);
}

byId("answers-from").value = utcDay(-6);
byId("answers-to").value = utcDay(0);
byId("range").addEventListener("change", () => void pollAnswers().catch(() => undefined));
byId("range").addEventListener("submit", (event) => event.preventDefault());

byId("fire").addEventListener("submit", (event) => {
  event.preventDefault();
  if (settings) firePixel(true);
});
byId("fire-untenanted").addEventListener("click", () => settings && firePixel(false));
poll();

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
