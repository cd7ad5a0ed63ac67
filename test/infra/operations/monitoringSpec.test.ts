import { DELIVERY_FAILURE_REASONS } from "../../../core/delivery";
import { REFUSAL_REASONS } from "../../../core/refusals";
import { requestLogFilter } from "../../../infra/ingest/requestLogExport";
import { LOAD_FAILURE_REASONS } from "../../../core/loadLedger";
import {
  alertSpecs,
  BatchNames,
  batchAlertSpecs,
  dashboardConsoleUrl,
  dashboardJson,
  deadObjectLogFilter,
  MonitoredNames,
  pixelRequestFilter,
  refusalLogFilter,
  resourceName,
  tenantLabelExtractor,
} from "../../../infra/operations/monitoringSpec";

const NAMES: MonitoredNames = {
  requestMetric: "pixel-monitoring-pixel-requests-a1",
  refusalMetric: "pixel-monitoring-refusals-b2",
  serviceName: "pixel-collector-function-c3",
  pushSubscription: "pixel-delivery-push-d4",
  deadLetterSubscription: "pixel-delivery-dead-letters-e5",
};

describe("log filters", () => {
  let lb: string;
  beforeAll(() => {
    lb = requestLogFilter("pixel-edge-https-rule-x1");
  });

  test("the request log filter selects this load balancer's forwarding rule", () => {
    expect(lb).toBe('resource.type="http_load_balancer" AND resource.labels.forwarding_rule_name="pixel-edge-https-rule-x1"');
  });

  test.each([
    ["/pixel.png", '"^[a-z]+://[^/?#]+/pixel[.]png([?#]|$)"'],
    ["/t/p(1)+x$.gif", '"^[a-z]+://[^/?#]+/t/p[(]1[)][+]x[$][.]gif([?#]|$)"'],
  ])("pixel requests for %p: GET, 200 or 304, no CDN sub-requests, the path matched literally", (pixelPath, regex) => {
    expect(pixelRequestFilter(lb, pixelPath)).toBe(
      `${lb} AND httpRequest.requestMethod="GET" AND (httpRequest.status=200 OR httpRequest.status=304) AND NOT jsonPayload.parentInsertId:* AND httpRequest.requestUrl=~${regex}`,
    );
  });

  test.each([
    ["user_id", 'REGEXP_EXTRACT(httpRequest.requestUrl, "[?&]user_id=([^&#]*)")'],
    ["customer", 'REGEXP_EXTRACT(httpRequest.requestUrl, "[?&]customer=([^&#]*)")'],
  ])("the tenant label comes from the %p parameter", (attribute, extractor) => {
    expect(tenantLabelExtractor(attribute)).toBe(extractor);
    const regex = new RegExp(/"(.*)"/.exec(extractor)?.[1] ?? "");
    expect(regex.exec(`https://t.example.com/pixel.png?type=a&${attribute}=acme%2Dco&x=1`)?.[1]).toBe("acme%2Dco");
  });

  test("refusals are the function's log lines that carry a reason", () => {
    expect(refusalLogFilter("fn-1")).toBe('resource.type="cloud_run_revision" AND resource.labels.service_name="fn-1" AND jsonPayload.reason:*');
  });

  test("in batch, refusals and dead objects are the loader's and the sweep's lines", () => {
    const services = '(resource.labels.service_name="loader-1" OR resource.labels.service_name="sweep-1")';
    expect(refusalLogFilter("loader-1", "sweep-1")).toBe(`resource.type="cloud_run_revision" AND ${services} AND jsonPayload.reason:*`);
    expect(deadObjectLogFilter("loader-1", "sweep-1")).toBe(`resource.type="cloud_run_revision" AND ${services} AND jsonPayload.reason="archive_object_dead"`);
  });

  test.each([
    ["projects/p/subscriptions/dead-1", "dead-1"],
    ["projects/p/locations/europe-west1/services/fn-1", "fn-1"],
    ["plain", "plain"],
  ])("resourceName(%p) is %p", (id, name) => expect(resourceName(id)).toBe(name));
});

describe("alerts", () => {
  let specs: ReturnType<typeof alertSpecs>;
  let byKey: Record<string, ReturnType<typeof alertSpecs>[number]>;
  beforeAll(() => {
    specs = alertSpecs({ backlogAlertMinutes: 45 });
    byKey = Object.fromEntries(specs.map((spec) => [spec.key, spec]));
  });

  test("the runbooks name only reasons the pipeline logs, so an operator can search for them", () => {
    const known = new Set([...Object.keys(REFUSAL_REASONS), ...Object.keys(DELIVERY_FAILURE_REASONS)]);
    const named = specs.flatMap((spec) => [...spec.runbook.matchAll(/`([a-z]+_[a-z_]+)`/g)].map((match) => match[1]));
    expect(named).toContain("row_rejected");
    expect(named.filter((reason) => !known.has(reason))).toEqual([]);
  });

  test("function errors, dead letters and backlog age, each with a runbook entry", () => {
    expect(specs.map((spec) => spec.key)).toEqual(["function-errors", "dead-letters", "backlog-age"]);
    for (const spec of specs) expect(spec.runbook).toContain(`docs/operations.md#${spec.key}`);
  });

  test.each([
    ["function-errors", 'resource.label.service_name="pixel-collector-function-c3" AND metric.label.response_code_class="5xx"', 0, "900s"],
    ["dead-letters", 'metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages" AND resource.type="pubsub_subscription" AND resource.label.subscription_id="pixel-delivery-dead-letters-e5"', 0, "0s"],
    ["backlog-age", 'metric.type="pubsub.googleapis.com/subscription/oldest_unacked_message_age" AND resource.type="pubsub_subscription" AND resource.label.subscription_id="pixel-delivery-push-d4"', 45 * 60, "0s"],
  ])("%s watches the right series with its threshold and duration", (key, filterPart, threshold, duration) => {
    const condition = byKey[key].condition(NAMES);
    expect(condition.filter).toContain(filterPart);
    expect(condition).toMatchObject({ comparison: "COMPARISON_GT", thresholdValue: threshold, duration, trigger: { count: 1 } });
  });
});

