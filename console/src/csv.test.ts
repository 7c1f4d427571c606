import { describe, expect, it } from "vitest";
import { parseCsv, refusedRows, toCsv } from "./csv";

describe("csv", () => {
  it("reads quotes, doubled quotes, commas and line breaks inside cells, and a BOM", () => {
    expect(parseCsv('\ufeffname,notes\r\n张伟,"a, ""b""\nc"\r\n李娜,\n')).toEqual([
      ["name", "notes"], ["张伟", 'a, "b"\nc'], ["李娜", ""]]);
  });

  it("writes what it reads", () => {
    const records = [["a", 'say "hi"'], ["1,2", "x\ny"]];
    expect(parseCsv(toCsv(records))).toEqual(records);
  });

  it("gives the refused rows back with their reasons, numbered as the import numbers them", () => {
    const original = "name,id_number\n张伟,110105194912310020\n李娜,bad\n王强,x\n";
    const csv = refusedRows([{ row: 3, column: "id_number", reason: "must be 17 digits" },
      { row: 4, column: "id_number", reason: "bad" }, { row: 4, column: "phone", reason: "missing" }], original);
    expect(parseCsv(csv)).toEqual([
      ["name", "id_number", "row", "reasons"],
      ["李娜", "bad", "3", "id_number: must be 17 digits"],
      ["王强", "x", "4", "id_number: bad; phone: missing"],
    ]);
  });
});
