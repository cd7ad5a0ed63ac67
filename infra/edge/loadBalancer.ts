import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

/** The global external Application Load Balancer; it logs every request to a backend bucket. */
export const LOAD_BALANCING_SCHEME = "EXTERNAL_MANAGED";

/**
 * The edge answers every pixel request from cache: a backend bucket's cache key already leaves
 * out query parameters Cloud Storage does not know, so tracking parameters share one entry.
 * clientTtl 0 makes browsers revalidate on every view, so each view reaches the load balancer
 * (a cached 304) and is logged as an event.
 */
export const PIXEL_CDN_POLICY = {
  cacheMode: "CACHE_ALL_STATIC",
  defaultTtl: 86400,
  maxTtl: 86400,
  clientTtl: 0,
  serveWhileStale: 86400,
  requestCoalescing: true,
} as const;

export interface PixelLoadBalancerArgs {
  readonly bucketName: pulumi.Input<string>;
  /** With a domain: HTTPS with a Google-managed certificate, and HTTP redirecting to it. Without: HTTP only. */
  readonly domain?: string;
  /** A Cloud Armor edge security policy, checked before the cache answers. */
  readonly edgeSecurityPolicy?: pulumi.Input<string>;
}

/** A global IP in front of the pixel bucket, served through Cloud CDN. */
export class PixelLoadBalancer extends pulumi.ComponentResource {
  public readonly ipAddress: pulumi.Output<string>;
  /** The forwarding rule whose requests are pixel events; the log sink filters on its name. */
  public readonly servingRuleName: pulumi.Output<string>;

  constructor(name: string, args: PixelLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:PixelLoadBalancer", name, {}, opts);

    const backend = new gcp.compute.BackendBucket(
      `${name}-backend`,
      { bucketName: args.bucketName, enableCdn: true, cdnPolicy: PIXEL_CDN_POLICY, edgeSecurityPolicy: args.edgeSecurityPolicy },
      { parent: this },
    );
    const pixelMap = new gcp.compute.URLMap(`${name}-pixel`, { defaultService: backend.selfLink }, { parent: this });
    const address = new gcp.compute.GlobalAddress(`${name}-ip`, { ipVersion: "IPV4" }, { parent: this });
    const forwardingRule = (protocol: string, target: pulumi.Input<string>, portRange: string) =>
      new gcp.compute.GlobalForwardingRule(
        `${name}-${protocol}-rule`,
        { target, portRange, ipAddress: address.address, ipProtocol: "TCP", loadBalancingScheme: LOAD_BALANCING_SCHEME },
        { parent: this },
      );

    // With HTTPS, port 80 only redirects, keeping the query so the redirected request still carries the event.
    const httpMap = args.domain
      ? new gcp.compute.URLMap(`${name}-redirect`, { defaultUrlRedirect: { httpsRedirect: true, stripQuery: false } }, { parent: this })
      : pixelMap;
    const httpProxy = new gcp.compute.TargetHttpProxy(`${name}-http-proxy`, { urlMap: httpMap.selfLink }, { parent: this });
    let servingRule = forwardingRule("http", httpProxy.selfLink, "80");

    if (args.domain) {
      const certificate = new gcp.compute.ManagedSslCertificate(`${name}-cert`, { managed: { domains: [args.domain] } }, { parent: this });
      const httpsProxy = new gcp.compute.TargetHttpsProxy(
        `${name}-https-proxy`,
        { urlMap: pixelMap.selfLink, sslCertificates: [certificate.selfLink] },
        { parent: this },
      );
      servingRule = forwardingRule("https", httpsProxy.selfLink, "443");
    }

    this.ipAddress = address.address;
    this.servingRuleName = servingRule.name;
    this.registerOutputs({ ipAddress: this.ipAddress, servingRuleName: this.servingRuleName });
  }
}
