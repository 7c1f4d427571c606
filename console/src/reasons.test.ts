import { describe, expect, it } from "vitest";
import { fieldError } from "./api/errors";
import { reasonInLocale } from "./reasons";

describe("field reasons", () => {
  it("finds a nested field's reasons the way the services nest them", () => {
    const fields = { household: { members: { "0": { age: ["must be an integer"] } } }, worker: { id_number: ["a", "b"] } };
    expect(fieldError(fields, "household.members.0.age")).toBe("must be an integer");
    expect(fieldError(fields, "worker.id_number")).toBe("a；b");
    expect(fieldError(fields, "worker.name")).toBe("");
  });

  it("reads the known ones in Chinese, and leaves the rest as the service wrote them", () => {
    expect(reasonInLocale("Missing data for required field.", "zh-CN")).toBe("必填");
    expect(reasonInLocale("must be 17 digits followed by a digit or X", "zh-CN")).toBe("应为 17 位数字加一位数字或 X");
    expect(reasonInLocale("2027-01-01 is in the future; the latest date accepted is 2026-12-04", "zh-CN"))
      .toBe("2027-01-01：日期不能晚于 2026-12-04");
    expect(reasonInLocale("Missing data for required field.", "en")).toBe("Missing data for required field.");
    expect(reasonInLocale("the check character should be 5", "zh-CN")).toBe("the check character should be 5");
  });
});
