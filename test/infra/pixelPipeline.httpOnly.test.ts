import { BASE_CONFIG, only, ofType, ProgramRun, runProgram, TEST_IP } from "../../testkit/pulumiProgram";

// Without a domain: plain HTTP on the IP, for trying the pipeline out.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(BASE_CONFIG);
});

test("serves the pixel map over HTTP on port 80, with no certificate, HTTPS proxy or redirect", () => {
  expect(ofType(run, "gcp:compute/managedSslCertificate:ManagedSslCertificate")).toHaveLength(0);
  expect(ofType(run, "gcp:compute/targetHttpsProxy:TargetHttpsProxy")).toHaveLength(0);
  const pixelMap = only(run, "gcp:compute/uRLMap:URLMap");
  expect(pixelMap.inputs.defaultService).toBe(only(run, "gcp:compute/backendBucket:BackendBucket").state.selfLink);
  const httpProxy = only(run, "gcp:compute/targetHttpProxy:TargetHttpProxy");
  expect(httpProxy.inputs.urlMap).toBe(pixelMap.state.selfLink);
  const rule = only(run, "gcp:compute/globalForwardingRule:GlobalForwardingRule");
  expect(rule.inputs).toMatchObject({ portRange: "80", target: httpProxy.state.selfLink, loadBalancingScheme: "EXTERNAL_MANAGED" });
});

test("exports the HTTP rule's request logs", () => {
  const rule = only(run, "gcp:compute/globalForwardingRule:GlobalForwardingRule");
  expect(only(run, "gcp:logging/projectSink:ProjectSink", (sink) => sink.name === "pixel-logs-sink").inputs.filter).toContain(`resource.labels.forwarding_rule_name="${rule.state.name}"`);
});

test("the outputs say the pixel is served over plain HTTP on the IP", () => {
  expect(run.outputs.httpOnly).toBe(true);
  expect(run.outputs.pixelUrl).toBe(`http://${TEST_IP}/pixel.png`);
  expect(run.outputs.servingNote).toMatch(/^HTTP only/);
  expect(run.outputs.imgTag).toContain(`src="http://${TEST_IP}/pixel.png?user_id=acme&amp;`);
});

test("without signed URLs there is no signing secret, only the visitor key", () => {
  expect(ofType(run, "gcp:secretmanager/secret:Secret").map((secret) => secret.inputs.secretId)).toEqual(["pixel-dev-visitor-key"]);
  expect(only(run, "gcp:cloudfunctionsv2/function:Function").inputs.serviceConfig.secretEnvironmentVariables).toEqual([
    expect.objectContaining({ key: "PIXEL_VISITOR_KEY", secret: "pixel-dev-visitor-key" }),
  ]);
});
