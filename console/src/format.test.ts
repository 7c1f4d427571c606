import { describe, expect, it } from "vitest";
import { fenToDecimal, formatDate, formatMoney, sumMoney, toFen } from "./format";

describe("money", () => {
  it("formats API decimal strings as yuan with thousands separators", () => {
    expect(formatMoney("1000.00")).toBe("¥1,000.00");
    expect(formatMoney("10762000.00")).toBe("¥10,762,000.00");
    expect(formatMoney("0.5")).toBe("¥0.50");
    expect(formatMoney("-12.30")).toBe("-¥12.30");
    expect(formatMoney(null)).toBe("—");
  });

  it("sums in integer fen, exactly where floats would drift", () => {
    expect(sumMoney(["0.10", "0.20"])).toBe("0.30");
    expect(sumMoney(Array(1000).fill("0.01"))).toBe("10.00");
    expect(sumMoney(["99999999.99", "99999999.99", "0.02"])).toBe("200000000.00");
  });

  it("refuses what is not a decimal amount", () => {
    expect(() => toFen("1e3")).toThrow();
    expect(() => toFen("1.234")).toThrow();
    expect(fenToDecimal(toFen("7"))).toBe("7.00");
  });
});

describe("dates", () => {
  it("writes days the Chinese way, and ISO in English", () => {
    expect(formatDate("2026-12-03")).toBe("2026年12月3日");
    expect(formatDate("2026-12-03T05:32:00+00:00")).toBe("2026年12月3日");
    expect(formatDate("2026-12-03", "en")).toBe("2026-12-03");
    expect(formatDate(null)).toBe("—");
  });
});
