"""A city of hard cases for the master person index, written independently of the demo city.

The demo city scores what it was written to score. This generator makes a population the way agencies'
registers really disagree — typo'd, transposed, legacy and copied ID numbers, romanised, traditional,
homophone, shortened and placeholder names, twins, namesakes born the same day, families sharing a
phone — and keeps, for every record, the true person and a **tag** naming its hard case, plus the
**relations** between persons that make a false merge tempting (twins, namesakes, household members).

It writes a whole project folder: the repository's schemas, its own file feeds (``feeds/hard/``: the
police resident register, the civil-affairs household members, police case parties, justice disputes
and community correction, health's severe-mental-disorder register — every one a plain CSV file with
canonical column names), the agencies' files under ``var/landing/hard/`` and ``link_truth.json``
(format :data:`TRUTH_FORMAT`). Every record travels the whole pipeline — mapping, validation,
quarantine — before linking, so a record the pipeline rejects is a record the index never sees, and
the evaluation counts it as missed (:func:`exchange.linking.evaluate.evaluate`).

Tags (one per record; the police register's own record of a person is ``register``):

======================  =============================================================================
``clean``               a copy of the person's attributes with the valid ID number
``id_typo``             one digit of the ID number substituted (the check character fails)
``id_transposed``       two adjacent digits of the ID number swapped
``id_legacy15``         the legacy 15-digit form of the ID number
``id_copied``           the valid ID number of the record written just before it (a copy error):
                        the record's own name, birth date and gender belong to another person
``no_id``               no ID number, the name as registered
``romanised``           no ID number, the name in pinyin (``Zhang Yixiao`` or ``YIXIAO ZHANG``)
``traditional``         no ID number, the name in traditional characters
``homophone``           no ID number, one given-name character replaced by a homophone
``missing_char``        no ID number, the last given-name character missing
``placeholder``         no ID number, the name written as surname + 某 or 氏
======================  =============================================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUTH_FORMAT = "exchange-link-truth/1"

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红梅鑫斌宇浩凯健俊帆帅旭宁龙林欣玲丹晨阳建国文"
         "辉力永兴峰志东海波婷雪琳晶雅怡佳颖慧莉倩悦博翔宏昊然睿瑞子轩梓涵晓航鹏飞云天成亮春燕秋月星雨瑶琪嘉")
TRADITIONAL = {"张": "張", "刘": "劉", "陈": "陳", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳", "周": "週",
               "孙": "孫", "马": "馬", "郑": "鄭", "谢": "謝", "许": "許", "韩": "韓", "冯": "馮", "邓": "鄧",
               "萧": "蕭", "叶": "葉", "苏": "蘇", "吕": "呂", "钟": "鍾", "谭": "譚", "陆": "陸", "贾": "賈",
               "伟": "偉", "丽": "麗", "军": "軍", "洋": "洋", "艳": "艷", "杰": "傑", "娟": "娟", "涛": "濤",
               "华": "華", "红": "紅", "鑫": "鑫", "凯": "凱", "俊": "俊", "帅": "帥", "宁": "寧", "龙": "龍",
               "晨": "晨", "阳": "陽", "建": "建", "国": "國", "辉": "輝", "兴": "興", "峰": "峰", "东": "東",
               "海": "海", "波": "波", "婷": "婷", "雪": "雪", "琳": "琳", "晶": "晶", "雅": "雅", "颖": "穎",
               "莉": "莉", "倩": "倩", "悦": "悅", "博": "博", "翔": "翔", "宏": "宏", "睿": "睿", "轩": "軒",
               "涵": "涵", "晓": "曉", "航": "航", "鹏": "鵬", "飞": "飛", "云": "雲", "天": "天", "成": "成",
               "亮": "亮", "春": "春", "燕": "燕", "秋": "秋", "月": "月", "星": "星", "雨": "雨", "瑶": "瑤",
               "琪": "琪", "嘉": "嘉", "玉": "玉", "萍": "萍", "梅": "梅", "斌": "斌", "宇": "宇", "浩": "浩",
               "静": "靜", "敏": "敏", "强": "強", "磊": "磊", "勇": "勇", "明": "明", "超": "超", "秀": "秀",
               "霞": "霞", "平": "平", "刚": "剛", "桂": "桂", "英": "英", "健": "健", "帆": "帆", "旭": "旭",
               "林": "林", "欣": "欣", "玲": "玲", "丹": "丹", "文": "文", "力": "力", "永": "永", "志": "誌",
               "怡": "怡", "佳": "佳", "慧": "慧", "然": "然", "瑞": "瑞", "子": "子", "梓": "梓"}
HOMOPHONES = {"伟": "玮", "芳": "方", "娜": "纳", "敏": "民", "静": "靖", "丽": "莉", "强": "蔷", "磊": "垒",
              "军": "君", "洋": "阳", "勇": "永", "艳": "燕", "杰": "洁", "娟": "鹃", "涛": "滔", "明": "鸣",
              "超": "潮", "秀": "绣", "霞": "侠", "平": "萍", "刚": "钢", "华": "桦", "玉": "钰", "红": "宏",
              "梅": "玫", "鑫": "新", "斌": "彬", "宇": "雨", "浩": "昊", "凯": "恺", "健": "建", "俊": "骏",
              "帆": "凡", "旭": "绪", "宁": "凝", "龙": "隆", "林": "琳", "欣": "馨", "玲": "铃", "丹": "单",
              "晨": "辰", "阳": "扬", "文": "雯", "辉": "晖", "力": "立", "兴": "星", "峰": "锋", "东": "冬",
              "海": "亥", "波": "博", "婷": "庭", "雪": "学", "琳": "霖", "晶": "京", "雅": "亚", "怡": "宜",
              "佳": "家", "颖": "莹", "慧": "惠", "莉": "丽", "倩": "茜", "悦": "越", "博": "波", "翔": "祥",
              "宏": "红", "昊": "浩", "然": "冉", "睿": "瑞", "瑞": "睿", "子": "紫", "轩": "萱", "梓": "子",
              "涵": "晗", "晓": "小", "航": "杭", "鹏": "朋", "飞": "菲", "云": "芸", "天": "添", "成": "诚",
              "亮": "靓", "春": "椿", "燕": "艳", "秋": "丘", "月": "悦", "星": "兴", "雨": "宇", "瑶": "遥",
              "琪": "琦", "嘉": "佳", "英": "鹰", "桂": "贵", "萍": "平", "志": "智", "永": "勇", "建": "健",
              "国": "果"}
COUNTIES = ("610902", "610921", "610922", "610923", "610924", "610925", "610926", "610927", "610929")
WEIGHTS = (("clean", 0.40), ("id_typo", 0.06), ("id_transposed", 0.05), ("id_legacy15", 0.05),
           ("id_copied", 0.03), ("no_id", 0.10), ("romanised", 0.07), ("traditional", 0.05), ("homophone", 0.07),
           ("missing_char", 0.07), ("placeholder", 0.05))
"""How often each hard case marks a record that is not the police register's (which is always clean)."""
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


