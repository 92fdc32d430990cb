"""Build a third PII measurement set (tests/data/pii_blind.jsonl), written from the published number formats only.

    python benchmarks/pii_set_blind.py        # rewrites the file; deterministic (fixed seed)

Each line: {"text", "spans": [[start, end, type], ...], "origin"}; type is one of tel, rrn, acc, email.
A span covers the PII value itself: no label words, no Korean particle, no brackets, quotes or spaces around it;
a number written with separators runs from its first digit (or a leading "+") to its last digit; a parenthesised
area code is part of the number ("(02) 123-4567" is masked whole, opening bracket included).
Written without reading the detector (components/corpus/pii.py) or the other two sets, and not used to tune the
detector: it measures how the rules generalise.

Formats used (public descriptions, not any detector's rules):
  tel    010-XXXX-XXXX; 011/016/017/018/019 with a 3- or 4-digit middle; 02-XXX(X)-XXXX; area codes 031-064;
         070; 0502-0508 personal numbers; 15XX/16XX/18XX-XXXX; +82 forms; hyphen, dot, space or no separator.
  rrn    YYMMDD-GXXXXXX, G 1-4 citizens, 5-8 foreign residents. Numbers issued before October 2020 end in a check
         digit (weights 2,3,4,5,6,7,8,9,2,3,4,5; (11 - sum % 11) % 10); numbers issued since then do not, and many
         of those are written without the hyphen, in contexts (forms, rulings, HR, hospital, leases, chat) that
         show what they are.
  acc    published account layouts of Korean banks, mentioned with the bank name.
  email  Korean portals, gmail, company / university / government / association domains.
Look-alike lines (no span) are at least as many as positive lines: dates, times, amounts, order / invoice /
tracking numbers, EAN-13 and ISBN-13, millisecond timestamps, manufacturing serials, business and corporate
registration numbers, car plates, postal codes, coordinates, versions, IP addresses, transaction IDs, masked
numbers, and e-mail look-alikes (image@2x.png, @mentions).
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "pii_blind.jsonl"
SEED = 7319

R = random.Random(SEED)

# --------------------------------------------------------------------------------------------------------------
# small helpers


def dg(n: int, first: str = "0123456789") -> str:
    return R.choice(first) + "".join(R.choice("0123456789") for _ in range(n - 1)) if n else ""


def pick(seq):
    return R.choice(seq)


def wpick(pairs):
    """pairs: [(weight, value), ...]"""
    total = sum(w for w, _ in pairs)
    x = R.uniform(0, total)
    for w, v in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][1]


DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def rand_date(y0: int, y1: int) -> tuple[int, int, int]:
    y = R.randint(y0, y1)
    m = R.randint(1, 12)
    d = R.randint(1, DAYS[m - 1] if m != 2 or y % 4 == 0 else 28)
    return y, m, d


# --------------------------------------------------------------------------------------------------------------
# PII values (each returns a list of segments: plain strings and (value, type) pairs)

def _join(parts, sep):
    return sep.join(parts)


def tel_mobile():
    if R.random() < 0.8:
        parts = ["010", dg(4, "23456789"), dg(4)]
    else:
        parts = [pick(["011", "016", "017", "018", "019"]), dg(pick([3, 4]), "23456789"), dg(4)]
    sep = wpick([(55, "-"), (12, "."), (15, " "), (18, "")])
    return [(_join(parts, sep), "tel")]


AREA = ["031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055", "061", "062", "063",
        "064"]


def tel_land():
    kind = wpick([(40, "02"), (50, "area"), (10, "070")])
    if kind == "02":
        parts = ["02", dg(pick([3, 4]), "23456789"), dg(4)]
    elif kind == "area":
        parts = [pick(AREA), dg(pick([3, 3, 4]), "23456789"), dg(4)]
    else:
        parts = ["070", dg(4, "2345678"), dg(4)]
    sep = wpick([(70, "-"), (10, "."), (12, " "), (8, "")])
    return [(_join(parts, sep), "tel")]


def tel_050():
    parts = ["050" + pick("2345678"), dg(4, "123456789"), dg(4)]
    sep = wpick([(80, "-"), (10, " "), (10, "")])
    return [(_join(parts, sep), "tel")]


REP = ["1588", "1577", "1566", "1544", "1599", "1522", "1533", "1555", "1600", "1644", "1661", "1668", "1670",
       "1688", "1800", "1811", "1833", "1855", "1877", "1899"]


def tel_rep():
    parts = [pick(REP), dg(4)]
    sep = wpick([(80, "-"), (8, " "), (7, "."), (5, "")])
    return [(_join(parts, sep), "tel")]


def tel_intl():
    if R.random() < 0.65:
        a, b, c = "10", dg(4, "23456789"), dg(4)
    else:
        a = pick(["2", "2", "31", "51", "32", "64"])
        b, c = dg(pick([3, 4]) if a == "2" else 3, "23456789"), dg(4)
    form = pick(["+82 {a}-{b}-{c}", "+82-{a}-{b}-{c}", "+82 {a} {b} {c}", "+82{a}{b}{c}", "+82.{a}.{b}.{c}",
                 "+82 {a}-{b}-{c}"])
    return [(form.format(a=a, b=b, c=c), "tel")]


def tel_paren():
    if R.random() < 0.5:
        area, mid = "02", dg(pick([3, 4]), "23456789")
    else:
        area, mid = pick(AREA), dg(3, "23456789")
    gap = pick([" ", "", " "])
    # the span opens with the bracket: masking "(02) 903-8348" whole leaves no stray "(" behind
    return [(f"({area}){gap}{mid}-{dg(4)}", "tel")]


def tel_any():
    return wpick([(45, tel_mobile), (22, tel_land), (6, tel_050), (12, tel_rep), (7, tel_intl),
                  (8, tel_paren)])()


W_RRN = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]


def rrn_check(d12: str) -> int:
    s = sum(int(x) * w for x, w in zip(d12, W_RRN))
    return (11 - s % 11) % 10


def rrn_digits(new: bool) -> str:
    """13 digits. new=True: issued since October 2020 (random tail, check digit deliberately not valid)."""
    if new and R.random() < 0.55:
        y, m, d = rand_date(2020, 2024)          # newborns
    elif new:
        y, m, d = rand_date(1950, 2019)          # number changed or first issued after 2020
    else:
        y, m, d = rand_date(1938, 2019)
    foreign = R.random() < 0.15
    female = R.random() < 0.5
    g = (1 if y < 2000 else 3) + female + (4 if foreign else 0)
    head = f"{y % 100:02d}{m:02d}{d:02d}{g}"
    if new:
        tail = dg(6)
        good = rrn_check(head + tail[:5])
        if int(tail[5]) == good:
            tail = tail[:5] + str((good + R.randint(1, 9)) % 10)
        return head + tail
    body = head + dg(4) + dg(1)
    return body + str(rrn_check(body))


def rrn_fmt(digits: str, style: str) -> str:
    a, b = digits[:6], digits[6:]
    if style == "dash":
        return f"{a}-{b}"
    if style == "plain":
        return digits
    return pick([f"{a} - {b}", f"{a} -{b}", f"{a}- {b}", f"{a} - {b}"])


def rrn_any():
    new = R.random() < 0.5
    style = wpick([(55, "dash"), (30, "plain"), (15, "space")])
    return [(rrn_fmt(rrn_digits(new), style), "rrn")]


def rrn_nu():
    """since-2020 number, no hyphen"""
    return [(rrn_digits(True), "rrn")]


def rrn_nd():
    """since-2020 number, with the hyphen"""
    return [(rrn_fmt(rrn_digits(True), "dash"), "rrn")]


def rrn_od():
    return [(rrn_fmt(rrn_digits(False), pick(["dash", "dash", "plain", "space"])), "rrn")]


# bank -> (display names, layouts); a layout is a tuple of group lengths with an optional fixed prefix
BANKS = {
    "kb": (["KB국민은행", "국민은행", "국민", "KB국민", "kb국민"], [((6, 2, 6), ""), ((3, 2, 4, 3), "")]),
    "shinhan": (["신한은행", "신한", "SHINHAN"], [((3, 3, 6), "110"), ((3, 3, 6), "100"), ((3, 2, 6), "")]),
    "woori": (["우리은행", "우리"], [((4, 3, 6), "1002"), ((4, 3, 6), "1005")]),
    "hana": (["하나은행", "하나", "KEB하나"], [((3, 6, 5), "")]),
    "nh": (["NH농협", "농협", "농협은행", "nh농협"], [((3, 4, 4, 2), "302"), ((3, 4, 4, 2), "301"),
                                              ((3, 4, 4, 2), "352"), ((6, 2, 6), "")]),
    "ibk": (["IBK기업은행", "기업은행", "기업", "IBK"], [((3, 6, 2, 3), "")]),
    "kakao": (["카카오뱅크", "카뱅", "카카오"], [((4, 2, 7), "3333"), ((4, 2, 7), "3355")]),
    "toss": (["토스뱅크", "토스"], [((4, 4, 4), "1000")]),
    "kbank": (["케이뱅크", "K뱅크"], [((3, 3, 6), "100")]),
    "mg": (["새마을금고", "MG새마을금고"], [((4, 4, 4, 1), "9002"), ((4, 4, 4, 1), "9003")]),
    "post": (["우체국", "우체국예금"], [((6, 2, 6), "")]),
    "sc": (["SC제일은행", "SC제일", "제일은행"], [((3, 2, 6), "")]),
    "busan": (["부산은행", "BNK부산은행"], [((3, 4, 4, 2), "")]),
    "daegu": (["대구은행", "iM뱅크"], [((3, 2, 6, 1), "")]),
    "suhyup": (["수협은행", "수협"], [((3, 2, 6), "")]),
    "citi": (["씨티은행", "한국씨티"], [((3, 5, 3), "")]),
}
BANK_W = [("kb", 14), ("shinhan", 13), ("woori", 11), ("hana", 10), ("nh", 12), ("ibk", 7), ("kakao", 11),
          ("toss", 6), ("kbank", 4), ("mg", 4), ("post", 4), ("sc", 2), ("busan", 2), ("daegu", 2), ("suhyup", 1),
          ("citi", 1)]


def _bank(ctx, idx):
    key = "bank" + idx
    if key not in ctx:
        b = wpick([(w, k) for k, w in BANK_W])
        ctx[key] = (b, pick(BANKS[b][0]))
    return ctx[key]


def acc_value(bank: str) -> str:
    groups, prefix = pick(BANKS[bank][1])
    digits = prefix + dg(sum(groups) - len(prefix))
    out, i = [], 0
    for g in groups:
        out.append(digits[i:i + g])
        i += g
    sep = wpick([(86, "-"), (11, ""), (3, " ")])
    return sep.join(out)


SURN = "김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예봉경사부가복태목형피두감음빈동온호범좌"
GIVEN = ["민수", "지영", "서준", "하은", "도윤", "서연", "예준", "지우", "시우", "수아", "주원", "하린", "지호", "윤서",
         "준서", "채원", "건우", "지민", "현우", "유진", "민재", "다은", "우진", "소율", "성민", "은지", "정훈", "미경",
         "영수", "순자", "광호", "경희", "태현", "보람", "상철", "혜진", "동현", "나연", "재석", "말순", "기훈", "수빈"]
ROM_S = ["kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon", "jang", "lim", "han", "oh", "seo", "shin",
         "kwon", "hwang", "ahn", "song", "jeon", "hong", "yu", "ko", "moon", "bae", "baek", "heo", "nam", "noh"]
ROM_G = ["minsu", "jiyoung", "seojun", "haeun", "doyoon", "seoyeon", "yejun", "jiwoo", "siwoo", "sua", "juwon",
         "jiho", "yoonseo", "chaewon", "geonwoo", "jimin", "hyunwoo", "yujin", "minjae", "daeun", "woojin",
         "sungmin", "eunji", "junghoon", "mikyung", "youngsu", "taehyun", "boram", "hyejin", "donghyun", "nayeon"]
WORDS = ["happy", "sky", "blue", "star", "moon", "sunny", "dream", "love", "cool", "angel", "tiger", "bear", "cat",
         "dev", "coding", "runner", "cafe", "books", "music", "travel", "mom", "papa", "jjang", "ssam", "oppa"]
PORTAL = [("naver.com", 30), ("gmail.com", 20), ("daum.net", 9), ("hanmail.net", 10), ("kakao.com", 6),
          ("nate.com", 7), ("hotmail.com", 2)]
ORG = ["hanbit-trade.co.kr", "daehanlogis.co.kr", "mirae-soft.co.kr", "seoulfood.co.kr", "greenenergy.co.kr",
       "hmall.co.kr", "jeil-law.co.kr", "snu.ac.kr", "korea.ac.kr", "yonsei.ac.kr", "kaist.ac.kr", "pusan.ac.kr",
       "jnu.ac.kr", "skku.edu", "mois.go.kr", "seoul.go.kr", "police.go.kr", "nts.go.kr", "gg.go.kr",
       "kisa.or.kr", "redcross.or.kr", "kofac.or.kr", "hospital.or.kr", "cs.mirae-soft.co.kr",
       "mail.hanbit-trade.co.kr", "stu.snu.ac.kr", "korea.kr"]


def email_value(kind: str | None = None) -> str:
    kind = kind or wpick([(62, "portal"), (38, "org")])
    s, g = pick(ROM_S), pick(ROM_G)
    local = wpick([
        (14, lambda: s + g), (12, lambda: f"{s}.{g}"), (10, lambda: f"{g}_{s}"), (12, lambda: g + dg(pick([2, 4]))),
        (8, lambda: f"{pick(WORDS)}{pick(WORDS)}{dg(2)}"), (6, lambda: f"{s}{g}+{pick(['shop', 'news', 'job', 'tax'])}"),
        (7, lambda: f"{g[0]}{s}{dg(2)}"), (6, lambda: f"{s}-{g}"), (6, lambda: f"{pick(WORDS)}_{pick(WORDS)}{dg(3)}"),
        (5, lambda: f"{s}.{g}.{dg(2)}"), (4, lambda: f"{s[0].upper()}{s[1:]}.{g[0].upper()}{g[1:]}"),
        (5, lambda: f"{g}{s[0]}{dg(4, '12')}"), (5, lambda: f"x{dg(2)}{g}_"),
    ])()
    if kind == "portal":
        dom = wpick([(w, d) for d, w in PORTAL])
    else:
        dom = pick(ORG)
        if R.random() < 0.3:
            local = pick(["info", "help", "contact", "hr", "recruit", "admin", "cs", "sales", "press"]) + (
                pick(["", "", "2", "_kr", ".team"]))
    return f"{local}@{dom}"


def email_any():
    return [(email_value(), "email")]


def email_portal():
    return [(email_value("portal"), "email")]


def email_org():
    return [(email_value("org"), "email")]


# --------------------------------------------------------------------------------------------------------------
# filler values (plain text)

def name():
    return pick(SURN[:40]) + pick(GIVEN)


def mname():
    return pick(SURN[:30]) + pick(["○○", "OO", "**", "모씨", "○○씨", "△△"])


def price():
    v = R.choice([R.randint(1, 99) * 1000, R.randint(1, 999) * 10000, R.randint(100, 999999) * 10])
    return f"{v:,}원"


def ymd_dot():
    y, m, d = rand_date(2019, 2025)
    return pick([f"{y}. {m}. {d}.", f"{y}.{m:02d}.{d:02d}", f"{y}년 {m}월 {d}일"])


def ymd_iso():
    y, m, d = rand_date(2019, 2025)
    return f"{y}-{m:02d}-{d:02d}"


def ymd_plain():
    y, m, d = rand_date(2019, 2025)
    return f"{y}{m:02d}{d:02d}"


def hhmm():
    return f"{R.randint(0, 23):02d}:{pick(['00', '10', '15', '20', '30', '40', '45', '50'])}"


CITY = ["서울특별시 강남구 테헤란로", "서울시 마포구 월드컵북로", "경기도 성남시 분당구 판교역로", "부산광역시 해운대구 센텀중앙로",
        "인천광역시 연수구 송도과학로", "대구광역시 수성구 달구벌대로", "광주광역시 북구 첨단과기로", "대전광역시 유성구 대학로",
        "경기도 수원시 영통구 광교로", "제주특별자치도 제주시 첨단로", "충청북도 청주시 상당구 상당로", "전라북도 전주시 완산구 효자로"]


def addr():
    return f"{pick(CITY)} {R.randint(1, 399)}" + pick(["", f", {R.randint(1, 20)}층", f" {R.randint(101, 120)}동 "
                                                                                    f"{R.randint(101, 2504)}호"])


COMPANY = ["(주)한빛물산", "대한로지스(주)", "미래소프트", "서울푸드 주식회사", "(주)그린에너지", "제일법률사무소", "(주)다온테크",
           "하늘여행사", "㈜새솔건설", "온누리약국", "행복부동산", "우리동네세탁소", "(주)케이에스메디칼"]

ITEM = ["아이패드 에어 5세대", "유모차", "캠핑의자 2개", "에어프라이어", "닌텐도 스위치", "자전거", "원목 식탁", "갤럭시 버즈",
        "전기장판", "아기 카시트", "책상 의자", "골프채 세트", "냉장고", "다이슨 청소기", "겨울 패딩", "LP판 묶음"]


def plain(f):
    return lambda ctx, idx: [f()]


# --------------------------------------------------------------------------------------------------------------
# look-alike values (plain text, never PII)

def ean13(prefix="880"):
    body = prefix + dg(12 - len(prefix))
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    return body + str((10 - s % 10) % 10)


def isbn():
    body = pick(["978", "979"]) + "89" + dg(7)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    full = body + str((10 - s % 10) % 10)
    if R.random() < 0.6:
        cut = pick([(3, 5, 9, 12), (3, 5, 8, 12), (3, 5, 10, 12)])
        a, b, c, d = cut
        return f"{full[:a]}-{full[a:b]}-{full[b:c]}-{full[c:d]}-{full[d:]}"
    return full


def ts13():
    return str(R.randint(1_577_836_800_000, 1_767_225_600_000))


def ts10():
    return str(R.randint(1_577_836_800, 1_767_225_600))


def serial13():
    """manufacturing serial: production date YYMMDD, line digit, 6-digit counter (RRN-shaped on purpose)"""
    y, m, d = rand_date(2015, 2025)
    return f"{y % 100:02d}{m:02d}{d:02d}{R.randint(1, 4)}{dg(6)}"


def order13():
    y, m, d = rand_date(2022, 2025)
    return f"{y}{m:02d}{d:02d}{dg(5)}"


def order_n(n):
    return dg(n, "123456789")


def brn():
    d = dg(3, "123456789") + pick(["81", "86", "87", "88", "01", "05", "12", "23", "37"]) + dg(4)
    w = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    s = sum(int(x) * y for x, y in zip(d, w)) + (int(d[8]) * 5) // 10
    d = d + str((10 - s % 10) % 10)
    return f"{d[:3]}-{d[3:5]}-{d[5:]}"


def crn():
    head = pick(["1101", "1301", "1201", "1801", "1701", "2001", "1345", "1311", "1611"]) + pick(
        ["11", "11", "11", "14", "71", "15"])
    body = head + pick("0000012345") + dg(5)
    s = sum(int(c) * (1 if i % 2 == 0 else 2) for i, c in enumerate(body))
    full = body + str((10 - s % 10) % 10)
    return f"{full[:6]}-{full[6:]}"


def plate():
    h = pick("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호배")
    return pick([f"{dg(2, '123456789')}{h} {dg(4, '123456789')}", f"{dg(3, '123456789')}{h} {dg(4, '123456789')}",
                 f"{pick(['서울', '경기', '부산', '인천'])}{dg(2, '123456789')}{h}{dg(4, '123456789')}",
                 f"{dg(3, '123456789')}{h}{dg(4, '123456789')}"])


def postal():
    return pick([dg(5, "0123456"), f"{dg(3, '1234567')}-{dg(3)}"])


def coord():
    return f"{R.uniform(33.1, 38.5):.6f}, {R.uniform(125.0, 129.5):.6f}"


def version():
    return pick([f"v{R.randint(0, 12)}.{R.randint(0, 30)}.{R.randint(0, 99)}", f"{R.randint(10, 14)}.0.{dg(5)}",
                 f"{R.randint(1, 5)}.{R.randint(0, 9)}.{R.randint(0, 9)}-rc{R.randint(1, 4)}",
                 f"{R.randint(2019, 2025)}.{R.randint(1, 12):02d}.{R.randint(1, 28):02d}.{R.randint(1, 9)}"])


def ip():
    return pick([f"192.168.{R.randint(0, 9)}.{R.randint(1, 254)}", f"10.{R.randint(0, 255)}.{R.randint(0, 255)}."
                 f"{R.randint(1, 254)}", f"{R.randint(1, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}."
                 f"{R.randint(1, 254)}"])


def txid():
    return pick([f"{ymd_plain()}{dg(8)}", f"T{ymd_plain()}{dg(6)}", f"{dg(6)}-{dg(2)}-{dg(6)}",
                 f"{dg(3, '123456789')}-{dg(6)}-{dg(5)}", f"{dg(4, '123456789')}-{dg(3)}-{dg(6)}", dg(12, "123456789")])


def mtel():
    a, b, c = pick(["010", "010", "02", "031", "011"]), dg(4, "23456789"), dg(4)
    return pick([f"{a}-****-{c}", f"{a}-{b[:2]}**-{c}", f"{a}-{b}-****", f"{a}****{c}", f"{a}-xxxx-{c}",
                 f"{a}-***-{c}", f"{a}-{b}-**{c[2:]}", f"{a}-●●●●-{c}"])


def mrrn():
    y, m, d = rand_date(1950, 2019)
    head = f"{y % 100:02d}{m:02d}{d:02d}"
    g = str(R.randint(1, 4))
    return pick([f"{head}-{g}******", f"{head}-*******", f"{head}{g}******", f"{head}-{g}xxxxxx",
                 f"{head[:2]}****-{g}******", f"{head}-{g}●●●●●●"])


def macc():
    return pick([f"110-***-{dg(6)}", f"3333-**-***{dg(4)}", "1002-***-******", f"{dg(6)}-**-***{dg(3)}",
                 f"302-****-****-{dg(2)}", f"****-****-{dg(4)}"])


IMGW = ["logo", "icon", "banner", "btn_close", "img_main", "thumb", "profile", "bg_header", "arrow", "ic_menu"]


def imgfile():
    return f"{pick(IMGW)}{pick(['', '_on', '_v2', '-dark'])}@{pick(['2x', '3x', '1.5x'])}.{pick(['png', 'jpg', 'webp'])}"


def mention():
    return "@" + pick([pick(ROM_G), pick(ROM_S) + "_" + pick(WORDS), pick(WORDS) + dg(2), pick(ROM_G) + "." + pick(
        ROM_S)])


def case_no():
    return f"{R.randint(2018, 2025)}{pick(['고단', '고합', '가단', '가합', '나', '노', '도', '드단', '타경'])}{R.randint(100, 99999)}"


def bus():
    return pick(["1588", "1577", "1600", "1644", "9401", "1500", "1100", "1200", "3100", "1650", "1800"])


def hist_year():
    return str(pick([1588, 1592, 1597, 1600, 1636, 1644, 1800, 1811, 1866, 1876, 1894, 1899, 1577, 1544]))


def amount():
    return f"{R.randint(1, 99_999_999):,}"


# --------------------------------------------------------------------------------------------------------------
# placeholders

def P(f):
    return lambda ctx, idx: f()


def fill_bank(ctx, idx):
    return [_bank(ctx, idx)[1]]


def fill_acc(ctx, idx):
    b, _ = _bank(ctx, idx)
    return [(acc_value(b), "acc")]


def fill_name(ctx, idx):
    key = "name" + idx
    if key not in ctx:
        ctx[key] = name()
    return [ctx[key]]


FILL = {
    "tel": P(tel_any), "mob": P(tel_mobile), "land": P(tel_land), "t050": P(tel_050), "rep": P(tel_rep),
    "intl": P(tel_intl), "ptel": P(tel_paren),
    "rrn": P(rrn_any), "rrnnu": P(rrn_nu), "rrnnd": P(rrn_nd), "rrnod": P(rrn_od),
    "bank": fill_bank, "acc": fill_acc,
    "email": P(email_any), "pmail": P(email_portal), "omail": P(email_org),
    "name": fill_name, "mname": P(lambda: [mname()]), "price": P(lambda: [price()]),
    "dot": P(lambda: [ymd_dot()]), "iso": P(lambda: [ymd_iso()]), "ymd": P(lambda: [ymd_plain()]),
    "hhmm": P(lambda: [hhmm()]), "dom": P(lambda: [str(R.randint(1, 28))]),
    "hm12": P(lambda: [f"{R.randint(1, 11)}:{R.randint(0, 59):02d}"]), "addr": P(lambda: [addr()]), "company": P(lambda: [pick(COMPANY)]),
    "item": P(lambda: [pick(ITEM)]), "age": P(lambda: [str(R.randint(19, 78))]), "n": P(lambda: [str(R.randint(2, 98))]),
    "big": P(lambda: [amount()]),
    "ean": P(lambda: [ean13()]), "isbn": P(lambda: [isbn()]), "ts13": P(lambda: [ts13()]),
    "ts10": P(lambda: [ts10()]), "serial": P(lambda: [serial13()]), "ord13": P(lambda: [order13()]),
    "ord10": P(lambda: [order_n(10)]), "ord11": P(lambda: [order_n(11)]), "ord12": P(lambda: [order_n(12)]),
    "brn": P(lambda: [brn()]), "crn": P(lambda: [crn()]), "plate": P(lambda: [plate()]),
    "postal": P(lambda: [postal()]), "coord": P(lambda: [coord()]), "ver": P(lambda: [version()]),
    "ip": P(lambda: [ip()]), "txid": P(lambda: [txid()]), "mtel": P(lambda: [mtel()]), "mrrn": P(lambda: [mrrn()]),
    "macc": P(lambda: [macc()]), "img": P(lambda: [imgfile()]), "mention": P(lambda: [mention()]),
    "case": P(lambda: [case_no()]), "bus": P(lambda: [bus()]), "hyear": P(lambda: [hist_year()]),
    "track4": P(lambda: ["-".join([dg(4, "123456789"), dg(4), dg(4)])]),
    "track13": P(lambda: [dg(13, "123456789")]), "track10": P(lambda: [dg(10, "123456789")]),
    "eanother": P(lambda: [ean13(pick(["880", "880", "400", "490", "690", "501"]))]),
}

# particle after a value: key is the form written in the template (로, 이, 은, 을, 과)
BATCHIM = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ", "9": ""}


def particle(value: str, form: str) -> str:
    last = value[-1]
    if last.isdigit():
        b = BATCHIM[last]
    elif value.endswith("com"):
        b = "ㅁ"
    elif value.endswith("net"):
        b = "ㅅ"
    else:
        b = "ㄹ"      # .kr / .edu read as 알 / 유 -> treat 알
    pairs = {"로": ("으로", "로"), "이": ("이", "가"), "은": ("은", "는"), "을": ("을", "를"), "과": ("과", "와"),
             "이에요": ("이에요", "예요"), "이고": ("이고", "고"), "이랑": ("이랑", "랑")}
    if form == "로":
        return "로" if b in ("", "ㄹ") else "으로"
    with_b, without = pairs[form]
    return with_b if b else without


PH = re.compile(r"\{\{|\}\}|\{([a-z0-9]+)()(?::([^}]+))?\}")


def render(tpl: str) -> tuple[str, list[list]]:
    ctx: dict = {}
    segs: list = []
    pos = 0
    for m in PH.finditer(tpl):
        segs.append(tpl[pos:m.start()])
        pos = m.end()
        if m.group(0) in ("{{", "}}"):
            segs.append(m.group(0)[0])
            continue
        key, idx, part = m.group(1), m.group(2), m.group(3)
        if key not in FILL and key[-1].isdigit():
            key, idx = key[:-1], key[-1]
        out = FILL[key](ctx, idx or "")
        segs.extend(out)
        if part:
            last = out[-1]
            segs.append(particle(last[0] if isinstance(last, tuple) else last, part))
    segs.append(tpl[pos:])
    text, spans = "", []
    for s in segs:
        if isinstance(s, tuple):
            spans.append([len(text), len(text) + len(s[0]), s[1]])
            text += s[0]
        else:
            text += s
    return text, spans


# --------------------------------------------------------------------------------------------------------------
# positive templates by style

POS = {}

POS["news-fraud"] = [
    "경찰에 따르면 이들은 검찰 수사관을 사칭해 피해자 {name}씨에게 \"{bank} {acc} 계좌가 범죄에 연루됐다\"며 {price}을 송금하게 했다.",
    "[단독] 보이스피싱 조직, 대포통장 {bank} {acc} 등 37개 계좌로 {big}원 세탁",
    "금융감독원은 {dot} '{bank} {acc}(예금주 {mname})' 계좌를 사기이용계좌로 지급정지했다고 밝혔다.",
    "피해자들이 공개한 문자에는 '{mob}로 전화 달라'는 내용과 함께 가짜 링크가 담겨 있었다.",
    "해당 업체는 고객센터 번호로 {rep}을 안내했지만 실제로는 {t050}로 연결되는 중계 번호였다.",
    "경찰은 범행에 쓰인 대포폰 {mob}과 {mob} 등 휴대전화 14대를 압수했다.",
    "수사 결과 일당은 중고거래 사이트에 \"입금은 {bank} {acc}로 해달라\"는 글을 올려 {n}명에게서 {price}을 받아 챙긴 것으로 드러났다.",
    "○○카드 고객 {big}명의 정보가 유출됐으며, 샘플로 공개된 파일에는 '{name}, {rrn}, {mob}' 형태의 행이 포함됐다.",
    "유출 자료 일부: 이름 {name} / 주민번호 {rrn} / 연락처 {tel} / 이메일 {email}",
    "해커 포럼에 올라온 게시물에는 {pmail}, {pmail}, {pmail} 등 국내 포털 계정 약 {big}건이 있었다.",
    "제보는 {omail} 또는 {land}로 받습니다. (기사 제보: {pmail})",
    "취재진이 확인한 악성 앱은 설치 직후 연락처를 {intl} 번호로 전송하도록 설계돼 있었다.",
    "검찰은 공소장에서 피의자가 {dot}부터 자신 명의의 {bank} 계좌({acc})를 범행 자금 관리에 사용했다고 적시했다.",
    "피해 신고는 경찰청 {rep} 또는 금융감독원 {rep:로} 하면 된다.",
    "문제의 메일 발신 주소는 {omail:을} 흉내 낸 가짜 계정이었다.",
    "사기범이 알려준 {bank} {acc}는 {name}씨 명의로 개설된 지 사흘 만에 {price}이 입금된 계좌였다.",
    "(서울=뉴스) {name} 기자 = 경찰이 공개한 전단에는 \"대출 상담 {t050}, 카톡 문의 가능\"이라는 문구가 적혀 있었다. {pmail}",
    "조직원 휴대전화에서는 피해자 명단과 함께 주민등록번호 {rrnnu} 등 {n}명의 인적 사항이 적힌 메모가 발견됐다.",
]

POS["court"] = [
    "피고인 {mname}(주민등록번호 {rrn}, 주거 {addr})은 {dot} 피해자에게 전화를 걸어 금원을 편취하였다.",
    "피고인 {name} ({rrnnu}), 무직, 주거 {addr}, 등록기준지 같은 곳",
    "원고 {name}(주민등록번호: {rrnnu})\n주소 {addr}\n소송대리인 변호사 {name2}",
    "채무자 {name} ({rrnnd})\n주소 {addr}\n전화 {mob}",
    "피고인은 {dot}경 피해자 명의의 {bank} 계좌({acc})에서 {price}을 자신의 계좌로 이체하였다.",
    "[별지] 범죄일람표\n순번 1, 일시 {dot}, 피해자 {mname}, 입금계좌 {bank} {acc}, 금액 {price}",
    "피고인은 대포통장인 {bank} {acc} 계좌의 접근매체를 성명불상자에게 양도하였다.",
    "판결 피고인 {mname}({rrnnu}) 죄명 사기, 전자금융거래법위반 사건 {case} 검사 {name}",
    "피해자 {name}의 휴대전화({mob})로 '엄마 나 폰 고장났어'라는 문자를 보내 {price}을 송금받았다.",
    "신청인 {name}\n    주민등록번호 {rrn}\n    주소 {addr}\n    연락처 {mob}, 전자우편 {pmail}",
    "증거: 증인 {name}의 법정진술, {bank} 거래내역(계좌번호 {acc}), 통화내역(발신번호 {tel})",
    "피의자는 공범으로부터 건네받은 {mob} 번호의 휴대전화를 이용하여 피해자들에게 연락하였다.",
    "보정명령: 피고 {name}의 주민등록번호({rrnnu})를 확인할 수 있는 자료를 제출할 것",
    "제3채무자 {bank} (송달장소: {addr})\n채무자 {name}({rrnnu}) 명의 예금계좌 {acc}에 대한 압류",
    "위 사람(주민등록번호 {rrnnd})에 대한 {case} 사건에 관하여 다음과 같이 결정한다.",
    "피해자 {mname}은 {dot} 피고인이 알려준 {bank} {acc} 계좌로 계약금 {price}을 입금하였다.",
    "소외 {name}({rrnnu})의 진술에 의하면 피고인은 범행 당시 {ptel} 번호의 사무실 전화를 사용하였다.",
    "고소인 {name} (연락처 {mob}, 이메일 {email})은 피고소인을 사기 혐의로 고소합니다.",
]

POS["notice"] = [
    "[관리사무소 안내] 엘리베이터 교체 공사 관련 문의는 관리사무소 {land} (야간 {mob})로 연락 바랍니다.",
    "○○아파트 입주자대표회의\n관리비 납부계좌: {bank} {acc} (예금주: ○○아파트관리사무소)\n문의: {land}",
    "주차 스티커 미부착 차량은 견인됩니다. 문의 {land}, 경비실 {land}",
    "알뜰장터 신청: {dot}까지 부녀회장 {name} ({mob:로}) 문자 주세요.",
    "단지 내 분실물(지갑) 보관 중입니다. 찾으실 분은 관리실 {ptel}로 연락 주세요.",
    "동대표 선거 후보자 등록 서류는 {omail} 또는 관리사무소 팩스 {land:로} 제출하시기 바랍니다.",
    "[공지] 정화조 청소 {dot} {hhmm}~ / 업체 담당 {mob} / 관리사무소 {land}",
    "경로당 후원금 계좌 안내: {bank} {acc} 예금주 ○○경로당. 따뜻한 관심 감사합니다.",
    "인터넷 설치 기사님 연락처 {rep}, 고장 접수는 {t050}입니다.",
    "택배 보관함 관련 민원은 {land} 또는 {pmail:로} 보내주세요.",
]

POS["market"] = [
    "{item} 팝니다. 직거래는 {addr} 근처, 택배 가능. 연락 {mob}",
    "상태 좋아요~ 네고 사절. 입금 {bank} {acc} {name} 확인되면 바로 보내드립니다",
    "{item} 나눔합니다!! 문자만 받아요 {mob}",
    "판매완료되면 글 내릴게요 / {price} / 카톡 안 하시면 {mob:로} 연락주세요",
    "구매 원하시면 {bank}{acc} 선입금 후 배송됩니다^^ 예금주 {name}",
    "사기꾼 조심하세요!!! {mob} 이 번호로 연락오는 사람 {bank} {acc:로} 입금 유도함",
    "[삽니다] {item} 구해요. 연락처 {mob} / {pmail}",
    "직거래 어려우시면 반값택배 가능해요. 입금은 {bank} {acc}(예금주 {name})",
    "{item} {price}에 팔아요 급처 ㅠ 연락은 {mob}",
    "제품 문의 {pmail:로} 메일 주시거나 {mob:로} 문자주세요. 전화는 못 받아요",
    "거래 장소 역 2번출구, 늦으면 {mob}으로 연락. 계좌는 {bank} {acc}",
    "당근 채팅이 안 돼서 여기 남겨요. {mob} 이쪽으로 문자주세요~",
]

POS["chat"] = [
    "ㅇㅇ 내 주민번호 {rrnnu} 이거 맞지? 서류에 써야돼서",
    "야 나 번호 바꿈 {mob} 저장해놔",
    "엄마 나 {bank} {acc}로 30만원만 보내줘 ㅠㅠ",
    "오빠 계좌번호 {bank} {acc} 맞아?? 돈 보낼게",
    "[오후 {hm12}] {name}: 회비 {bank} {acc:로} 보내주세여\n[오후 {hm12}] {name2}: 넹넹",
    "ㄴㄴ 메일은 {pmail} 여기로 보내 회사메일 말고",
    "주민번호 앞자리만 알려달래서 보냈는데 뒤에까지 달래ㅋㅋ {rrnnu} 이거 보내도되나",
    "아 내 폰 고장나서 이번호로 연락줘 {mob}",
    "혹시 {name} 번호 아는사람? {mob} 이거 맞나",
    "동생 주민번호 {rrnnu}이고 생년월일 맞게 써야됨",
    "우리 애기 주민번호 나왔어ㅎㅎ {rrnnu} 보험 가입할때 필요하대",
    "{pmail} 이걸로 초대 보내줘 구글 아니고 그거로",
    "ㅋㅋㅋ 그 사람 번호 {mob} 차단해 스팸임",
    "계좌 불러줄게 {bank} {acc} 예금주 {name}",
    "ㅇㅋ 입금햇어 {bank}{acc} 여기 맞지??",
    "나 지금 회사 {land:이에요}? 아니 내선말고 직통",
    "자기야 내 주민번호 {rrnnu}로 예약해줘 ㅎ",
    "{name}아 너 주민번호 {rrnnd} 맞냐 보험 청구하는데",
    "폰번 {mob} 메일 {pmail} 이거 둘다 써놈",
    "배민 영수증 번호 말고 내 번호는 {mob}",
    "아빠 주민번호 {rrnnu} 엄마는 {rrnnu} 맞지?",
    "모임통장 {bank} {acc} 여기로 다들 2만원씩 ㄱㄱ",
]

POS["support"] = [
    "상담원: 본인 확인을 위해 주민등록번호 13자리 말씀해 주시겠어요?\n고객: {rrnnu}이요.\n상담원: 확인 감사합니다.",
    "고객: 환불은 {bank} {acc} 계좌로 부탁드려요. 예금주는 {name}입니다.",
    "상담원: 회신 받으실 번호가 {mob} 맞으실까요?\n고객: 네 맞아요.",
    "[채팅상담] 고객님, 영수증은 {pmail:로} 발송해 드렸습니다.",
    "고객: 아이디 찾기 하려는데 가입 이메일이 {pmail} 이었던 것 같아요.",
    "상담 요약: 고객 {name} / 연락처 {tel} / 환불계좌 {bank} {acc} / 처리 예정일 {dot}",
    "상담원: 추가 문의는 {rep} 또는 {omail:로} 주시면 됩니다.",
    "고객: 제 번호 {mob}인데 문자가 안 와요. 주민번호는 {rrn}입니다.",
    "ARS 기록: 발신 {mob}, 인입 {hhmm}, 콜백 요청 번호 {land}",
    "상담원: 해외에서 거셨네요. 회신 번호 {intl} 맞습니까?",
    "고객: 아 {bank}요. {acc} 요. 하이픈 빼고 말씀드릴까요?",
]

POS["csv"] = [
    "이름,연락처,이메일,가입일\n{name},{mob},{pmail},{iso}\n{name2},{mob},{email},{iso}",
    "name,phone,email\n{name},{tel},{email}",
    "성명,주민등록번호,주소\n{name},{rrnnu},{addr}",
    "\"{name}\",\"{rrn}\",\"{mob}\",\"{iso}\"",
    "no,bank,account,holder\n1,{bank},{acc},{name}\n2,{bank2},{acc2},{name2}",
    "{n},{name},{rrnnu},{mob},정규직,{iso}",
    "사번\t성명\t연락처\t메일\n{ord10}\t{name}\t{mob}\t{omail}",
    "{iso},{name},{bank},{acc},\"{price}\",환불",
    "email;name;newsletter\n{pmail};{name};Y\n{pmail};{name2};N",
    "id|name|rrn|tel\n{n}|{name}|{rrnnu}|{tel}",
]

POS["json"] = [
    "{{\"name\": \"{name}\", \"phone\": \"{mob}\", \"email\": \"{email}\"}}",
    "{{\"user\": {{\"id\": {n}, \"rrn\": \"{rrnnu}\", \"tel\": \"{tel}\"}}}}",
    "{{\"refund\": {{\"bank\": \"{bank}\", \"account\": \"{acc}\", \"holder\": \"{name}\"}}, \"amount\": {n}000}}",
    "{{\"contact\":\"{mob}\",\"mail\":\"{pmail}\",\"created_at\":\"{iso}\"}}",
    "[{{\"emp\":\"{name}\",\"jumin\":\"{rrnnu}\"}},{{\"emp\":\"{name2}\",\"jumin\":\"{rrnnu}\"}}]",
    "{{\"patient\": \"{name}\", \"resident_no\": \"{rrn}\", \"guardian_tel\": \"{mob}\"}}",
    "{{\"from\": \"{email}\", \"to\": [\"{omail}\"], \"subject\": \"견적 문의\"}}",
    "{{\"store\":\"{company}\",\"tel\":\"{land}\",\"fax\":\"{land}\",\"lat\":37.5,\"lng\":127.0}}",
    "log: {{\"event\":\"signup\",\"phone\":\"{mob}\",\"ts\":{ts13}}}",
]

POS["html"] = [
    "회사소개 | 오시는 길 | 고객센터 상호: {company} 대표: {name} 사업자등록번호: {brn} TEL: {land} FAX: {land} E-mail: {omail} Copyright © {company}. All rights reserved.",
    "고객센터 {rep} 평일 09:00~18:00 (점심 12:00~13:00) 주말·공휴일 휴무 | 제휴문의 {omail}",
    "홈 > 커뮤니티 > 자유게시판 작성자 {name} 조회 {n} 연락처: {mob} 메일: {pmail} 목록 | 답글",
    "찾아오시는 길 주소 {addr} 대표전화 {ptel} 팩스 {ptel} 이메일 {omail}",
    "입점 문의 {mob} ㆍ 개인정보관리책임자 {name} ({omail}) ㆍ 통신판매업신고 제{n}호",
    "무통장입금 안내 {bank} {acc} 예금주 {company} 주문 후 3일 이내 미입금 시 자동 취소됩니다.",
    "Contact Us Phone {intl} Email {omail} Address {addr}",
    "[PC버전] [로그인] 상담전화 {rep} · {land} 카카오톡 채널 @{company} 문의메일 {omail}",
]

POS["form"] = [
    "성명: {name}\n주민등록번호: {rrnnu}\n주소: {addr}\n연락처: {mob}",
    "신청인 성명 {name} 주민등록번호 {rrnnu} 전화번호 {tel} 전자우편 {pmail}",
    "■ 전입신고서\n세대주 성명 {name} 주민등록번호 {rrn}\n전입자 {name2} 주민등록번호 {rrnnu}",
    "[출생신고서] 자녀 성명: {name} / 주민등록번호: {rrnnu} / 부 {name2} / 모 {name3}",
    "위임인 {name} (주민등록번호 {rrnnu}) 은 아래 사람에게 위 권한을 위임합니다. 수임인 {name2} ({rrnnd})",
    "보조금 지급 계좌: {bank} {acc} (본인 명의 계좌만 가능)\n신청인 연락처: {mob}",
    "외국인등록번호 {rrnnu} 성명 {name} 국적 베트남 체류자격 E-9",
    "민원인: {name} / 생년월일 {dot} / 주민번호 {rrnnu} / 휴대폰 {mob}",
    "개인정보 수집 동의서\n성명 {name}  주민등록번호 {rrnnd}\n연락처 {mob}  이메일 {email}",
    "장학금 신청서\n학생 {name} ({rrnnu})\n학교 이메일 {omail}\n입금계좌 {bank} {acc}",
    "기초연금 신청서 | 신청인 {name} | 주민등록번호 {rrn} | 배우자 {name2} {rrnnu} | 연락처 {land}",
    "납세자: {name}  주민(법인)등록번호: {rrnnu}  사업장 전화: {land}",
    "재난지원금 신청 확인증\n접수번호 {ord10}\n성명 {name}\n주민등록번호 {rrnnu}\n지급계좌 {bank} {acc}",
]

POS["resume"] = [
    "이 력 서\n성명 {name} (한자 ○○○)\n주민등록번호 {rrnnu}\n휴대폰 {mob}\n이메일 {pmail}\n주소 {addr}",
    "{name} | 백엔드 개발자 | {mob} | {pmail} | github.com/dev{n}",
    "[지원자 정보] 이름: {name}, 연락처: {mob}, E-mail: {email}, 희망연봉: 회사 내규",
    "경력기술서\n{company} ({iso} ~ {iso}) 담당: 정산 시스템\n연락처 {tel} / {pmail}",
    "PROFILE  Name {name}  Phone {intl}  Mail {pmail}",
    "자기소개서 제출: {omail} (파일명: 이력서_{name}.pdf) 지원자 연락처 {mob}",
    "인적사항 성 명 : {name} 생년월일 : {dot} 주민등록번호 : {rrnnu} 연 락 처 : {mob}",
]

POS["sms"] = [
    "[Web발신]\n[국외발신] 고객님 해외결제 {price} 승인. 본인 아닐 시 {land} 로 신고",
    "[Web발신] 엄마 나 폰 액정 깨져서 임시폰이야 {mob}로 문자줘",
    "[국제발신] 택배 주소지 불일치로 보관 중입니다. 확인: {intl}",
    "[Web발신] (광고) 최저금리 대출 승인! 상담 {t050} 무료거부는 '거부' 회신",
    "[Web발신] 검찰청입니다. 귀하 명의 {bank} {acc} 계좌가 범죄에 이용되어 연락 바랍니다 {land}",
    "[Web발신] 정부지원금 대상자입니다. 신청은 {rep}",
    "고객님 {bank} 계좌({acc})가 일시 정지되었습니다. 해제 문의 {mob}",
    "[Web발신] 아들 폰 고장나서 이걸로 보냄 수리비 {price} {bank} {acc}로 보내줘",
    "(광고) {company} 봄맞이 할인 {dot}까지 주문문의 {rep} 수신거부 {t050}",
    "[국외발신] 귀하의 계정이 차단됩니다. 본인확인 {intl} / {pmail}",
    "[Web발신] 부고 {name}님 모친상 빈소 ○○병원 장례식장 {ptel} 조의금 {bank} {acc}",
]

POS["hr"] = [
    "[인사기록카드] 사번 {ord10} 성명 {name} 주민등록번호 {rrnnu} 입사일 {iso} 급여계좌 {bank} {acc}",
    "4대보험 취득신고 대상자: {name}({rrnnu}), {name2}({rrnnu}), {name3}({rrnnd})",
    "급여이체 명단\n{name} {bank} {acc} {price}\n{name2} {bank2} {acc2} {price}",
    "신규 입사자 {name}님 연락처 {mob}, 사내메일 {omail} 발급 완료",
    "원천징수영수증 소득자 성명 {name} 주민등록번호 {rrnnu} 근무처 {company}",
    "퇴직자 {name} 퇴직금 지급계좌 {bank} {acc} (본인 확인 완료) 연락처 {mob}",
    "근로계약서 근로자 성명: {name} 주민등록번호: {rrnnu} 주소: {addr} 연락처: {mob}",
]

POS["hospital"] = [
    "[초진 접수] 환자명 {name} / 주민번호 {rrnnu} / 보호자 {name2} {mob}",
    "입원약정서 환자 {name} 주민등록번호 {rrnnu} 보호자 연락처 {tel}",
    "소아청소년과 예진표 아이 이름: {name} 주민등록번호: {rrnnu} 체중 {n}kg 엄마 연락처 {mob}",
    "진료비 환불 계좌 {bank} {acc} 예금주 {name} (환자 본인)",
    "검사결과 안내는 {mob:로} 문자 발송, 결과지 PDF는 {pmail:로} 발송 요청",
    "응급실 접수: 성명 미상 → 확인 후 {name}, 주민번호 {rrnnu}, 연락처 {mob}",
    "외국인 환자 {name} 외국인등록번호 {rrnnu} 통역 요청 연락처 {intl}",
]

POS["lease"] = [
    "임대인 성명 {name} 주민등록번호 {rrnnu} 주소 {addr} 전화 {mob}\n임차인 성명 {name2} 주민등록번호 {rrnnu}",
    "보증금 입금계좌: {bank} {acc} (예금주 임대인 {name})",
    "제8조 차임은 매월 {dom}일 임대인 계좌({bank} {acc})로 지급한다.",
    "공인중개사 {company} 대표 {name} 등록번호 제{n}호 전화 {land} 휴대폰 {mob}",
    "[전세계약서] 임차인 {name} ({rrnnu}) 연락처 {mob} / 임대인 {name2} ({rrnnd}) 연락처 {mob}",
    "계약금 {price}은 {dot} {bank} {acc:로} 송금함. 예금주 {name}",
]

POS["multi"] = [
    "[거래처 정보]\n상호: {company}\n담당자: {name} 과장\n전화: {land}\n휴대폰: {mob}\n메일: {omail}\n입금계좌: {bank} {acc}",
    "회의록 {dot}\n참석: {name}({omail}), {name2}({pmail})\n다음 회의 연락: {mob}",
    "보내는 분: {name} {mob}\n받는 분: {name2} {mob}\n주소: {addr}\n우편번호 {postal}",
    "동창회 회비 안내\n총무 {name} {mob}\n계좌 {bank} {acc}\n문의 메일 {pmail}\n{price}씩 {dot}까지",
    "행사 담당자 연락처\n- 총괄 {name} {mob} / {omail}\n- 접수 {name2} {land}\n- 현장 {name3} {mob}",
    "[명함] {company}\n{name} 대리\nT. {land}  F. {land}\nM. {mob}\nE. {omail}",
    "상속 관련 서류\n망인 {name} ({rrnod})\n상속인 {name2} ({rrnnu}), {name3} ({rrnnu})\n예금 {bank} {acc}",
    "출장비 정산\n성명 {name}\n지급계좌 {bank} {acc}\n연락처 {mob}\n영수증 스캔본은 {omail:로} 제출",
]

POS["misc"] = [
    "연락처:{mob}",
    "Tel.{land} / Fax.{land}",
    "문의☎{rep}",
    "번호는{mob}입니다",
    "Email:{email}",
    "E-mail : {email}.",
    "<{pmail}>",
    "메일주소({pmail})로 보내주세요",
    "주민번호:{rrnnu}",
    "주민등록번호 ({rrnnd})",
    "계좌번호:{bank}{acc}",
    "☎ {ptel}",
    "휴대전화 : {mob}, 자택 : {land}",
    "mailto:{omail}",
    "\"{pmail}\"",
    "H.P {mob} E. {email}",
    "{tel}",
    "{pmail}",
]

POS_COUNTS = {"news-fraud": 85, "court": 95, "notice": 50, "market": 80, "chat": 115, "support": 70, "csv": 55,
              "json": 55, "html": 50, "form": 90, "resume": 45, "sms": 60, "hr": 45, "hospital": 45, "lease": 40,
              "multi": 55, "misc": 40}

# --------------------------------------------------------------------------------------------------------------
# look-alike templates (no span): key -> templates; origin is "lookalike-" + key

NEG = {}

NEG["date"] = [
    "접수기간: {iso} ~ {iso} (마감일 {hhmm}까지)",
    "작성일 {dot} 수정일 {dot}",
    "파일명: 회의록_{ymd}_최종.docx",
    "{ymd} 기준 누적 확진자 {big}명",
    "[{iso} {hhmm}:12] INFO batch started",
    "개봉일 {dot} / 유통기한 {ymd}",
    "정산 주기 {ymd}-{ymd}",
    "보고서 기준일 {dot}, 다음 갱신 예정 {iso}",
    "시험일정 {dot} {hhmm} ~ {hhmm}, 성적 발표 {iso}",
    "{ymd}{ymd} 기간 데이터",
]
NEG["time"] = [
    "영업시간 {hhmm}~{hhmm} (브레이크타임 {hhmm}-{hhmm})",
    "첫차 05:30, 막차 23:50, 배차간격 8~12분",
    "기록 2:05:33 (구간 1:02:10 / 1:03:23)",
    "상영시간 {hhmm} | {hhmm} | {hhmm}",
    "런타임 01:58:42, 재생 00:12:05 지점",
]
NEG["price"] = [
    "판매가 {price} → 할인가 {price} (배송비 3,000원)",
    "총 결제금액 {big}원 / 포인트 {n},000P 사용",
    "2024년 예산 {big},000천원 중 집행액 {big},000천원",
    "월세 {n}만원 보증금 {n}00만원 관리비 별도",
    "시가총액 {big}억원, 거래량 {big}주",
    "합계 ₩{big} (VAT 포함)",
    "연봉 {n},000만원~{n},000만원 협의",
]
NEG["bus"] = [
    "광역버스 {bus}번 정류장이 이전됩니다.",
    "{hyear}년 조선에서는 대동법이 시행되기 전이었다.",
    "{hyear}년대 유럽의 인구는 급격히 늘었다.",
    "{bus}번 버스 타고 종점에서 내리면 돼",
    "매장 수 {bus}개 돌파, 회원 수 {big}명",
    "서기 {hyear}년, 선조 재위 시기의 기록이다.",
    "{bus}m 고지 정상까지 왕복 5시간",
    "올해 신입생 {bus}명, 졸업생 {bus}명",
]
NEG["order"] = [
    "주문번호 {ord10} 상품이 출고되었습니다.",
    "인보이스 No. {ord11} / 발행일 {iso}",
    "예약번호 {ord10} 확인되었습니다. 체크인 {hhmm}",
    "주문번호: {ord13} (결제완료)",
    "고객번호 {ord11} 님의 {dot} 청구서",
    "접수번호 {ord12} 으로 조회하세요.",
    "쿠폰 코드 {ord10}-{ord10}",
    "회원번호 {ord10} / 등급 VIP",
    "[주문내역] {ord13} {item} 1개 {price}",
]
NEG["tracking"] = [
    "CJ대한통운 운송장번호 {track4} 배송중",
    "우체국택배 등기번호 {track13} 도착 예정 {dot}",
    "한진택배 {ord12} 집하 완료",
    "송장번호: {track10} (롯데택배)",
    "운송장 {track4} 배송완료 - 문 앞",
    "택배 조회 {track13} 간선상차",
    "로젠택배 송장 {ord11}",
]
NEG["barcode"] = [
    "바코드 {ean} 제품명 {item}",
    "상품코드(EAN) {ean} / 입수 24",
    "{ean}\t새우깡 90g\t1,500",
    "GTIN-13: {eanother}",
    "POS 스캔 {ean} 가격 {price}",
    "품목 바코드 {ean}, {ean}, {ean}",
    "유통표준코드 {ean} 규격 500ml",
]
NEG["isbn"] = [
    "ISBN {isbn} | 정가 {price}",
    "도서정보: 출판사 ○○북스, ISBN-13 {isbn}, 쪽수 {n}2",
    "참고문헌: {name}, 『한국사 입문』, 서울: 역사출판, {hyear}. (ISBN {isbn})",
    "isbn={isbn}&page=2",
]
NEG["timestamp"] = [
    "{{\"created_at\": {ts13}, \"updated_at\": {ts13}}}",
    "ts={ts13}&sig=ab12",
    "last_login_ms: {ts13}",
    "epoch {ts10} -> {iso}",
    "?_={ts13}",
    "[{ts13}] worker-3 heartbeat ok",
]
NEG["serial"] = [
    "제조번호 {serial} / 제조일자 {dot}",
    "S/N {serial}",
    "시리얼넘버: {serial} (정품 등록 완료)",
    "로트번호 {serial} 제품 자진 회수 안내",
    "모델명 WM-{n}00 제조번호 {serial} 보증기간 1년",
    "LOT {serial}, EXP {ymd}",
]
NEG["brn"] = [
    "사업자등록번호 {brn} 대표 {name}",
    "상호 {company} | 사업자번호 {brn} | 통신판매업신고 제{n}-서울강남-{n}호",
    "공급자 등록번호 {brn} 공급받는자 등록번호 {brn}",
    "세금계산서 발행: {brn} {company}",
]
NEG["crn"] = [
    "법인등록번호 {crn} 상호 {company}",
    "법인등록번호: {crn} / 사업자등록번호: {brn}",
    "등기사항전부증명서 등기번호 {n}0{n} 법인등록번호 {crn}",
    "법인(등록)번호 {crn} 본점 {addr}",
]
NEG["plate"] = [
    "차량번호 {plate} 견인 예정",
    "{plate} 차주분 차 빼주세요",
    "블랙박스 영상 속 {plate} 차량을 찾습니다",
    "방문차량 {plate} 등록 완료 ({dot})",
]
NEG["postal"] = [
    "우편번호 {postal}",
    "(우){postal} {addr}",
    "[{postal}] {addr}",
]
NEG["coord"] = [
    "위치 {coord}",
    "GPS: {coord} 고도 {n}m",
    "lat,lng = {coord}",
]
NEG["score"] = [
    "최종 스코어 {n}-{n}, 세트스코어 3-2",
    "평점 4.{n}점 (리뷰 {big}개)",
    "토익 9{n}5점, 오픽 IH",
    "타율 .3{n}, 홈런 {n}개, 타점 {n}",
    "국어 9{n} 수학 8{n} 영어 1등급",
]
NEG["version"] = [
    "앱 버전 {ver} 업데이트 안내",
    "requirements: numpy {ver}, pandas {ver}",
    "펌웨어 {ver} 배포 ({iso})",
    "Windows 10 빌드 {ver}",
]
NEG["ip"] = [
    "접속 IP {ip} 차단됨",
    "server: {ip}:8080",
    "{ip} - - [{dot}] \"GET / HTTP/1.1\" 200",
    "게이트웨이 {ip} 서브넷 255.255.255.0",
]
NEG["txid"] = [
    "거래번호 {txid} 결제 승인",
    "이체 거래고유번호 {txid} (처리완료)",
    "승인번호 {ord10} 카드 결제 {price}",
    "PG 거래ID {txid} / 주문 {ord10}",
    "입금 확인되었습니다. 거래번호: {txid}",
    "환불 처리번호 {txid} 영업일 3일 소요",
]
NEG["masked"] = [
    "연락처 {mtel} 님이 문의를 남겼습니다.",
    "주민등록번호 {mrrn} (뒷자리 마스킹)",
    "환불계좌 {macc} 로 입금 예정",
    "당첨자: 김*수 ({mtel}), 이*영 ({mtel})",
    "본인인증 완료: {mrrn} / {mtel}",
    "예금주 홍*동 계좌 {macc}",
    "[개인정보 마스킹] 성명 김○○ 주민번호 {mrrn} 전화 {mtel}",
    "{{\"phone\": \"{mtel}\", \"rrn\": \"{mrrn}\"}}",
]
NEG["emaillike"] = [
    "<img src=\"/static/{img}\" alt=\"로고\">",
    "{img} 파일을 교체해 주세요",
    "{mention} 님 답변 감사합니다!",
    "인스타 {mention} 팔로우 부탁드려요",
    "트위터 {mention} 계정 공지 참고",
    "CSS @media (max-width: 768px) 에서 깨져요",
    "파이썬 @staticmethod 와 @classmethod 차이",
    "npm i @types/node @vue/cli",
    "{mention} {mention} 단톡 공지 확인 부탁",
    "srcset=\"{img} 2x, {img} 3x\"",
    "슬랙에서 @channel 로 공유했어요",
]
NEG["case"] = [
    "서울중앙지방법원 {case} 사건",
    "사건번호 {case}, 선고 {dot}",
    "관련 판례: 대법원 {iso} 선고 {case} 판결",
    "법률 제{n}{n}{n}호, 시행 {dot}",
]
NEG["stats"] = [
    "개인정보 {big}건 유출 의혹, 회사 측 \"확인 중\"",
    "인구 {big}명, 가구 수 {big}가구",
    "전년 대비 {n}.{n}% 증가한 {big}대 판매",
    "GDP {big}억 달러, 1인당 {big}달러",
    "조회수 {big} · 댓글 {n}",
]
NEG["chatneg"] = [
    "ㅋㅋㅋ 내일 {hhmm}에 강남역 {n}번출구ㄱㄱ",
    "나 {bus}번 버스 탔어 {n}분 뒤 도착",
    "주문번호 {ord10} 이거 언제와ㅠㅠ",
    "ㄹㅇ {price} 실화냐",
    "운송장 {track13} 조회해보니까 아직 터미널이래",
    "우리 {dot}에 만나기로 한 거 맞지?",
    "비번 바꿨음 이제 {n}자리 넘어야 된대",
]
NEG["product"] = [
    "품번 SM-{n}{n}0N / 모델 {n}-{ord10}",
    "부품코드 {n}{n}-{ord10}-{n}",
    "상품코드 P{ord10} 옵션 {n}",
    "규격 KS C IEC 60{n}{n}-1, 인증번호 {ord10}",
    "제품 코드 {ord12} (색상: 블랙)",
]

NEG_COUNTS = {"date": 85, "time": 40, "price": 65, "bus": 55, "order": 85, "tracking": 70, "barcode": 75, "isbn": 45,
              "timestamp": 50, "serial": 70, "brn": 45, "crn": 55, "plate": 35, "postal": 25, "coord": 20,
              "score": 30, "version": 25, "ip": 25, "txid": 60, "masked": 80, "emaillike": 60, "case": 30,
              "stats": 30, "chatneg": 45, "product": 30}


SCALE = 0.87      # about 2,000 lines in all


def build() -> list[dict]:
    rows = []
    for style, n in POS_COUNTS.items():
        n = round(n * SCALE)
        tpls = POS[style]
        for i in range(n):
            text, spans = render(tpls[i % len(tpls)] if i < len(tpls) else pick(tpls))
            rows.append({"text": text, "spans": spans, "origin": style})
    for key, n in NEG_COUNTS.items():
        n = round(n * SCALE)
        tpls = NEG[key]
        for i in range(n):
            text, spans = render(tpls[i % len(tpls)] if i < len(tpls) else pick(tpls))
            assert not spans
            rows.append({"text": text, "spans": spans, "origin": "lookalike-" + key})
    R.shuffle(rows)
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    pos = [r for r in rows if r["spans"]]
    counts: dict = {}
    for r in rows:
        for s in r["spans"]:
            counts[s[2]] = counts.get(s[2], 0) + 1
    new_plain = sum(1 for r in rows for s in r["spans"] if s[2] == "rrn" and len(r["text"][s[0]:s[1]]) == 13
                    and rrn_check(r["text"][s[0]:s[0] + 12]) != int(r["text"][s[1] - 1]))
    print(f"{len(rows)} lines ({len(pos)} with spans, {len(rows) - len(pos)} look-alike); spans {counts}; "
          f"undashed resident numbers without a valid check digit: {new_plain}")


if __name__ == "__main__":
    main()
