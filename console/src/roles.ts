/**
 * Who may do what: the `roles=` of each route in services/<service>/service.py, copied here so the console
 * offers only what the user's role can do (the services still decide).
 */
import { session, type Role } from "./api/session";

export const CAN = {
  // intake (STAFF, DECIDERS, APPROVERS, READERS)
  openCase: ["caseworker"],
  workCase: ["caseworker"], // verification, deliberation, notice, objections, withdrawal, review, exit, amendment, plan
  rejectCase: ["caseworker", "approver"],
  approveCase: ["approver"],
  refileCase: ["approver"],
  importCases: ["caseworker"],
  readCases: ["caseworker", "approver", "cadre", "auditor", "admin"],
  disclose: ["caseworker", "approver"], // POST /cases/<id>/disclosure
  // pairing (COORDINATORS, OVERRIDERS, VISITORS, CADRES, SUPERVISORS)
  keepRoster: ["admin"],
  overridePairing: ["admin", "approver"],
  recordVisit: ["cadre", "caseworker"],
  myHouseholds: ["cadre"],
  coverage: ["caseworker", "approver", "auditor", "admin"],
  readRoster: ["caseworker", "approver", "cadre", "auditor", "admin"],
  // aid (ADMINS, APPROVERS, CASHIERS, REQUESTERS, READERS)
  managePrograms: ["admin"],
  approveAid: ["approver"],
  cashier: ["admin", "approver"],
  requestAid: ["caseworker", "admin"],
  readAid: ["caseworker", "approver", "auditor", "admin"],
  // audit (HISTORY_READERS, LOG_READERS) and the read log
  history: ["auditor", "caseworker", "approver", "admin"],
  readLog: ["auditor", "admin"],
  readsLog: ["auditor"],
  // accounts
  manageUsers: ["admin"],
} satisfies Record<string, Role[]>;

export type Ability = keyof typeof CAN;

export function can(ability: Ability): boolean {
  const role = session.user?.role;
  return !!role && (CAN[ability] as Role[]).includes(role);
}

/** Is `federation` at or under `root` (gs.by covers gs.by.pg, not gs.byx)? */
export function inSubtree(federation: string, root: string): boolean {
  return federation === root || federation.startsWith(`${root}.`);
}