@dataclass
class Person:
    key: str
    surname: str
    given: str
    gender: str
    birth: dt.date
    id_number: str
    phone: str | None
    household: str
    address: str
    division: str

    @property
    def name(self) -> str:
        return self.surname + self.given


@dataclass
class Truth:
    records: list[dict[str, Any]] = field(default_factory=list)
    relations: list[tuple[str, str, str]] = field(default_factory=list)

    def write(self, path: Path, *, persons: int, seed: int) -> None:
        path.write_text(json.dumps({"format": TRUTH_FORMAT, "persons": persons, "seed": seed,
                                    "records": self.records, "relations": self.relations},
                                   ensure_ascii=False), encoding="utf-8")


FEEDS: dict[str, dict[str, Any]] = {
    "police.residents": {"target": "person@2", "columns": (
        "source_record_id", "id_number", "name", "gender", "birth_date", "phone", "address", "division_code",
        "household_number")},
    "civil_affairs.members": {"target": "person@2", "columns": (
        "source_record_id", "id_number", "name", "gender", "birth_date", "phone", "address", "division_code",
        "household_number")},
    "police.case_parties": {"target": "case_party@1", "columns": (
        "source_record_id", "case_number", "role", "id_number", "name", "gender", "phone")},
    "justice.disputes": {"target": "dispute@1", "columns": (
        "source_record_id", "dispute_number", "category", "status", "accepted_date", "applicant_name",
        "applicant_id_number", "applicant_phone", "respondent_name", "division_code")},
    "justice.community_correction": {"target": "special_population@1", "columns": (
        "source_record_id", "id_number", "name", "gender", "programme", "managing_unit", "risk_level", "start_date",
        "division_code")},
    "health.mental_health": {"target": "special_population@1", "columns": (
        "source_record_id", "id_number", "name", "gender", "programme", "managing_unit", "risk_level", "start_date",
        "division_code")},
}
ENTITY = {"person@2": ("person", "subject"), "case_party@1": ("case_party", "subject"),
          "dispute@1": ("dispute", "applicant"), "special_population@1": ("special_population", "subject")}


