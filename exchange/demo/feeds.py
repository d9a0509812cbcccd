"""Each agency's view of the demo city, as rows in the agency's own columns and spellings,
with the defect kinds each feed can carry (its menu, most important first).

One builder per feed, looked up in :data:`FEED_BUILDERS` by feed id.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable

from exchange.demo import crimes, mediation
from exchange.demo.activity import Activity, Place, place_point
from exchange.demo.defects import KEY_DUPLICATE, PARSE_ERROR, FeedTable, Seed
from exchange.demo.geo import CITY_NAME
from exchange.demo.people import Household, Person
from exchange.demo.variants import maybe_typo, spell_date, spell_phone, spell_resident_id
from exchange.demo.world import World, weighted

GENDER_CN = {"M": "男", "F": "女"}
GENDER_HEALTH = {"M": "1", "F": "2"}
HOUSEHOLD_TYPE_CN = {"family": "家庭户", "collective": "集体户"}
YES_NO = {True: "是", False: "否"}
CIVIL_COVERAGE = 0.85
MIN_SUBJECTS = 8  # small feeds: enough records to carry one defect within the 15 % bound

ORG_RESPONDENT = frozenset({"劳动争议", "医疗纠纷", "校园纠纷", "物业管理", "消费纠纷", "合同纠纷",
                            "环境污染", "征地拆迁"})
DISPUTE_ISSUES = {
    "交通事故": "车辆碰撞造成财产损失的赔偿", "劳动争议": "拖欠工资", "校园纠纷": "学生在校受伤的责任",
    "医疗纠纷": "诊疗过程中的损害赔偿", "征地拆迁": "征收补偿标准", "物业管理": "物业服务费及维修",
    "婚姻家庭": "赡养及家庭财产分配", "邻里纠纷": "房屋漏水及通行", "消费纠纷": "商品质量及退款",
    "合同纠纷": "货款支付", "环境污染": "养殖场异味及污水排放", "农村土地": "承包地边界", "其他": "借款归还",
}
RISK_CN = {"高": 10, "中": 30, "低": 60}
RISK_GRADES = {"0": 30, "1": 25, "2": 20, "3": 13, "4": 8, "5": 4}

FeedBuilder = Callable[[World, random.Random], FeedTable]


def _id_rules(column: str, *, gender: bool) -> list[Seed]:
    rules = ["resident_id.checksum", "resident_id.legacy_15", "resident_id.birth_date",
             "resident_id.birth_future", "resident_id.region"]
    if gender:
        rules.append("resident_id.gender")
    return [Seed(rule, column) for rule in rules]


# -- police --------------------------------------------------------------------------------------

def police_residents(world: World, rng: random.Random) -> FeedTable:
    columns = ["人员编号", "姓名", "身份证号", "性别", "出生日期", "民族", "联系电话", "住址",
               "行政区划代码", "户号"]
    rows, keys = [], []
    for i, p in enumerate(world.population.residents):
        hh = _household(p)
        rows.append([f"RK{i + 1:08d}", p.name, p.id_number, GENDER_CN[p.gender], p.birth.isoformat(),
                     p.ethnicity, p.phone, hh.address, hh.community.code, hh.number])
        keys.append(p.key)
    menu = [Seed(PARSE_ERROR, limit=1), Seed(KEY_DUPLICATE), *_id_rules("身份证号", gender=True),
            Seed("required", "姓名"), Seed("allowed_values", "性别", "未知"), Seed("max_length", "住址"),
            Seed("phone.format", "联系电话"), Seed("date.format", "出生日期"),
            Seed("date.invalid", "出生日期"), Seed("date.future", "出生日期"),
            Seed("division_code.unknown", "行政区划代码"),
            Seed("division_code.abolished", "行政区划代码"), Seed("required", "性别")]
    return FeedTable("police.residents", columns, rows, keys, menu)


def police_incidents(world: World, rng: random.Random) -> FeedTable:
    columns = ["案件编号", "案件类别", "简要案情", "发案时间", "报案日期", "发案地区划", "发案地址",
               "办理状态", "办案单位", "案别", "作案手段", "侵害目标", "作案工具", "涉案车辆", "经度", "纬度"]
    rows = []
    for case in world.cases:
        division = case.community.code if rng.random() < 0.8 else case.community.town.code
        rows.append([case.number, case.case_type, case.title, f"{case.occurred:%Y-%m-%d %H:%M:%S}",
                     case.reported.isoformat(), division, case.address, case.status, case.unit,
                     crimes.OFFENCE_CN.get(case.offence, ""), crimes.ENTRY_CN.get(case.mo_entry, ""),
                     crimes.TARGET_CN.get(case.mo_target, ""), case.mo_tools, case.plate,
                     "" if case.lon is None else f"{case.lon:.6f}", "" if case.lat is None else f"{case.lat:.6f}"])
    menu = [Seed("mapping.value", "案件类别", "其它案件"), Seed("max_length", "简要案情"),
            Seed("date.invalid", "报案日期"), Seed(KEY_DUPLICATE),
            Seed("mapping.value", "办理状态", "已移送"),
            Seed("date.format", "报案日期"), Seed("division_code.abolished", "发案地区划"),
            Seed("required", "报案日期")]
    return FeedTable("police.incidents", columns, rows, None, menu)


def police_case_parties(world: World, rng: random.Random) -> FeedTable:
    columns = ["记录编号", "案件编号", "涉案角色", "身份证号", "姓名", "性别", "联系电话"]
    rows, keys = [], []
    for case in world.cases:
        for party in case.parties:
            p = party.person
            rows.append([party.record_id, case.number, party.role, p.id_number if party.with_id else "",
                         maybe_typo(p.name, rng, 0.01), GENDER_CN[p.gender], party.phone])
            keys.append(p.key)
    menu = [Seed("mapping.value", "涉案角色", "关系人"), Seed("resident_id.checksum", "身份证号"),
            Seed("phone.format", "联系电话"), Seed("allowed_values", "性别", "不详"),
            Seed("resident_id.gender", "身份证号"), Seed("required", "姓名"),
            Seed("resident_id.birth_date", "身份证号"), Seed(KEY_DUPLICATE)]
    return FeedTable("police.case_parties", columns, rows, keys, menu)


# -- civil affairs -------------------------------------------------------------------------------

def civil_households_covered(world: World) -> list[Household]:
    """The households civil affairs knows (about 85 % of the register), same for both its feeds."""
    rng = world.rng("civil_affairs.coverage")
    return [hh for hh in world.population.households if rng.random() < CIVIL_COVERAGE]


def civil_households(world: World, rng: random.Random) -> FeedTable:
    columns = ["户号", "户别", "户主身份证号", "户主姓名", "地址", "行政区划", "人数", "是否低保"]
    rows = []
    for hh in civil_households_covered(world):
        head = hh.head
        head_id = "" if rng.random() < 0.03 else spell_resident_id(head.id_number, rng, 0.04)
        rows.append([hh.number, HOUSEHOLD_TYPE_CN[hh.kind], head_id, maybe_typo(head.name, rng, 0.03),
                     hh.address, hh.community.code, str(len(hh.members)), YES_NO[hh.low_income]])
    menu = [Seed(KEY_DUPLICATE), Seed("mapping.value", "户别", "临时户"), Seed("type", "人数"),
            Seed("resident_id.checksum", "户主身份证号"), Seed("required", "户主姓名"),
            Seed("division_code.abolished", "行政区划"), Seed("type", "是否低保"), Seed("max_length", "地址"),
            Seed("resident_id.legacy_15", "户主身份证号"), Seed("division_code.unknown", "行政区划"),
            Seed("required", "地址")]
    return FeedTable("civil_affairs.households", columns, rows, None, menu)


def civil_members(world: World, rng: random.Random) -> FeedTable:
    columns = ["成员编号", "户号", "姓名", "公民身份号码", "性别", "出生年月日", "手机号码", "居住地址"]
    rows, keys = [], []
    for hh in civil_households_covered(world):
        for p in hh.members:
            id_number = "" if rng.random() < 0.08 else spell_resident_id(p.id_number, rng, 0.04)
            phone = p.phone
            r = rng.random()
            if r < 0.08:
                phone = _other_mobile(rng)
            elif r < 0.13:
                phone = ""
            address = hh.address if rng.random() < 0.7 else hh.address.removeprefix("陕西省")
            rows.append([f"CY{len(rows) + 1:08d}", hh.number, maybe_typo(p.name, rng, 0.03), id_number,
                         GENDER_CN[p.gender], spell_date(p.birth, rng, 0.3), spell_phone(phone, rng, 0.12),
                         address])
            keys.append(p.key)
    menu = [Seed("required", "姓名"), *_id_rules("公民身份号码", gender=True),
            Seed("allowed_values", "性别", "未知"), Seed("date.format", "出生年月日"),
            Seed("date.invalid", "出生年月日"), Seed("date.future", "出生年月日"),
            Seed("phone.format", "手机号码"),
            Seed(KEY_DUPLICATE), Seed("max_length", "居住地址")]
    return FeedTable("civil_affairs.members", columns, rows, keys, menu)


def _other_mobile(rng: random.Random) -> str:
    """A mobile number an agency has on file that differs from the police one."""
    prefix = rng.choice(("135", "138", "150", "158", "177", "186", "189", "199"))
    return f"{prefix}{rng.randrange(10**8):08d}"


def civil_compounds(world: World, rng: random.Random) -> FeedTable:
    columns = ["小区编码", "小区名称", "社区区划代码", "地址", "户数", "平安小区评定", "是否有物业",
               "评定日期"]
    rows = []
    for c in world.geo.compounds:
        rows.append([c.code, c.name, c.community.code, f"{c.community.prefix}{c.name}",
                     str(c.households), weighted(rng, {"平安小区": 70, "关注": 22, "重点整治": 8}),
                     YES_NO[rng.random() < 0.65], world.recent_date(rng, 700).isoformat()])
    menu = [Seed("type", "是否有物业"), Seed("mapping.value", "平安小区评定", "未评定"), Seed("type", "户数"),
            Seed("division_code.unknown", "社区区划代码"), Seed("date.future", "评定日期"),
            Seed("required", "小区名称"), Seed(KEY_DUPLICATE)]
    return FeedTable("civil_affairs.compounds", columns, rows, None, menu)


# -- justice ---------------------------------------------------------------------------------------

def justice_disputes(world: World, rng: random.Random) -> FeedTable:
    columns = ["djbh", "jflb", "zt", "slrq", "jarq", "sqrxm", "sqrsfzh", "sqrdh", "bsqrmc", "bsqrsfzh",
               "xzqh", "je", "jyqk"]
    rows, keys = [], []
    for d in world.disputes:
        applicant, category = d.applicant, d.category
        respondent_name, respondent_id = _respondent(world, rng, category, applicant)
        amount = f"{rng.randint(5, 20000) * 50:.2f}" if rng.random() < 0.75 else ""
        summary = (f"{category}：申请人{applicant.name}与被申请人{respondent_name}因"
                   f"{DISPUTE_ISSUES[category]}问题发生纠纷，申请调解。")
        rows.append([d.number, category, d.status, d.accepted.isoformat(), d.closed.isoformat() if d.closed else "",
                     applicant.name, applicant.id_number if rng.random() < 0.9 else "",
                     applicant.phone if rng.random() < 0.85 else "", respondent_name, respondent_id,
                     d.community.code, amount, summary])
        keys.append(applicant.key)
    menu = [Seed("mapping.value", "jflb", "其它"), Seed("type", "je"), Seed("date.invalid", "slrq"),
            Seed(KEY_DUPLICATE), Seed("date.future", "jarq"), Seed("resident_id.checksum", "sqrsfzh"),
            Seed("mapping.value", "zt", "已归档"), Seed("phone.format", "sqrdh"), Seed("required", "sqrxm"),
            Seed("resident_id.region", "bsqrsfzh")]
    return FeedTable("justice.disputes", columns, rows, keys, menu)


def justice_dispute_steps(world: World, rng: random.Random) -> FeedTable:
    columns = ["流水号", "登记编号", "节点", "时间", "受理窗口", "责任单位", "行政区划", "备注"]
    rows = []
    n = 0
    for d in world.disputes:
        for step, at in d.steps:
            n += 1
            unit = mediation.UNITS[d.category] if step in ("assigned", "handed_back") else ""
            note = "双方同意调解" if step == "mediating" and rng.random() < 0.3 else ""
            rows.append([f"LC{n:07d}", d.number, mediation.STEP_CN[step], f"{at:%Y-%m-%d %H:%M:%S}", d.category,
                         unit, d.community.code, note])
    menu = [Seed("mapping.value", "节点", "已归档"), Seed("division_code.unknown", "行政区划"), Seed(KEY_DUPLICATE),
            Seed("mapping.value", "受理窗口", "其它"), Seed("required", "登记编号")]
    return FeedTable("justice.dispute_steps", columns, rows, None, menu)


def _respondent(world: World, rng: random.Random, category: str, applicant: Person) -> tuple[str, str]:
    if category in ORG_RESPONDENT and world.organizations and rng.random() < 0.7:
        return rng.choice(world.organizations).name, ""
    person = world.pick_adult(rng)
    if person is applicant:
        person = rng.choice(world.population.visitors)
    return person.name, person.id_number if rng.random() < 0.7 else ""


def justice_community_correction(world: World, rng: random.Random) -> FeedTable:
    columns = ["矫正人员编号", "身份证号", "姓名", "性别", "司法所", "风险等级", "矫正开始日期",
               "矫正结束日期", "居住地区划"]
    candidates = world.aged(18, 70)
    n = min(len(candidates), max(MIN_SUBJECTS, round(len(world.adults) / 100)))
    chosen = _sample(rng, candidates, n, weight=lambda p: 5 if p.gender == "M" else 1)
    rows, keys = [], []
    for i, person in enumerate(chosen):
        start = world.recent_date(rng, 1100)
        end = start + datetime.timedelta(days=30 * rng.randint(6, 60))
        community = _household(person).community
        rows.append([f"SQJZ{start.year}{i + 1:05d}", person.id_number, person.name, GENDER_CN[person.gender],
                     f"{community.town.name}司法所", weighted(rng, RISK_CN), start.isoformat(),
                     end.isoformat(), community.code])
        keys.append(person.key)
    menu = [Seed("mapping.value", "风险等级", "极高"), Seed("resident_id.checksum", "身份证号"),
            Seed("date.future", "矫正开始日期"), Seed("required", "司法所"),
            Seed("resident_id.gender", "身份证号"),
            Seed("allowed_values", "性别", "未知")]
    return FeedTable("justice.community_correction", columns, rows, keys, menu)


# -- market regulation, health -------------------------------------------------------------------

def market_organizations(world: World, rng: random.Random) -> FeedTable:
    columns = ["统一社会信用代码", "企业名称", "法定代表人", "法定代表人证件号", "住所", "住所区划",
               "成立日期", "登记状态", "行业门类", "注册资本万元"]
    rows = [[o.credit_code, o.name, o.representative.name, o.representative.id_number, o.address, o.division,
             o.established.isoformat(), o.status, o.industry, o.capital] for o in world.organizations]
    menu = [Seed("credit_code.checksum", "统一社会信用代码"), Seed("credit_code.format", "统一社会信用代码"),
            Seed(KEY_DUPLICATE), Seed("type", "注册资本万元"), Seed("mapping.value", "登记状态", "迁出"),
            Seed("date.future", "成立日期"), Seed("resident_id.checksum", "法定代表人证件号"),
            Seed("division_code.unknown", "住所区划"), Seed("required", "企业名称")]
    return FeedTable("market_regulation.organizations", columns, rows, None, menu)


def health_mental_health(world: World, rng: random.Random) -> FeedTable:
    columns = ["patient_id", "id_card", "name", "sex", "managing_org", "risk_grade", "enrolled_on",
               "region_code"]
    candidates = world.aged(12)
    n = min(len(candidates), max(MIN_SUBJECTS, round(len(world.population.residents) * 0.005)))
    chosen = _sample(rng, candidates, n, weight=lambda p: 1)
    rows, keys = [], []
    for i, person in enumerate(chosen):
        community = _household(person).community
        town = community.town
        org = f"{CITY_NAME}精神卫生中心" if rng.random() < 0.15 else (
            f"{town.name}社区卫生服务中心" if town.urban else f"{town.name}卫生院")
        rows.append([f"JSWS{i + 1:07d}", person.id_number, person.name, GENDER_HEALTH[person.gender], org,
                     weighted(rng, RISK_GRADES), world.recent_date(rng, 3000).isoformat(), community.code])
        keys.append(person.key)
    menu = [Seed("mapping.value", "risk_grade", "6"), Seed("allowed_values", "sex", "9"),
            Seed("resident_id.checksum", "id_card"), Seed("required", "id_card"),
            Seed("date.invalid", "enrolled_on"), Seed("resident_id.gender", "id_card")]
    return FeedTable("health.mental_health", columns, rows, keys, menu)


# -- activity events and the vehicle register (exchange.demo.activity) ---------------------------

TIME = "%Y-%m-%d %H:%M:%S"
DIRECTION_CN = {"inbound": "进城", "outbound": "出城"}
VEHICLE_USE_CN = {"private": "非营运", "taxi": "出租客运", "freight": "货运", "rental": "租赁"}


def _activity(world: World) -> Activity:
    if world.activity is None:
        raise ValueError("the demo world was built without activity (exchange.demo.city.build_world)")
    return world.activity


def police_vehicles(world: World, rng: random.Random) -> FeedTable:
    columns = ["登记编号", "号牌号码", "使用性质", "品牌型号", "车身颜色", "所有人", "所有人身份证号",
               "联系电话", "登记地区划", "初次登记日期"]
    rows, keys = [], []
    for v in _activity(world).vehicles:
        plate = v.plate if rng.random() < 0.9 else f"{v.plate[:2]}·{v.plate[2:]}"  # as the clerk typed it
        rows.append([v.record_id, plate, VEHICLE_USE_CN[v.use], v.brand, v.color, v.owner.name,
                     v.owner.id_number, v.owner.phone, v.division, v.registered.isoformat()])
        keys.append(v.owner.key)
    menu = [Seed("plate.format", "号牌号码"), Seed("resident_id.checksum", "所有人身份证号"),
            Seed("mapping.value", "使用性质", "营转非"), Seed("plate.province", "号牌号码"),
            Seed("required", "所有人"), Seed("plate.letters", "号牌号码"), Seed(KEY_DUPLICATE)]
    return FeedTable("police.vehicles", columns, rows, keys, menu)


def _point(place: Place) -> list[str]:
    return [place.community.code, f"{place.lon:.6f}", f"{place.lat:.6f}"]


def police_hotel_stays(world: World, rng: random.Random) -> FeedTable:
    columns = ["lsh", "zjhm", "xm", "lgbm", "lgmc", "fh", "rzsj", "tfsj", "qhdm", "jd", "wd"]
    rows = [[s.record_id, s.person.id_number, s.person.name, s.hotel.code, s.hotel.name, s.room,
             f"{s.check_in:{TIME}}", f"{s.check_out:{TIME}}" if s.check_out else "", *_point(s.hotel)]
            for s in _activity(world).stays]
    menu = [Seed("resident_id.checksum", "zjhm"), Seed("required", "xm"), Seed("range", "jd"),
            Seed("required", "rzsj"), Seed("division_code.unknown", "qhdm"), Seed(KEY_DUPLICATE)]
    return FeedTable("police.hotel_stays", columns, rows, None, menu)


def police_internet_sessions(world: World, rng: random.Random) -> FeedTable:
    columns = ["记录号", "证件号码", "姓名", "场所编码", "场所名称", "机位号", "上机时间", "下机时间",
               "场所区划", "经度", "纬度"]
    rows = [[s.record_id, s.person.id_number, s.person.name, s.cafe.code, s.cafe.name, s.seat,
             f"{s.start:{TIME}}", f"{s.end:{TIME}}", *_point(s.cafe)] for s in _activity(world).sessions]
    menu = [Seed("resident_id.checksum", "证件号码"), Seed("required", "场所编码"), Seed("range", "纬度"),
            Seed("resident_id.birth_date", "证件号码"), Seed(KEY_DUPLICATE)]
    return FeedTable("police.internet_sessions", columns, rows, None, menu)


def police_checkpoint_passes(world: World, rng: random.Random) -> FeedTable:
    columns = ["gcxh", "hphm", "kkbh", "kkmc", "fx", "gcsj", "clsd", "xzqh", "jd", "wd"]
    rows = [[p.record_id, p.vehicle.plate, p.checkpoint.code, p.checkpoint.name, DIRECTION_CN[p.direction],
             f"{p.at:{TIME}}", str(p.speed), *_point(p.checkpoint)] for p in _activity(world).passes]
    menu = [Seed("plate.format", "hphm"), Seed("range", "clsd"), Seed("plate.letters", "hphm"),
            Seed("mapping.value", "fx", "未知"), Seed("plate.province", "hphm"), Seed("required", "kkbh"),
            Seed(KEY_DUPLICATE)]
    return FeedTable("police.checkpoint_passes", columns, rows, None, menu)


def police_compound_access(world: World, rng: random.Random) -> FeedTable:
    columns = ["记录ID", "小区编码", "门岗", "卡号", "身份证号", "姓名", "进出", "通行时间", "区划", "经度",
               "纬度"]
    rows = []
    for a in _activity(world).accesses:
        lon, lat = place_point(a.compound.community, a.compound.code)
        rows.append([a.record_id, a.compound.code, a.gate, "" if a.by_id else a.card,
                     a.person.id_number if a.by_id else "", a.person.name if a.by_id else "",
                     "进" if a.direction == "in" else "出", f"{a.at:{TIME}}", a.compound.community.code,
                     f"{lon:.6f}", f"{lat:.6f}"])
    menu = [Seed("mapping.value", "进出", "进出"), Seed("resident_id.checksum", "身份证号"),
            Seed("required", "通行时间"), Seed("division_code.unknown", "区划"), Seed(KEY_DUPLICATE)]
    return FeedTable("police.compound_access", columns, rows, None, menu)


def _sample(rng: random.Random, people: list[Person], n: int,
            weight: Callable[[Person], int]) -> list[Person]:
    """``n`` distinct people, drawn with the given relative weights (Efraimidis-Spirakis keys)."""
    keyed = sorted(people, key=lambda p: rng.random() ** (1 / weight(p)), reverse=True)
    return keyed[:n]


def _household(person: Person) -> Household:
    if person.household is None:
        raise ValueError(f"{person.key} is not a resident of the demo city")
    return person.household


FEED_BUILDERS: dict[str, FeedBuilder] = {
    "police.residents": police_residents,
    "police.incidents": police_incidents,
    "police.case_parties": police_case_parties,
    "civil_affairs.households": civil_households,
    "civil_affairs.members": civil_members,
    "civil_affairs.compounds": civil_compounds,
    "justice.disputes": justice_disputes,
    "justice.dispute_steps": justice_dispute_steps,
    "justice.community_correction": justice_community_correction,
    "market_regulation.organizations": market_organizations,
    "health.mental_health": health_mental_health,
    "police.vehicles": police_vehicles,
    "police.hotel_stays": police_hotel_stays,
    "police.internet_sessions": police_internet_sessions,
    "police.checkpoint_passes": police_checkpoint_passes,
    "police.compound_access": police_compound_access,
}
