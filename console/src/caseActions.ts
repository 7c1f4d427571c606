/**
 * Which workflow steps a case offers, from its state (services/intake/domain.py) and the user's role:
 * applied → verified → deliberated → on_notice → approved → filed; rejected / withdrawn from any open state;
 * filed → exited → filed again (re-filing); reviews, amendments and the plan on active cases.
 */
import type { Role } from "./api/session";

export type CaseState =
  | "applied" | "verified" | "deliberated" | "on_notice" | "approved"
  | "filed" | "rejected" | "withdrawn" | "exited";

export type Action =
  | "verification" | "deliberation" | "notice" | "objection" | "resolution" | "approval"
  | "rejection" | "withdrawal" | "review" | "exit" | "refiling" | "amendment" | "measure" | "completion";

export const OPEN_STATES: CaseState[] = ["applied", "verified", "deliberated", "on_notice", "approved"];
export const ACTIVE_STATES: CaseState[] = [...OPEN_STATES, "filed"];

const BY_ROLE: Record<Action, Role[]> = {
  verification: ["caseworker"], deliberation: ["caseworker"], notice: ["caseworker"], objection: ["caseworker"],
  resolution: ["caseworker"], approval: ["approver"], rejection: ["caseworker", "approver"],
  withdrawal: ["caseworker"], review: ["caseworker"], exit: ["caseworker"], refiling: ["approver"],
  amendment: ["caseworker"], measure: ["caseworker"], completion: ["caseworker"],
};

export interface CaseFacts {
  state: CaseState;
  opened_by?: string;
  verification?: { by?: string; visitors?: string[] } | null;
  notice?: { starts_on: string; ends_on: string } | null;
  objections?: Array<{ resolution: unknown }>;
  measures?: Array<{ done_on: string | null }>;
}

/** Steps the state allows, whoever asks. */
export function stateActions(c: CaseFacts, today: string): Action[] {
  const found: Action[] = [];
  const open = OPEN_STATES.includes(c.state);
  if (c.state === "applied") found.push("verification");
  if (c.state === "verified") found.push("deliberation");
  if (c.state === "deliberated") found.push("notice");
  if (c.state === "on_notice" && c.notice) {
    if (c.notice.starts_on <= today && today < c.notice.ends_on) found.push("objection");
    const waiting = (c.objections ?? []).some((o) => o.resolution === null);
    if (waiting) found.push("resolution");
    if (!waiting && today >= c.notice.ends_on) found.push("approval");
  }
  if (open) found.push("rejection", "withdrawal");
  if (c.state === "filed") found.push("review", "exit", "measure");
  if (c.state === "filed" && (c.measures ?? []).some((m) => m.done_on === null)) found.push("completion");
  if (c.state === "exited") found.push("refiling");
  if (ACTIVE_STATES.includes(c.state)) found.push("amendment");
  return found;
}

/** Steps this user may take on this case now: the state allows them, the role has them, and separation of
 *  duties does not forbid them (an approver who opened the case or visited the home may not approve it). */
export function allowedActions(c: CaseFacts, role: Role, user: string, today: string): Action[] {
  return stateActions(c, today).filter((action) => {
    if (!BY_ROLE[action].includes(role)) return false;
    if (action === "approval" || action === "refiling") return independent(c, user);
    return true;
  });
}

export function independent(c: CaseFacts, user: string): boolean {
  if (c.opened_by === user) return false;
  const v = c.verification;
  return !(v && (v.by === user || (v.visitors ?? []).some((name) => name.trim() === user)));
}
