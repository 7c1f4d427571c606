/** The answers of the services, as their schemas.py describe them (only what the console reads). */
import type { CaseState } from "../caseActions";
import type { Role } from "./session";

export interface Member {
  name: string;
  relation: string;
  age: number;
  health: string;
  schooling: string;
  employment?: string;
  id_number?: string; // masked
  id_digest?: string; // the keyed digest aid names the person by (present with an ID number)
}

export interface Worker {
  name: string;
  id_number: string;
  phone: string;
  employer: string;
  migrant: boolean;
}

export interface Household {
  members: Member[];
  monthly_income: string;
  subsistence_line: string;
  per_capita_income?: string;
}

export interface Measure {
  measure_id: string;
  kind: string;
  description: string;
  planned_on: string;
  due_on: string | null;
  done_on: string | null;
  result: string | null;
  by: string;
}

export interface Objection {
  objection_id: string;
  raised_on: string;
  reason: string;
  by: string;
  resolution: { upheld: boolean; notes: string; by: string } | null;
}

export interface CaseView {
  case_id: string;
  federation: string;
  state: CaseState;
  category: string;
  causes: string[];
  worker: Worker;
  household: Household;
  verification: { visitors: string[]; visited_on: string; per_capita_income: string; findings: string; by: string } | null;
  deliberation: { decided_on: string; outcome: string; notes: string; by: string } | null;
  notice: { starts_on: string; days: number; ends_on: string; by: string } | null;
  objections: Objection[];
  approval: { approved_on?: string; approver?: string; filed_on?: string; imported?: string } | null;
  closure: { reason: string; by: string } | null;
  filed_on: string | null;
  reviews: Array<{ reviewed_on: string; findings: string; still_qualifies: boolean; by: string }>;
  exits: Array<{ reason: string; exited_on: string; notes: string; by: string }>;
  refilings: Array<{ refiled_on: string; reason: string; by: string }>;
  returns_to_hardship: number;
  measures: Measure[];
  amendments: Array<{ changed: string[]; reason: string; by: string }>;
  opened_by: string;
  opened_at: string;
  updated_at: string;
  version: number;
}

export interface CaseSummary {
  case_id: string;
  federation: string;
  state: CaseState;
  category: string;
  causes: string[];
  opened_at: string;
  updated_at: string;
  filed_on: string | null;
  review_due_on: string | null;
  name_masked: string | null; // 张*伟
  id_number_masked: string | null; // 6204**********0014
}

export interface Disclosure {
  case_id: string;
  worker: { name: string; id_number: string; phone: string };
  members: Array<{ name: string; relation: string; id_number: string | null }>;
}

export interface ImportJob {
  import_id: string;
  state: "running" | "done" | "interrupted";
  filename: string;
  rows_total: number | null;
  rows_done: number;
  filed: number;
  failed_rows: number;
  failures: Array<{ row: number; column: string; reason: string }>;
}

export interface Stats {
  federation: string;
  year: number;
  by_state: Record<string, number>;
  filed_by_category: Record<string, number>;
  filed_by_cause: Record<string, number>;
  filed_in_year: number;
  exited_in_year: number;
  returned_in_year: number;
  files_at_start_of_year: number;
  exit_rate: number | null;
  exit_rate_target: number;
  return_to_hardship_rate: number | null;
  measures_done_in_year: Record<string, number>;
}

// pairing

export interface MyHousehold {
  case_id: string;
  federation: string;
  state: string;
  status: string;
  contact: string | null;
  cadre_id: string;
  last_visit_on: string | null;
  next_due: { kind: string; from: string; by: string } | null;
}

export interface Visit {
  visit_id: string;
  visited_on: string;
  kind: string;
  findings: string;
  problems_solved: string;
  measures: string;
  next_steps: string;
  visitor: string;
  cadre_id: string;
}

export interface Pairing {
  case_id: string;
  federation: string;
  unit_id: string | null;
  cadre_id: string | null;
  contact: string | null;
  assigned_on: string | null;
  state: string;
  case_state: string;
  reason: string | null;
  history: Array<Record<string, unknown>>;
}

export interface Coverage {
  federation: string;
  as_of: string;
  filed: number;
  paired: number;
  paired_within: { days: number; households: number };
  uncovered: number;
  uncovered_households: Array<{ case_id: string; federation: string; reason: string; since: string; days: number }>;
  cadre_loads: Record<string, number>;
  visits: Array<{ quarter: string; due: number; visited: number }>;
}

export interface Unit {
  unit_id: string;
  name: string;
  function: string;
  federation: string;
}

