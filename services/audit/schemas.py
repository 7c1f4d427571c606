"""The audit API's request and response schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.web.fields import Code, Day, Matching, StrictInteger, Text, uuid_field

MAX_INDEX = 2**48  # far beyond any province's trail; keeps sizes and indexes integers a client can hold

DIGEST = r"[0-9a-f]{64}"


class Source(Schema):
    topic = fields.String(required=True)
    partition = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class HistoryEntry(Schema):
    index = fields.Integer(required=True, metadata={"description": "the entry's index in the log"})
    case_seq = fields.Integer(required=True, metadata={"description": "the entry's place in its case's chain"})
    leaf_hash = fields.String(required=True, metadata={"description": "SHA-256(0x00 ‖ entry), hex"})
    prev_case_hash = fields.String(allow_none=True, required=True,
                                   metadata={"description": "leaf hash of the case's previous entry"})
    source = fields.Nested(Source, required=True)
    inclusion = fields.List(fields.String(), allow_none=True, required=True, metadata={
        "description": "audit path (hex, leaf to root) against the checkpoint; null for an entry after it"})
    erased = fields.Integer(required=True, metadata={"description": "personal values shown as \"erased\""})
    event_id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    service = fields.String(required=True)
    federation = fields.String(required=True)
    occurred_at = fields.String(required=True)
    recorded_at = fields.String(required=True)
    payload = fields.Dict(required=True)


class CaseHistoryView(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    size = fields.Integer(required=True, metadata={"description": "the size of the checkpoint the proofs are for"})
    checkpoint = fields.String(required=True, allow_none=True, metadata={
        "description": "that checkpoint, a C2SP signed note (null before the first one is signed)"})
    events = fields.List(fields.Nested(HistoryEntry), required=True)


class CheckpointsQuery(Schema):
    from_ = StrictInteger(text=True, data_key="from", validate=validate.Range(min=0, max=MAX_INDEX))


class CheckpointView(Schema):
    size = fields.Integer(required=True)
    root = fields.String(required=True, metadata={"description": "hex"})
    note = fields.String(required=True, metadata={"description": "the signed checkpoint (C2SP signed note)"})
    made_at = fields.Float(required=True, metadata={"description": "Unix time"})


class CheckpointList(Schema):
    checkpoints = fields.List(fields.Nested(CheckpointView), required=True)


class InclusionQuery(Schema):
    index = StrictInteger(text=True, required=True, validate=validate.Range(min=0, max=MAX_INDEX))
    size = StrictInteger(text=True, required=True, validate=validate.Range(min=1, max=MAX_INDEX))


class InclusionProof(Schema):
    index = fields.Integer(required=True)
    size = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    hashes = fields.List(fields.String(), required=True, metadata={"description": "hex, leaf to root"})
    root = fields.String(required=True)


class ConsistencyQuery(Schema):
    from_ = StrictInteger(text=True, required=True, data_key="from", validate=validate.Range(min=1, max=MAX_INDEX))
    to = StrictInteger(text=True, required=True, validate=validate.Range(min=1, max=MAX_INDEX))


class ConsistencyProof(Schema):
    from_ = fields.Integer(required=True, data_key="from")
    to = fields.Integer(required=True)
    hashes = fields.List(fields.String(), required=True)
    from_root = fields.String(required=True)
    to_root = fields.String(required=True)


class ErasureRequest(Schema):
    subject = Matching(DIGEST, "must be 64 lowercase hex digits (a person's id digest)", allow_none=True,
                       load_default=None, metadata={
        "description": "the person's id digest; null erases every person of the case"})
    reason = Text(500)


class ErasureView(Schema):
    case_id = fields.String(required=True)
    subject = fields.String(allow_none=True, required=True)
    erased = fields.Integer(required=True, metadata={"description": "personal values erased beside the log"})


class BundleQuery(Schema):
    since = StrictInteger(text=True, validate=validate.Range(min=1, max=MAX_INDEX), metadata={
        "description": "the size of a checkpoint you kept: the bundle then proves the log extends it"})


class BundleEntry(Schema):
    index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    entry = fields.String(required=True, metadata={"description": "the entry's canonical JSON, as hashed"})
    inclusion = fields.List(fields.String(), required=True)


class Opening(Schema):
    salt = fields.String(required=True)
    value = fields.String(required=True, metadata={"description": "the value's canonical JSON"})


class BundleConsistency(Schema):
    from_ = fields.Integer(required=True, data_key="from")
    hashes = fields.List(fields.String(), required=True)


class BundleView(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    size = fields.Integer(required=True)
    checkpoint = fields.String(required=True, metadata={"description": "the signed checkpoint (C2SP signed note)"})
    verifier_key = fields.String(required=True, metadata={"description": "<origin>+<key id>+<public key>"})
    entries = fields.List(fields.Nested(BundleEntry), required=True)
    openings = fields.Dict(keys=fields.String(), values=fields.Nested(Opening), required=True, metadata={
        "description": "per commitment, the personal value it stands for (erased ones are absent)"})
    consistency = fields.Nested(BundleConsistency, allow_none=True, required=True)


# Folds of the trail: the case as of a day, its clarity card, household-clear, anomalies.

Lines = fields.List(fields.Dict(), required=True)


class AsOfQuery(Schema):
    date = Day(required=True, metadata={"description": "the case as recorded by the end of this day"})


class CardQuery(Schema):
    as_of = Day(metadata={"description": "the card as of this day (default today)"})


class AsOfView(Schema):
    case_id = fields.String(required=True)
    as_of = fields.String(required=True)
    federation = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, allow_none=True, metadata={
        "description": "applied, verified, deliberated, on_notice, approved, filed, rejected, withdrawn, exited"})
    dates = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    category = fields.String(required=True, allow_none=True)
    causes = fields.List(fields.String(), required=True)
    filed_periods = Lines
    pairing = fields.Dict(required=True, allow_none=True)
    visits = Lines
    visit_standing = fields.Dict(required=True, metadata={"description": "last visit, next due, overdue"})
    measures = Lines
    disbursements = Lines
    paid_total = fields.String(required=True, metadata={"description": "money paid and kept, CNY"})
    goods_value = fields.String(required=True, metadata={"description": "value of goods delivered and kept, CNY"})
    referrals = Lines
    trainings = Lines
    entries = fields.Integer(required=True, metadata={"description": "how many of the case's entries count"})
    last_index = fields.Integer(required=True, allow_none=True)


class CardView(Schema):
    case_id = fields.String(required=True)
    as_of = fields.String(required=True)
    federation = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, allow_none=True)
    dates = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    worker = fields.Raw(required=True, metadata={"description": "the worker, or \"erased\""})
    household = fields.Raw(required=True, metadata={"description": "the household, or \"erased\""})
    category = fields.String(required=True, allow_none=True)
    causes = fields.List(fields.String(), required=True)
    pairing = fields.Dict(required=True, allow_none=True, metadata={
        "description": "helper unit, cadre and contact, with the entries that prove them"})
    measures = Lines
    money = Lines
    goods = Lines
    referrals = Lines
    trainings = Lines
    visits = Lines
    first_index = fields.Integer(required=True, allow_none=True)
    last_index = fields.Integer(required=True, allow_none=True)


class ReadsQuery(Schema):
    federation = Code(metadata={"description": "a federation in your subtree (default yours)"})
    case_id = uuid_field(metadata={"description": "only the reads of this case"})
    after = StrictInteger(text=True, validate=validate.Range(min=0, max=10**12 - 1), metadata={
        "description": "the previous page's `next`: reads after this entry index"})
    limit = StrictInteger(text=True, validate=validate.Range(min=1, max=1000), metadata={
        "description": "reads per page (default 200)"})


class Read(Schema):
    index = fields.Integer(required=True, metadata={"description": "the trail entry that records the read"})
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    by = fields.String(required=True)
    reason = fields.String(required=True)
    viewed_at = fields.String(required=True, metadata={"format": "date-time"})


class ReadsView(Schema):
    reads = fields.List(fields.Nested(Read), required=True)
    next = fields.Integer(required=True, allow_none=True)


class ClearQuery(Schema):
    federation = Code(metadata={"description": "a federation in your subtree (default yours)"})
    as_of = Day(metadata={"description": "default today"})
    after = Matching(r"[0-9A-Za-z_.:-]{1,100}", "must be a case id from a previous page's next", metadata={
        "description": "the previous page's `next`"})
    limit = StrictInteger(text=True, validate=validate.Range(min=1, max=5000), metadata={
        "description": "cases scanned per page (default 500)"})


class ClearItem(Schema):
    clear = fields.Boolean(required=True)
    reasons = fields.List(fields.Dict(), required=True, metadata={"description": "each {reason, indexes}"})


class ClearCase(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True, allow_none=True)
    clear = fields.Boolean(required=True)
    failed = fields.List(fields.String(), required=True)
    items = fields.Dict(keys=fields.String(), values=fields.Nested(ClearItem), required=True, metadata={
        "description": "basics, money, difficulties, measures, results, pairing"})


class ClearView(Schema):
    federation = fields.String(required=True)
    as_of = fields.String(required=True)
    households = fields.Integer(required=True, metadata={"description": "households filed on the day, this page"})
    clear = fields.Integer(required=True)
    cases = fields.List(fields.Nested(ClearCase), required=True)
    next = fields.String(required=True, allow_none=True, metadata={"description": "pass as `after` for more"})


class AnomaliesQuery(Schema):
    federation = Code(metadata={"description": "a federation in your subtree (default yours)"})
    from_ = Day(data_key="from", metadata={"description": "findings from this day (default: all)"})
    to = Day(metadata={"description": "findings up to this day; overdue visits as of it (default today)"})


class Finding(Schema):
    check = fields.String(required=True, metadata={"description": "paid_not_filed, over_household_cap, "
                          "duplicate_festival, duplicate_student, approved_by_requester, approved_by_verifier, "
                          "paid_without_approval, budget_overrun, visit_overdue, exit_without_reason"})
    case_id = fields.String(required=True, allow_none=True)
    federation = fields.String(required=True)
    on = fields.String(required=True, allow_none=True)
    detail = fields.String(required=True)
    indexes = fields.List(fields.Integer(), required=True, metadata={"description": "the entries that prove it"})
    program_id = fields.String()


class AnomaliesView(Schema):
    federation = fields.String(required=True)
    from_ = fields.String(required=True, allow_none=True, data_key="from")
    to = fields.String(required=True)
    findings = fields.List(fields.Nested(Finding), required=True)
