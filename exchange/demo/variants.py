"""Variation that is NOT a defect: other spellings of the same value that load after
normalisation (dates, ID numbers, phone numbers) and name typos (a homophone or
look-alike character), as agencies really write them."""

from __future__ import annotations

import datetime
import random

# given-name and surname characters → a homophone or look-alike (all GBK-encodable)
SIMILAR_CHARS: dict[str, str] = dict(zip(
    "伟磊洋勇军杰涛超明刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林欢佳阳亮成建峰晨瑞志兵雷东博坤岩杨文利楠红霞"
    "芳娜敏静秀英丽艳娟燕玲桂丹萍玉兰梅莉婷珍凤晶颖雪慧倩琴云洁柳淑春海冬荣莹琳欣芝香小金瑜花璐强想帅彬宇"
    "王张刘陈黄赵吴周徐孙胡朱高何郭马罗",
    "炜垒扬永君洁滔潮铭钢萍晖朋桦菲欣博彬雨昊恺建骏凡煦凝隆琳焕家扬靓诚健锋辰锐智冰蕾冬波昆炎扬雯丽南宏侠"
    "方纳民婧绣瑛莉燕鹃艳琳贵单平钰岚枚丽亭贞风精影学惠茜勤芸杰留叔椿还东蓉盈林馨枝湘晓今玉华露墙湘率斌雨"
    "汪章柳程皇照伍舟许荪湖诸郜河国玛骆",
    strict=True))

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def full_width_digits(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def spell_date(value: datetime.date, rng: random.Random, share: float) -> str:
    """ISO most of the time; with probability ``share`` 1990年1月2日, 1990/1/2 or 19900102."""
    if rng.random() >= share:
        return value.isoformat()
    style = rng.randrange(3)
    if style == 0:
        return f"{value.year}年{value.month}月{value.day}日"
    if style == 1:
        return f"{value.year}/{value.month}/{value.day}"
    return f"{value:%Y%m%d}"


def spell_resident_id(value: str, rng: random.Random, full_width_share: float) -> str:
    """Lower-case x for half of the numbers ending in X; full-width digits for some."""
    if value.endswith("X") and rng.random() < 0.5:
        value = value[:-1] + "x"
    if rng.random() < full_width_share:
        value = full_width_digits(value)
    return value


def spell_phone(value: str, rng: random.Random, share: float) -> str:
    """'+86 138 0013 8000' or '138-0013-8000' for a share of mobile numbers."""
    if len(value) != 11 or not value.isdigit() or rng.random() >= share:
        return value
    if rng.random() < 0.5:
        return f"+86 {value[:3]} {value[3:7]} {value[7:]}"
    return f"{value[:3]}-{value[3:7]}-{value[7:]}"


def typo(name: str, rng: random.Random) -> str:
    """One character replaced by a similar one (the given name preferred); unchanged if none fits."""
    positions = [i for i in range(len(name) - 1, -1, -1) if name[i] in SIMILAR_CHARS]
    if not positions:
        return name
    i = positions[0] if rng.random() < 0.8 else rng.choice(positions)
    return name[:i] + SIMILAR_CHARS[name[i]] + name[i + 1:]


def maybe_typo(name: str, rng: random.Random, share: float) -> str:
    return typo(name, rng) if rng.random() < share else name
