import { describe, expect, it } from "vitest";
import { parseQuantity } from "../../src/shared/quantity.js";

describe("parseQuantity", () => {
  it.each([
    ["250m", 0.25],
    ["2", 2],
    ["1.5", 1.5],
    ["96Mi", 96 * 2 ** 20],
    ["1Gi", 2 ** 30],
    ["128M", 128e6],
    ["2k", 2000],
  ])("reads %s as %d", (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });

  it("orders binary and decimal suffixes by what they mean", () => {
    expect(parseQuantity("128Mi")).toBeGreaterThan(parseQuantity("128M"));
    expect(parseQuantity("1000m")).toBe(parseQuantity("1"));
  });

  it("refuses a form the CRDs reject", () => {
    expect(() => parseQuantity("lots")).toThrow(/not a quantity/);
  });
});
