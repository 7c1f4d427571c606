"""The clarity card (明白卡) as a printable zh-CN HTML page, from the card's JSON (services/audit/fold.py).

Every value is escaped; every line names the trail entries (#index) that prove it, so a printed card can be
checked against the log. Dates are written 2026年3月13日 and money 1,000.00 元.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

CATEGORIES = {"subsistence": "低保户", "marginal": "低保边缘户", "accident": "意外致困户"}
CAUSES = {"illness": "因病", "disability": "因残", "education": "因学", "disaster": "因灾", "accident": "因意外",
          "unemployment": "失业", "low_income": "收入低", "other": "其他"}
STATES = {"applied": "已申请", "verified": "已入户核查", "deliberated": "已民主评议", "on_notice": "公示中",
          "approved": "已审批", "filed": "已建档", "rejected": "未通过", "withdrawn": "已撤回", "exited": "已脱困"}
STATUSES = {"requested": "已申请", "approved": "已审批", "rejected": "已驳回", "paid": "已发放", "confirmed": "已签收",
            "failed": "发放失败", "reversed": "已追回", "cancelled": "已取消"}
KINDS = {"festival": "送温暖", "education": "金秋助学", "medical": "医疗救助", "mutual_insurance": "职工医疗互助",
         "living": "生活救助", "emergency": "应急帮扶", "startup": "创业援助", "goods": "物资帮扶",
         "employment": "就业", "schooling": "助学", "housing": "住房", "social_insurance": "社会保险",
         "legal_aid": "法律援助"}
RELATIONS = {"spouse": "配偶", "child": "子女", "parent": "父母", "parent_in_law": "岳父母/公婆",
             "sibling": "兄弟姐妹", "grandchild": "孙子女", "grandparent": "祖父母", "other": "其他"}
OUTCOMES = {"interviewed": "已面试", "hired": "已录用", "not_hired": "未录用", None: "待反馈"}
TRAININGS = {"enrolled": "在训", "completed": "已结业", "dropped": "已退出"}
FUNCTIONS = {"employment": "人社", "civil_affairs": "民政", "education": "教育", "housing": "住建", "health": "卫健",
             "medical_insurance": "医保", "justice": "司法", "union": "工会"}
PROOF = "审计记录"
MEMBER_HEADERS = ["姓名", "关系", "年龄", "健康状况", "就学情况", "身份证号"]
PAIRING_HEADERS = ["帮扶单位", "帮扶责任人", "责任人电话", "联系人", "结对日期", PROOF]
MEASURE_HEADERS = ["类别", "措施", "计划日期", "完成期限", "进展", "成效", PROOF]
MONEY_HEADERS = ["项目", "类别", "金额", "状态", "发放日期", "签收日期", PROOF]
GOODS_HEADERS = ["项目", "物资", "价值", "状态", "发放日期", PROOF]
REFERRAL_HEADERS = ["用人单位", "岗位", "月工资", "推荐日期", "结果", PROOF]
TRAINING_HEADERS = ["课程", "培训机构", "状态", "证书", PROOF]
VISIT_HEADERS = ["走访日期", "走访人", "了解情况", "解决问题", "下步打算", PROOF]
STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", sans-serif; margin: 2em; color: #111; }
h1 { text-align: center; font-size: 1.6em; margin-bottom: 0.2em; }
.meta { text-align: center; color: #444; margin-bottom: 1.5em; }
h2 { font-size: 1.15em; border-bottom: 2px solid #333; padding-bottom: 0.2em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #888; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.idx { color: #555; font-size: 0.85em; white-space: nowrap; }
.empty { color: #777; }
.sign { margin-top: 3em; display: flex; justify-content: space-between; }
@media print { body { margin: 1cm; } a { color: inherit; text-decoration: none; } }
"""


def cn_date(value: Any) -> str:
    if not value:
        return "—"
    try:
        d = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{d.year}年{d.month}月{d.day}日"


def cn_money(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.2f} 元"
    except (InvalidOperation, ValueError):
        return "—"


def text(value: Any, names: Mapping[Any, str] | None = None) -> str:
    """The value escaped for HTML (a name from `names` if it has one); "已删除" for an erased value."""
    if value is None or value == "":
        return "—"
    if value == "erased":
        return "（已依法删除）"
    if names is not None:
        value = names.get(value, value)
    return escape(str(value))


def indexes(values: Iterable[int]) -> str:
    return "<span class=\"idx\">" + " ".join(f"#{int(i)}" for i in values) + "</span>"


