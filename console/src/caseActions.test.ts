import { describe, expect, it } from "vitest";
import { allowedActions, stateActions } from "./caseActions";

const TODAY = "2026-12-03";

describe("workflow actions", () => {
  it("offers the next step of each state to a caseworker", () => {
    expect(allowedActions({ state: "applied" }, "caseworker", "li", TODAY)).toEqual(
      ["verification", "rejection", "withdrawal", "amendment"]);
    expect(allowedActions({ state: "verified" }, "caseworker", "li", TODAY)).toContain("deliberation");
    expect(allowedActions({ state: "deliberated" }, "caseworker", "li", TODAY)).toContain("notice");
    expect(allowedActions({ state: "rejected" }, "caseworker", "li", TODAY)).toEqual([]);
  });

  it("offers approval only after the notice, with no open objection, and not to the case's own staff", () => {
    const notice = { starts_on: "2026-11-20", ends_on: "2026-11-27" };
    const ready = { state: "on_notice" as const, notice, objections: [], opened_by: "li",
      verification: { by: "li", visitors: ["li", "wang"] } };
    expect(allowedActions(ready, "approver", "zhou", TODAY)).toEqual(["approval", "rejection"]);
    expect(allowedActions(ready, "approver", "wang", TODAY)).toEqual(["rejection"]);
    expect(allowedActions(ready, "caseworker", "li", TODAY)).not.toContain("approval");
    const running = { ...ready, notice: { starts_on: "2026-12-01", ends_on: "2026-12-08" } };
    expect(stateActions(running, TODAY)).toContain("objection");
    expect(stateActions(running, TODAY)).not.toContain("approval");
    const objected = { ...ready, objections: [{ resolution: null }] };
    expect(stateActions(objected, TODAY)).toEqual(["resolution", "rejection", "withdrawal", "amendment"]);
  });

  it("runs dynamic management on filed and exited cases", () => {
    expect(allowedActions({ state: "filed", measures: [{ done_on: null }] }, "caseworker", "li", TODAY)).toEqual(
      ["review", "exit", "measure", "completion", "amendment"]);
    expect(allowedActions({ state: "exited" }, "approver", "zhou", TODAY)).toEqual(["refiling"]);
    expect(allowedActions({ state: "filed" }, "auditor", "shen", TODAY)).toEqual([]);
  });
});
