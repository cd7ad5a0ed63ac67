import { decodeTenant, encodeTenant, tableSuffix } from "../../core/tenant";

describe.each([
  ["acme", "acme"],
  ["acme_corp", "acmeX5Fcorp"],
  ["acme-corp", "acmeX2Dcorp"],
  ["Acme", "X41cme"],
  ["a.b", "aX2Eb"],
  ["X", "X58"],
  ["münchen", "mXC3XBCnchen"],
  ["42", "42"],
  ["'; DROP TABLE x;--", "X27X3BX20X44X52X4FX50X20X54X41X42X4CX45X20xX3BX2DX2D"],
])("tenant %p", (tenant, encoded) => {
  it(`is encoded as ${encoded} and decodes back`, () => {
    expect(encodeTenant(tenant)).toBe(encoded);
    expect(decodeTenant(encoded)).toBe(tenant);
  });
});

it.each(["acme_", "X", "X4", "X61", "Xzz", "XFF", "a-b"])("decodeTenant refuses %p, which encodeTenant never makes", (encoded) => {
  expect(decodeTenant(encoded)).toBeUndefined();
});

it("builds the suffix BigQuery appends to the template", () => {
  expect(tableSuffix("acme", "20260105")).toBe("_acme_20260105");
});