class HardCity:
    """``HardCity(persons, seed).write(folder)`` → the project folder described in the module docstring."""

    def __init__(self, persons: int = 20_000, seed: int = 20261205, *, id_numbers: bool = True) -> None:
        self.n = persons
        self.seed = seed
        self.id_numbers = id_numbers
        """False: every ID-number cell written empty (a warehouse with no labels; the special programmes,
        which require a number, then quarantine their rows)"""
        self.rng = random.Random(seed)
        self.people: list[Person] = []
        self.truth = Truth()
        self._last_id: str | None = None

    # -- the population -------------------------------------------------------------------------------------

    def _id(self, county: str, birth: dt.date, gender: str) -> str:
        seq = self.rng.randrange(1, 500) * 2 + (1 if gender == "M" else 0)  # odd: male (GB 11643); never 000
        first17 = f"{county}{birth:%Y%m%d}{seq:03d}"
        return first17 + check_char(first17)

    def _given(self) -> str:
        return "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2, 2))))

    def _phone(self) -> str:
        return "1" + self.rng.choice("3578") + "".join(self.rng.choice("0123456789") for _ in range(9))

    def _birth(self) -> dt.date:
        return dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 365 * 65))

    def _person(self, key: str, surname: str, given: str, gender: str, birth: dt.date, household: str,
                address: str, division: str, phone: str | None) -> Person:
        p = Person(key, surname, given, gender, birth, self._id(division[:6], birth, gender), phone, household,
                   address, division)
        self.people.append(p)
        return p

    def population(self) -> None:
        rng = self.rng
        h = 0
        while len(self.people) < self.n:
            h += 1
            county = rng.choice(COUNTIES)
            division = f"{county}{rng.randrange(1, 20):03d}{rng.randrange(1, 30):03d}"
            household = f"HH{h:07d}"
            address = f"{rng.choice('东西南北')}街{rng.randrange(1, 300)}号{rng.randrange(1, 30)}单元"
            surname = rng.choice(SURNAMES)
            family_phone = self._phone() if rng.random() < 0.5 else None
            size = rng.choice((1, 2, 2, 3, 3, 4, 5))
            members: list[Person] = []
            for i in range(size):
                gender = rng.choice("MF")
                given = self._given()
                phone = family_phone if family_phone and rng.random() < 0.6 else (self._phone() if rng.random() < 0.8
                                                                                  else None)
                members.append(self._person(f"P{len(self.people):07d}", surname if i == 0 or rng.random() < 0.7
                                            else rng.choice(SURNAMES), given, gender, self._birth(), household,
                                            address, division, phone))
            if rng.random() < 0.03 and len(self.people) < self.n - 1:  # twins: same day, same family, alike names
                first = members[0]
                shared = first.given[:1] or rng.choice(GIVEN)
                a = self._person(f"P{len(self.people):07d}", first.surname, shared + rng.choice(GIVEN), "M",
                                 first.birth, household, address, division, family_phone)
                b = self._person(f"P{len(self.people):07d}", first.surname, shared + rng.choice(GIVEN),
                                 rng.choice("MF"), first.birth, household, address, division, family_phone)
                if a.given == b.given:
                    b.given = shared + rng.choice([c for c in GIVEN if c != a.given[-1]])
                self.truth.relations.append((a.key, b.key, "twins"))
                members += [a, b]
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    self.truth.relations.append((members[x].key, members[y].key, "household"))
        for p in list(self.people[: max(1, self.n // 100)]):  # namesakes: same name, same birth date, elsewhere
            county = rng.choice([c for c in COUNTIES if c != p.division[:6]])
            division = f"{county}{rng.randrange(1, 20):03d}{rng.randrange(1, 30):03d}"
            q = self._person(f"P{len(self.people):07d}", p.surname, p.given, p.gender, p.birth, f"HN{len(self.people)}",
                             f"{rng.choice('东西南北')}街{rng.randrange(300, 600)}号", division, self._phone())
            self.truth.relations.append((p.key, q.key, "namesake"))

    # -- the records ------------------------------------------------------------------------------------------

    def _tag(self) -> str:
        r = self.rng.random()
        for tag, w in WEIGHTS:
            r -= w
            if r < 0:
                return tag
        return "clean"

    def _romanise(self, p: Person) -> str:
        from pypinyin import lazy_pinyin

        sur = "".join(lazy_pinyin(p.surname)).capitalize()
        given = "".join(lazy_pinyin(p.given)).capitalize()
        return f"{sur} {given}" if self.rng.random() < 0.6 else f"{given.upper()} {sur.upper()}"

    def _identity(self, p: Person, tag: str) -> tuple[str | None, str, str, dt.date]:
        """(ID number as written, name as written, gender, birth date) for a record of ``p`` with ``tag``."""
        rng, name, id_number = self.rng, p.name, p.id_number
        if tag == "id_typo":
            i = rng.randrange(0, 17)
            id_number = id_number[:i] + rng.choice([d for d in "0123456789" if d != id_number[i]]) + id_number[i + 1:]
        elif tag == "id_transposed":
            i = rng.choice([k for k in range(16) if id_number[k] != id_number[k + 1]] or [0])
            id_number = id_number[:i] + id_number[i + 1] + id_number[i] + id_number[i + 2:]
        elif tag == "id_legacy15":
            id_number = id_number[:6] + id_number[8:17] if p.birth.year < 2000 else id_number
        elif tag == "id_copied":
            id_number = self._last_id or id_number
        elif tag in ("no_id", "romanised", "traditional", "homophone", "missing_char", "placeholder"):
            id_number = None
            if tag == "romanised":
                name = self._romanise(p)
            elif tag == "traditional":
                name = "".join(TRADITIONAL.get(c, c) for c in name)
            elif tag == "homophone":
                chars = [i for i, c in enumerate(p.given) if c in HOMOPHONES]
                if chars:
                    i = rng.choice(chars)
                    name = p.surname + p.given[:i] + HOMOPHONES[p.given[i]] + p.given[i + 1:]
            elif tag == "missing_char" and len(p.given) == 2:
                name = p.surname + p.given[0]
            elif tag == "placeholder":
                name = p.surname + rng.choice("某氏")
        return id_number, name, p.gender, p.birth

    def records(self) -> dict[str, list[dict[str, Any]]]:
        rng = self.rng
        out: dict[str, list[dict[str, Any]]] = {f: [] for f in FEEDS}
        n = 0

        def add(feed: str, p: Person, tag: str, row: dict[str, Any]) -> None:
            nonlocal n
            n += 1
            rid = f"{feed.split('.')[1][:3].upper()}{n:08d}"
            row = {"source_record_id": rid, **row}
            out[feed].append(row)
            agency = feed.split(".")[0]
            entity, role = ENTITY[FEEDS[feed]["target"]]
            self.truth.records.append({"agency": agency, "entity": entity, "record": rid, "role": role,
                                       "person": p.key, "tag": tag, "feed": feed})

        for p in self.people:  # the police register: every person, as registered
            add("police.residents", p, "register", {
                "id_number": p.id_number, "name": p.name, "gender": p.gender, "birth_date": p.birth.isoformat(),
                "phone": p.phone, "address": p.address, "division_code": p.division, "household_number": p.household})
            self._last_id = p.id_number
        order = list(self.people)
        rng.shuffle(order)
        for p in order:
            if rng.random() < 0.7:
                tag = self._tag()
                id_number, name, gender, birth = self._identity(p, tag)
                add("civil_affairs.members", p, tag, {
                    "id_number": id_number, "name": name, "gender": gender, "birth_date": birth.isoformat(),
                    "phone": p.phone if rng.random() < 0.7 else None, "address": p.address,
                    "division_code": p.division, "household_number": p.household})
                self._last_id = p.id_number
            if rng.random() < 0.10:
                tag = self._tag()
                id_number, name, gender, _birth = self._identity(p, tag)
                add("police.case_parties", p, tag, {
                    "case_number": f"A{rng.randrange(10**7):07d}", "role": rng.choice(("suspect", "victim", "witness")),
                    "id_number": id_number, "name": name, "gender": gender,
                    "phone": p.phone if rng.random() < 0.5 else None})
                self._last_id = p.id_number
            if rng.random() < 0.08:
                tag = self._tag()
                id_number, name, _gender, _birth = self._identity(p, tag)
                add("justice.disputes", p, tag, {
                    "dispute_number": f"TJ{rng.randrange(10**7):07d}",
                    "category": rng.choice(("labour", "neighbourhood", "consumer")),
                    "status": "accepted", "accepted_date": "2026-03-01", "applicant_name": name,
                    "applicant_id_number": id_number, "applicant_phone": p.phone, "respondent_name": "某某有限公司",
                    "division_code": p.division})
                self._last_id = p.id_number
            for feed, programme, unit, share in (("justice.community_correction", "community_correction",
                                                  "司法所", 0.02),
                                                 ("health.mental_health", "severe_mental_disorder", "卫生院", 0.02)):
                if rng.random() < share:
                    tag = self._tag()
                    if tag in ("no_id", "romanised", "traditional", "homophone", "missing_char", "placeholder"):
                        tag = "clean"  # these registers require the ID number
                    id_number, name, gender, _birth = self._identity(p, tag)
                    add(feed, p, tag, {"id_number": id_number, "name": name, "gender": gender,
                                       "programme": programme, "managing_unit": unit, "risk_level": "low",
                                       "start_date": "2025-01-01", "division_code": p.division})
                    self._last_id = p.id_number
        return out

    # -- the project folder -----------------------------------------------------------------------------------

    def write(self, folder: Path, repo: Path) -> Path:
        """Write the project into ``folder`` (schemas copied from ``repo``); return the truth file's path."""
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "schemas").exists():
            shutil.rmtree(folder / "schemas")
        shutil.copytree(repo / "schemas", folder / "schemas")
        self.population()
        data = self.records()
        for feed_id, rows in data.items():
            agency, name = feed_id.split(".")
            spec = FEEDS[feed_id]
            landing = folder / "var" / "landing" / "hard" / agency / name
            landing.mkdir(parents=True, exist_ok=True)
            with (landing / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(spec["columns"]))
                w.writeheader()
                for row in rows:
                    w.writerow({c: ("" if row.get(c) is None or (not self.id_numbers and "id_number" in c)
                                    else row[c]) for c in spec["columns"]})
            feed_dir = folder / "feeds" / agency
            feed_dir.mkdir(parents=True, exist_ok=True)
            mapping = "\n".join(f"  {c}: {c}" for c in spec["columns"])
            (feed_dir / f"{name}.yaml").write_text(
                f"agency: {agency}\nfeed: {name}\ndescription: hard-case city, {feed_id}\nowner: evaluation\n"
                f"schedule: \"@daily\"\nsource:\n  kind: file\n  path: hard/{agency}/{name}/*.csv\n"
                f"target: {spec['target']}\nmapping:\n{mapping}\nquality:\n  max_reject_ratio: 1.0\n",
                encoding="utf-8")
        truth = folder / "link_truth.json"
        self.truth.write(truth, persons=len(self.people), seed=self.seed)
        return truth

    def feeds(self) -> Iterator[str]:
        yield from FEEDS
