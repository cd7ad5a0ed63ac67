// The dashboard: fires pixels the way a page embedding them would, and polls /api/stats.
// Plain browser JavaScript, no build step. Values from the database are shown with textContent only.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const ROW_COLUMNS = ["event_timestamp", "tenant"];
const TRAILING_COLUMNS = ["status", "cache_hit", "is_bot", "dnt", "email_proxy", "referer", "user_agent", "remote_ip", "invalid_attributes"];
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

function renderTable(table, columns, rows, empty) {
  const head = element("tr");
  columns.forEach((column) => head.append(element("th", column)));
  const body = rows.map((row) => {
    const tr = element("tr");
    columns.forEach((column) => {
      const text = row[column] === null || row[column] === undefined ? "" : String(row[column]);
      const cell = element("td", text);
      // Long values are cut on screen; the whole value shows on hover.
      cell.title = text;
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
  renderTable(byId("refusals"), ["reason", "count", "description"], stats.refusals, "none yet");
  const attributes = stats.attributes.map((attribute) => attribute.name);
  renderTable(byId("latest"), [...ROW_COLUMNS, ...attributes, ...TRAILING_COLUMNS], stats.latest, "no events yet: fire a pixel");
}

async function poll() {
  try {
    const response = await fetch("/api/stats", { cache: "no-store", headers: TOKEN ? { authorization: `Bearer ${TOKEN}` } : {} });
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error ?? `HTTP ${response.status}`);
    const stats = await response.json();
    if (!settings) setUpForm(stats);
    render(stats);
    byId("offline").hidden = true;
    byId("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    byId("offline-reason").textContent = error.message;
    byId("offline").hidden = false;
  }
  setTimeout(poll, POLL_MS);
}

byId("fire").addEventListener("submit", (event) => {
  event.preventDefault();
  if (settings) firePixel(true);
});
byId("fire-untenanted").addEventListener("click", () => settings && firePixel(false));
poll();

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