describe("dashboard", () => {
  let dashboard: { displayName: string; mosaicLayout: { tiles: typeof tiles } };
  let tiles: { xPos: number; yPos: number; width: number; height: number; widget: { title: string; xyChart: { dataSets: { timeSeriesQuery: { timeSeriesFilter: { filter: string; aggregation: Record<string, unknown> } } }[] } } }[];
  beforeAll(() => {
    dashboard = JSON.parse(dashboardJson("prod", NAMES));
    tiles = dashboard.mosaicLayout.tiles;
  });
  const chart = (title: string) => tiles.find((tile) => tile.widget.title === title)?.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter;

  test("is named after the stack and lays its tiles out without overlap in 48 columns", () => {
    expect(dashboard.displayName).toBe("Pixel pipeline (prod)");
    const cells = new Set<string>();
    for (const tile of tiles) {
      expect(tile.xPos + tile.width).toBeLessThanOrEqual(48);
      for (let x = tile.xPos; x < tile.xPos + tile.width; x++) for (let y = tile.yPos; y < tile.yPos + tile.height; y++) cells.add(`${x},${y}`);
    }
    expect(cells.size).toBe(tiles.reduce((sum, tile) => sum + tile.width * tile.height, 0));
  });

  test.each([
    ["Pixel events per minute, by tenant", 'metric.type="logging.googleapis.com/user/pixel-monitoring-pixel-requests-a1"', ["metric.label.tenant"]],
    ["Refusals and failed writes per minute, by reason", 'metric.type="logging.googleapis.com/user/pixel-monitoring-refusals-b2"', ["metric.label.reason"]],
    ["Function responses per minute, by class", 'resource.label.service_name="pixel-collector-function-c3"', ["metric.label.response_code_class"]],
  ])("%s", (title, filterPart, groupBy) => {
    expect(chart(title)?.filter).toContain(filterPart);
    expect(chart(title)?.aggregation).toEqual({ alignmentPeriod: "60s", perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM", groupByFields: groupBy });
  });

  test.each([
    ["Age of the oldest undelivered message (s)", "oldest_unacked_message_age", "pixel-delivery-push-d4"],
    ["Messages waiting for the function", "num_undelivered_messages", "pixel-delivery-push-d4"],
    ["Dead letters waiting (npm run redrive)", "num_undelivered_messages", "pixel-delivery-dead-letters-e5"],
  ])("%s", (title, metric, subscription) => {
    expect(chart(title)?.filter).toBe(`metric.type="pubsub.googleapis.com/subscription/${metric}" AND resource.type="pubsub_subscription" AND resource.label.subscription_id="${subscription}"`);
  });

  test("opens in the console from its resource id", () => {
    expect(dashboardConsoleUrl("my-project", "projects/123/dashboards/abc-1")).toBe("https://console.cloud.google.com/monitoring/dashboards/custom/abc-1?project=my-project");
  });
});

describe("batch", () => {
  const BATCH_NAMES: BatchNames = {
    ingest: "batch",
    requestMetric: "pixel-monitoring-pixel-requests-a1",
    refusalMetric: "pixel-monitoring-refusals-b2",
    serviceName: "pixel-batch-loader-c3",
    sweepServiceName: "pixel-batch-sweep-d4",
    deadObjectMetric: "pixel-monitoring-dead-objects-e5",
  };
  const specs = batchAlertSpecs();

  test("the loader failing and an archive object recorded dead, each with a runbook entry naming only reasons the batch tier logs", () => {
    expect(specs.map((spec) => spec.key)).toEqual(["loader-errors", "archive-object-dead"]);
    for (const spec of specs) expect(spec.runbook).toContain(`docs/operations.md#${spec.key}`);
    const named = specs.flatMap((spec) => [...spec.runbook.matchAll(/`([a-z]+_[a-z_]+)`/g)].map((match) => match[1]));
    expect(named.sort()).toEqual(Object.keys(LOAD_FAILURE_REASONS).sort());
  });

  test.each([
    ["loader-errors", 'resource.label.service_name="pixel-batch-loader-c3" AND metric.label.response_code_class="5xx"', "900s"],
    ["archive-object-dead", 'metric.type="logging.googleapis.com/user/pixel-monitoring-dead-objects-e5"', "0s"],
  ])("%s watches the right series, above zero, for %s", (key, filterPart, duration) => {
    const condition = specs.find((spec) => spec.key === key)!.condition(BATCH_NAMES);
    expect(condition.filter).toContain(filterPart);
    expect(condition).toMatchObject({ comparison: "COMPARISON_GT", thresholdValue: 0, duration, trigger: { count: 1 } });
  });

  test("the dashboard charts dead objects instead of subscriptions", () => {
    const titles = (names: MonitoredNames) => (JSON.parse(dashboardJson("prod", names)) as { mosaicLayout: { tiles: { widget: { title: string } }[] } }).mosaicLayout.tiles.map((tile) => tile.widget.title);
    const shared = titles(NAMES).slice(0, 3);
    expect(titles(BATCH_NAMES)).toEqual([...shared, "Archive objects recorded dead, by hour"]);
    expect(dashboardJson("prod", BATCH_NAMES)).not.toMatch(/pubsub/);
  });
});
