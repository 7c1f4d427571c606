/** The closed lists of values the services accept (their domain.py), for selects and filters. */
export const STATES = ["applied", "verified", "deliberated", "on_notice", "approved", "filed", "rejected", "withdrawn", "exited"];
export const CATEGORIES = ["subsistence", "marginal", "accident"];
export const CAUSES = ["illness", "disability", "education", "disaster", "accident", "unemployment", "low_income", "other"];
export const RELATIONS = ["spouse", "child", "parent", "parent_in_law", "sibling", "grandchild", "grandparent", "other"];
export const HEALTH = ["healthy", "chronic_illness", "serious_illness", "disability"];
export const SCHOOLING = ["none", "preschool", "primary", "junior", "senior", "vocational", "college", "graduate"];
export const EMPLOYMENT = ["employed", "flexible", "unemployed", "retired", "student", "unable_to_work", "none"];
export const EXIT_REASONS = ["stable_employment", "income_above_line", "social_security", "moved", "deceased", "other"];
export const MEASURE_KINDS = ["employment", "medical", "schooling", "housing", "social_insurance", "legal_aid"];
export const FUNCTIONS = ["employment", "civil_affairs", "education", "housing", "health", "medical_insurance", "justice", "union"];
export const RANKS = ["leader", "staff"];
export const VISIT_KINDS = ["routine", "follow_up"];
export const AID_KINDS = ["festival", "education", "medical", "mutual_insurance", "living", "emergency", "startup", "goods"];
export const FESTIVALS = ["new_year", "spring_festival", "mid_autumn", "national_day"];
export const DISBURSEMENT_STATES = ["requested", "approved", "rejected", "paid", "confirmed", "failed", "reversed", "cancelled"];
export const OUTCOMES = ["interviewed", "hired", "not_hired"];
export const ROLES = ["caseworker", "approver", "cadre", "auditor", "admin"] as const;
