/** The form of each workflow step: its fields (named as the request schema in services/intake/schemas.py) and
 *  where it is posted. */
import type { Action } from "./caseActions";
import { EXIT_REASONS, MEASURE_KINDS } from "./enums";
import { isoDay } from "./format";

export type FieldType = "date" | "text" | "textarea" | "select" | "multi" | "switch" | "number" | "tags";

export interface FieldSpec {
  key: string; // the body's key (dotted for nested: changes.category)
  label: string; // an i18n key
  type: FieldType;
  options?: { values: string[]; prefix: string }; // option labels are `${prefix}.${value}`
  required?: boolean;
  initial?: () => unknown;
  hint?: string;
}

export interface ActionForm {
  path: (caseId: string, target?: string) => string;
  fields: FieldSpec[];
  confirm?: boolean; // danger actions ask twice
}

const today = () => isoDay();
const date = (key: string, label: string): FieldSpec => ({ key, label, type: "date", required: true, initial: today });
const text = (key: string, label: string, required = true): FieldSpec => ({ key, label, type: "textarea", required });

/** An amendment has its own page (CaseNew in amend mode): it is the whole file's form, not a dialog. */
export type DialogAction = Exclude<Action, "amendment">;

export const FORMS: Record<DialogAction, ActionForm> = {
  verification: {
    path: (id) => `/intake/cases/${id}/verification`,
    fields: [
      { key: "visitors", label: "detail.visitors", type: "tags", required: true, initial: () => [], hint: "detail.visitorHint" },
      date("visited_on", "detail.visitedOn"),
      { key: "per_capita_income", label: "detail.perCapita", type: "text", required: true },
      text("findings", "detail.findings"),
    ],
  },
  deliberation: {
    path: (id) => `/intake/cases/${id}/deliberation`,
    fields: [
      date("decided_on", "detail.decidedOn"),
      { key: "outcome", label: "detail.outcome", type: "select", required: true, initial: () => "recommend",
        options: { values: ["recommend", "reject"], prefix: "outcomeDeliberation" } },
      text("notes", "common.notes", false),
    ],
  },
  notice: {
    path: (id) => `/intake/cases/${id}/notice`,
    fields: [date("starts_on", "detail.startsOn"), { key: "days", label: "detail.days", type: "number", initial: () => 7 }],
  },
  objection: {
    path: (id) => `/intake/cases/${id}/objections`,
    fields: [date("raised_on", "detail.raisedOn"), { key: "by", label: "detail.objector", type: "text", required: true },
      text("reason", "common.reason")],
  },
  resolution: {
    path: (id, objection) => `/intake/cases/${id}/objections/${objection}/resolution`,
    fields: [{ key: "upheld", label: "detail.upheld", type: "switch", initial: () => false }, text("notes", "common.notes", false)],
  },
  approval: { path: (id) => `/intake/cases/${id}/approval`, fields: [date("approved_on", "detail.approvedOn")] },
  rejection: { path: (id) => `/intake/cases/${id}/rejection`, fields: [text("reason", "common.reason")], confirm: true },
  withdrawal: { path: (id) => `/intake/cases/${id}/withdrawal`, fields: [text("reason", "common.reason")], confirm: true },
  review: {
    path: (id) => `/intake/cases/${id}/review`,
    fields: [date("reviewed_on", "detail.reviewedOn"), text("findings", "detail.findings"),
      { key: "still_qualifies", label: "detail.stillQualifies", type: "switch", initial: () => true }],
  },
  exit: {
    path: (id) => `/intake/cases/${id}/exit`,
    fields: [
      { key: "reason", label: "detail.exitReason", type: "select", required: true,
        options: { values: EXIT_REASONS, prefix: "exitReason" } },
      date("exited_on", "detail.exitedOn"), text("notes", "common.notes", false),
    ],
    confirm: true,
  },
  refiling: {
    path: (id) => `/intake/cases/${id}/refiling`, fields: [date("refiled_on", "detail.refiledOn"), text("reason", "common.reason")],
  },
  measure: {
    path: (id) => `/intake/cases/${id}/measures`,
    fields: [
      { key: "kind", label: "detail.measureKind", type: "select", required: true, options: { values: MEASURE_KINDS, prefix: "measureKind" } },
      text("description", "detail.description"), date("planned_on", "detail.plannedOn"),
      { key: "due_on", label: "detail.dueOn", type: "date" },
    ],
  },
  completion: {
    path: (id, measure) => `/intake/cases/${id}/measures/${measure}/completion`,
    fields: [date("done_on", "detail.doneOn"), text("result", "detail.result")],
  },
};

/** The request body from a flat form model: dotted keys nest, empty optional values are left out. */
export function bodyOf(fields: FieldSpec[], model: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    let value = model[field.key];
    if (typeof value === "string") value = value.trim();
    const empty = value === "" || value === null || value === undefined || (Array.isArray(value) && value.length === 0);
    if (empty && !field.required) {
      if (field.key === "due_on") body.due_on = null;
      continue;
    }
    const parts = field.key.split(".");
    let node = body;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  return body;
}