export interface Cadre {
  cadre_id: string;
  name: string;
  unit_id: string;
  function: string;
  rank: string;
  federation: string;
  phone: string;
  user: string;
  active: boolean;
  load: number;
  capacity: number;
  retirement: { retired_on: string; reason: string; by: string } | null;
}

// aid

export interface ProgramRow {
  program_id: string;
  name: string;
  kind: string;
  year: number;
  federation: string;
  festival: string | null;
  version: number;
}

export interface Program extends ProgramRow {
  help: string;
  amount: string | null;
  rule: { share?: string; cap?: string; max?: string } | null;
  eligibility: { categories: string[]; causes: string[]; household_cap: string | null; include_exited: boolean };
}

export interface Budget {
  program_id: string;
  kind: string;
  year: number;
  federation: string;
  budget: string;
  allocated_to_children: string;
  reserved: string;
  paid: string;
  failed: string;
  reversed: string;
  remaining: string;
}

export interface DisbursementRow {
  disbursement_id: string;
  case_id: string;
  federation: string;
  program_id: string;
  kind: string;
  form: string;
  amount: string;
  state: string;
  batch_id: string | null;
  requested_by: string;
  requested_on: string;
}

export interface Check {
  check: string;
  passed: boolean;
  detail: string;
}

export interface Disbursement extends DisbursementRow {
  reason: string;
  beneficiary: string | null;
  decision: { rule_version: number; passed: boolean; checks: Check[] };
  steps: Array<{ state: string; on: string; by: string; reason?: string | null }>;
}

// What a batch and its row in the list both show.
interface BatchHead {
  batch_id: string;
  program_id: string;
  federation: string;
  reason: string;
  amount: string;
  created_by: string;
  created_on: string;
  included: number;
  total: string;
  assembled: boolean;
}

export interface BatchList {
  batches: Array<BatchHead & {
    kind: string;
    excluded: number;
    approved_on: string | null;
    approved_by: string | null;
    complete: boolean;
    paid: number;
    failed: number;
  }>;
  total: number;
  offset: number;
}

export interface Batch extends BatchHead {
  excluded: Array<{ case_id: string; failed: Check[] }>;
  disbursements: string[];
  approval: { by: string; on: string; approved: number; total: string; complete: boolean } | null;
  results: Array<Record<string, unknown>>;
}

export interface BankResults {
  batch_id: string;
  paid: number;
  failed: number;
  refused: number;
  unchanged: number;
  lines: Array<{ line: number; disbursement_id: string; outcome: string; reason: string | null }>;
}

export interface Referral {
  referral_id: string;
  case_id: string;
  person: string;
  employer: string;
  position: string;
  monthly_wage_offered: string | null;
  referred_on: string;
  outcome: string | null;
  by: string;
  outcomes: Array<{ outcome: string; monthly_wage: string | null; recorded_on: string; by: string }>;
}

export interface CaseAid {
  case_id: string;
  federation: string;
  state: string;
  received: string;
  money: Disbursement[];
  goods: Disbursement[];
  referrals: Referral[];
  trainings: Array<{ training_id: string; course: string; person: string; state: string }>;
}

export interface AidStats {
  federation: string;
  year: number;
  helped: Array<{ kind: string; people: number; households: number }>;
  money_by_kind: Array<{ kind: string; paid: string }>;
  referrals: number;
  hires: number;
}

// audit

export interface HistoryEntry {
  index: number;
  case_seq: number;
  leaf_hash: string;
  prev_case_hash: string | null;
  inclusion: string[] | null;
  erased: number;
  event_id: string;
  type: string;
  service: string;
  federation: string;
  occurred_at: string;
  recorded_at: string;
  payload: Record<string, unknown>;
}

export interface CaseHistory {
  case_id: string;
  federation: string;
  size: number;
  checkpoint: string | null;
  events: HistoryEntry[];
}

export interface Bundle {
  case_id: string;
  size: number;
  checkpoint: string;
  verifier_key: string;
  entries: Array<{ index: number; leaf_hash: string; entry: string; inclusion: string[] }>;
}

export interface Finding {
  check: string;
  case_id: string | null;
  federation: string;
  on: string | null;
  detail: string;
  indexes: number[];
  program_id?: string;
}

export interface Read {
  case_id: string;
  federation: string;
  by: string;
  reason: string;
  viewed_at: string;
  index: number;
}

export interface AccountUser {
  login: string;
  display_name: string;
  role: Role;
  federation: string;
  disabled: boolean;
  locked: boolean;
}