def table(headers: Sequence[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<p class=\"empty\">{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _mapping(value: Any) -> Mapping[str, Any]:
    """An object of the card, or {} where it is "erased" or absent."""
    return value if isinstance(value, Mapping) else {}


def render(card: Mapping[str, Any]) -> str:
    """The card as one self-contained HTML page (no script, no outside resources)."""
    worker, household = _mapping(card.get("worker")), _mapping(card.get("household"))
    members = household.get("members")
    members = members if isinstance(members, list) else []
    causes = "、".join(text(c, CAUSES) for c in card.get("causes") or []) or "—"
    basics = [
        ["户主姓名", text(worker.get("name")), "身份证号", text(worker.get("id_number_masked"))],
        ["联系电话", text(worker.get("phone_masked")), "工作单位", text(worker.get("employer"))],
        ["困难类别", text(card.get("category"), CATEGORIES), "致困原因", causes],
        ["家庭月收入", cn_money(household.get("monthly_income")),
         "人均月收入", cn_money(household.get("per_capita_income"))],
        ["当前状态", text(card.get("state"), STATES),
         "建档日期", cn_date((card.get("dates") or {}).get("filed_on"))],
    ]
    basics_html = "<table>" + "".join(
        f"<tr><th>{a}</th><td>{b}</td><th>{c}</th><td>{d}</td></tr>" for a, b, c, d in basics) + "</table>"
    member_rows = [[text(m.get("name")), text(m.get("relation"), RELATIONS), text(m.get("age")),
                    text(m.get("health")), text(m.get("schooling")), text(m.get("id_number_masked"))]
                   for m in members if isinstance(m, Mapping)]
    pairing = card.get("pairing")
    if pairing:
        unit = text(pairing.get("unit_name")) + (f"（{text(pairing.get('unit_function'), FUNCTIONS)}）"
                                                 if pairing.get("unit_function") else "")
        pairing_html = table(PAIRING_HEADERS, [[
            unit, text(pairing.get("cadre_name")), text(pairing.get("cadre_phone_masked")),
            text(pairing.get("contact")), cn_date(pairing.get("since")), indexes(pairing.get("indexes", []))]], "")
    else:
        pairing_html = "<p class=\"empty\">尚未结对</p>"
    measures = [[text(m.get("kind"), KINDS), text(m.get("description")), cn_date(m.get("planned_on")),
                 cn_date(m.get("due_on")), "已完成 " + cn_date(m.get("done_on")) if m.get("done_on") else "进行中",
                 text(m.get("result")), indexes(m.get("indexes", []))] for m in card.get("measures") or []]
    money = [[text(a.get("program")), text(a.get("kind"), KINDS), cn_money(a.get("amount")),
              text(a.get("status"), STATUSES), cn_date(a.get("paid_on")), cn_date(a.get("confirmed_on")),
              indexes(a.get("indexes", []))] for a in card.get("money") or []]
    goods = [[text(a.get("program")), "、".join(f"{text(i.get('item'))} {text(i.get('quantity'))}{text(i.get('unit'))}"
                                                for i in a.get("items") or [] if isinstance(i, Mapping)) or "—",
              cn_money(a.get("amount")), text(a.get("status"), STATUSES), cn_date(a.get("paid_on")),
              indexes(a.get("indexes", []))] for a in card.get("goods") or []]
    referrals = [[text(r.get("employer")), text(r.get("position")), cn_money(r.get("monthly_wage_offered"))
                  if r.get("monthly_wage_offered") else "—", cn_date(r.get("referred_on")),
                  text(r.get("outcome"), OUTCOMES), indexes(r.get("indexes", []))] for r in card.get("referrals") or []]
    trainings = [[text(t.get("course")), text(t.get("provider")), text(t.get("status"), TRAININGS),
                  text(t.get("certificate")), indexes(t.get("indexes", []))] for t in card.get("trainings") or []]
    visits = [[cn_date(v.get("visited_on")), text(v.get("visitor")), text(v.get("findings")),
               text(v.get("problems_solved")), text(v.get("next_steps")), indexes([v["index"]])]
              for v in card.get("visits") or []]
    sections = [
        ("一、家庭基本情况", basics_html + table(MEMBER_HEADERS, member_rows, "无其他家庭成员")),
        ("二、结对帮扶", pairing_html),
        ("三、帮扶措施", table(MEASURE_HEADERS, measures, "尚无帮扶措施")),
        ("四、帮扶资金", table(MONEY_HEADERS, money, "尚无帮扶资金")),
        ("五、帮扶物资", table(GOODS_HEADERS, goods, "尚无帮扶物资")),
        ("六、就业推荐", table(REFERRAL_HEADERS, referrals, "尚无就业推荐")),
        ("七、技能培训", table(TRAINING_HEADERS, trainings, "尚无技能培训")),
        ("八、走访记录", table(VISIT_HEADERS, visits, "尚无走访记录")),
    ]
    body = "".join(f"<h2>{title}</h2>{html}" for title, html in sections)
    first, last = card.get("first_index"), card.get("last_index")
    meta = (f"档案编号 {escape(str(card.get('case_id')))} · 所属工会 {escape(str(card.get('federation')))} · "
            f"截至 {cn_date(card.get('as_of'))} · 审计记录 #{first} 至 #{last}")
    return (f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>困难职工家庭帮扶明白卡</title>"
            f"<style>{STYLE}</style></head><body><h1>困难职工家庭帮扶明白卡</h1><p class=\"meta\">{meta}</p>{body}"
            f"<div class=\"sign\"><span>户主签字：＿＿＿＿＿＿</span><span>帮扶责任人签字：＿＿＿＿＿＿</span>"
            f"<span>日期：＿＿＿＿年＿＿月＿＿日</span></div></body></html>")
