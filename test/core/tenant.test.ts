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
  // Either side of the ASCII table the encoder looks characters up in: U+007F is its last entry,
  // from U+0080 on each UTF-8 byte is escaped, up to the four bytes of a character beyond the BMP.
  ["\u007F", "X7F"],
  ["\u0080", "XC2X80"],
  ["a\u0080b", "aXC2X80b"],
  ["\u00FF", "XC3XBF"],
  ["\u{1F600}", "XF0X9FX98X80"],
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
