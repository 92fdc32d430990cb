"""Held-out PII set: written from the published formats of each identifier, not from the masking patterns, so that
it measures what the patterns miss rather than what they were written to catch.

    python benchmarks/pii_set_heldout.py          # -> tests/data/pii_heldout.jsonl

Styles (origin): form (key: value forms, | and tab tables), chat (casual, spaced digits, emoji), legal (판결문,
계약서), email (customer service), ad (classified), notice (government), document (several lines, several items),
mixed (look-alikes next to real PII) and lookalike (no span at all: dates, prices, order/tracking/invoice numbers,
ISBN, barcodes, business and corporation registration numbers, plates, codes, coordinates, times...).
A span covers only what must be masked: the number or address itself, never the label or a trailing particle.
"""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "pii_heldout.jsonl"
SEED = 20240611


class Doc:
    """Text built piece by piece so that every span offset is exact by construction."""

    def __init__(self, origin: str):
        self.origin, self.parts, self.spans, self.n = origin, [], [], 0

    def add(self, s: str) -> "Doc":
        self.parts.append(s)
        self.n += len(s)
        return self

    def pii(self, s: str, kind: str) -> "Doc":
        self.spans.append([self.n, self.n + len(s), kind])
        return self.add(s)

    def row(self) -> dict:
        return {"text": "".join(self.parts), "spans": self.spans, "origin": self.origin}


# ---- people and places -------------------------------------------------------------------------------------------
SURNAMES = list("김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지엄채원천방공현함변염여추도소석선설마") + [
    "남궁", "제갈", "선우", "황보"]
GIVEN = list("민서지현준우예은하윤도수영재원진성훈혜경미정태호승연유나희주아동철석광")
CITIES = [("서울특별시", ["강남구", "마포구", "노원구", "관악구", "송파구", "종로구"]),
          ("부산광역시", ["해운대구", "수영구", "사하구"]), ("대구광역시", ["수성구", "달서구"]),
          ("인천광역시", ["연수구", "부평구"]), ("경기도", ["성남시 분당구", "수원시 영통구", "고양시 일산동구", "용인시 수지구"]),
          ("전라남도", ["순천시", "목포시"]), ("충청북도", ["청주시 흥덕구"]), ("제주특별자치도", ["제주시"])]
ROADS = ["테헤란로", "월드컵북로", "동일로", "해운대로", "중앙대로", "판교역로", "세종대로", "봉은사로", "경수대로", "연삼로"]


def name(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2, 2])))


def address(rng) -> str:
    city, districts = rng.choice(CITIES)
    tail = rng.choice(["", f", {rng.randint(101, 120)}동 {rng.randint(1, 25)}0{rng.randint(1, 4)}호",
                       f" {rng.randint(2, 15)}층"])
    return f"{city} {rng.choice(districts)} {rng.choice(ROADS)} {rng.randint(1, 400)}{tail}"


def digits(rng, k: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(k))


# ---- telephone numbers -------------------------------------------------------------------------------------------
AREA = ["02", "031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055", "061", "062",
        "063", "064"]
REPRESENTATIVE = ["1588", "1577", "1544", "1566", "1600", "1644", "1661", "1670", "1688", "1800", "1899", "1522",
                  "1599", "1833", "1855", "1811"]


def _join(groups, sep):
    return sep.join(groups)


def tel(rng, casual: bool = False) -> str:
    kind = rng.choices(["mobile", "old", "land", "rep", "voip", "safe", "intl", "paren"],
                       [40, 4, 22, 10, 6, 5, 7, 3 if not casual else 0])[0]
    sep = rng.choice(["-", "-", "-", " ", "."] + ([" ", ""] if casual else []))
    if kind == "mobile":
        return _join(["010", digits(rng, 4), digits(rng, 4)], sep)
    if kind == "old":
        return _join([rng.choice(["011", "016", "017", "018", "019"]), str(rng.randint(200, 999)), digits(rng, 4)],
                     sep or "-")
    if kind == "land":
        code = rng.choice(AREA)
        middle = str(rng.randint(200, 999)) if rng.random() < 0.4 else str(rng.randint(2000, 9999))
        return _join([code, middle, digits(rng, 4)], sep or "-")
    if kind == "rep":
        return rng.choice(REPRESENTATIVE) + "-" + digits(rng, 4)
    if kind == "voip":
        return _join(["070", str(rng.randint(2000, 9999)), digits(rng, 4)], sep or "-")
    if kind == "safe":
        return _join([f"050{rng.randint(2, 8)}", str(rng.randint(1000, 9999)), digits(rng, 4)], sep or "-")
    if kind == "intl":
        if rng.random() < 0.7:
            lead = rng.choice(["+82-10-", "+82 10-", "+82 10 ", "+82-10 "])
            return lead + digits(rng, 4) + rng.choice("- ") + digits(rng, 4)
        code = rng.choice(AREA)[1:]
        return f"+82-{code}-{rng.randint(200, 999)}-{digits(rng, 4)}"
    return f"({rng.choice(AREA)}){rng.randint(200, 9999)}-{digits(rng, 4)}"


# ---- resident registration numbers ------------------------------------------------------------------------------
WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def check_digit(first12: str) -> int:
    return (11 - sum(int(d) * w for d, w in zip(first12, WEIGHTS)) % 11) % 10


def birth(rng, lo: int = 1940, hi: int = 2019) -> dt.date:
    return dt.date(lo, 1, 1) + dt.timedelta(days=rng.randint(0, (dt.date(hi, 12, 31) - dt.date(lo, 1, 1)).days))


def gender_digit(rng, year: int) -> str:
    foreign = rng.random() < 0.1
    base = (1 if year < 2000 else 3) + (4 if foreign else 0)
    return str(base + rng.randint(0, 1))


def rrn(rng, post2020: bool) -> str:
    """Pre-2020 numbers: region, serial and check digit. Since October 2020 the six digits after the gender digit
    are random, so the old check digit holds only by chance; we make it fail so these numbers test context."""
    b = birth(rng, 2020, 2024) if post2020 and rng.random() < 0.4 else birth(rng)
    if post2020 and b < dt.date(2020, 10, 1) and b.year >= 2020:
        b = dt.date(2020, 10, 1) + dt.timedelta(days=rng.randint(0, 1500))
    head = b.strftime("%y%m%d") + gender_digit(rng, b.year)
    if not post2020:
        body = head + f"{rng.randint(0, 95):02d}{rng.randint(0, 99):02d}{rng.randint(0, 9)}"
        return body + str(check_digit(body))
    while True:
        num = head + digits(rng, 6)
        if int(num[12]) != check_digit(num[:12]):
            return num


def fmt_rrn(num: str, style: str) -> str:
    return {"dash": f"{num[:6]}-{num[6:]}", "plain": num, "space": f"{num[:6]} {num[6:]}"}[style]


# ---- e-mail ------------------------------------------------------------------------------------------------------
ROMAN = ["minsu", "jiwoo", "seoyeon", "hyun", "jh", "sk", "kim", "lee", "park", "choi", "jung", "yuna", "dohyun",
         "haeun", "taeho", "sujin", "cs", "help", "support", "info", "admin", "hr", "news", "order"]
DOMAINS = ["naver.com", "daum.net", "hanmail.net", "gmail.com", "kakao.com", "nate.com", "hotmail.com",
           "outlook.com", "korea.kr", "snu.ac.kr", "kaist.ac.kr", "mois.go.kr", "seoul.go.kr", "shop-mall.co.kr",
           "hanbit.co.kr", "corp.samsung.com", "lgensol.com", "yonsei.ac.kr", "my-company.kr", "icloud.com"]


def email(rng) -> str:
    a, b = rng.choice(ROMAN), rng.choice(ROMAN)
    local = rng.choice([a, f"{a}.{b}", f"{a}_{b}", f"{a}{rng.randint(1, 9999)}", f"{a}-{b}", f"{a}+{b}",
                        f"{a}{b}{rng.randint(70, 99)}"])
    out = f"{local}@{rng.choice(DOMAINS)}"
    return out.upper() if rng.random() < 0.03 else (out.capitalize() if rng.random() < 0.05 else out)


# ---- bank accounts: (names in text, [(group lengths), fixed prefix]) --------------------------------------------
BANKS = [
    (["국민은행", "KB국민", "국민"], [((6, 2, 6), ""), ((3, 2, 4, 3), "")]),
    (["신한은행", "신한"], [((3, 3, 6), "110"), ((3, 3, 6), "140"), ((3, 2, 6), "")]),
    (["우리은행", "우리"], [((4, 3, 6), "1002"), ((3, 6, 2, 2), "")]),
    (["하나은행", "KEB하나", "하나"], [((3, 6, 5), "")]),
    (["NH농협", "농협은행", "농협"], [((3, 4, 4, 2), "3"), ((3, 2, 6), ""), ((6, 2, 6), "351")]),
    (["IBK기업은행", "기업은행", "기업"], [((3, 6, 2, 3), "")]),
    (["SC제일은행", "SC제일"], [((3, 2, 6), "")]),
    (["카카오뱅크", "카뱅"], [((4, 2, 7), "3333")]),
    (["토스뱅크"], [((4, 4, 4), "1000")]),
    (["케이뱅크", "K뱅크"], [((3, 3, 6), "100")]),
    (["새마을금고", "MG새마을금고"], [((4, 4, 4, 1), "900")]),
    (["우체국"], [((6, 2, 6), "")]),
    (["부산은행"], [((3, 4, 4, 2), "")]),
    (["대구은행", "iM뱅크"], [((3, 2, 6, 1), "")]),
    (["수협은행", "수협"], [((3, 2, 6), "")]),
    (["광주은행"], [((3, 3, 6), "")]),
]


def account(rng, plain_share: float = 0.15) -> tuple[str, str]:
    names, formats = rng.choice(BANKS)
    groups, prefix = rng.choice(formats)
    raw = prefix + digits(rng, sum(groups) - len(prefix))
    out, i = [], 0
    for g in groups:
        out.append(raw[i:i + g])
        i += g
    return rng.choice(names), raw if rng.random() < plain_share else "-".join(out)


# ---- positive styles ---------------------------------------------------------------------------------------------
def form(rng) -> dict:
    d = Doc("form")
    sep = rng.choice([": ", " : ", ":", "\t", " "])
    fields = [("성명", "이름", "성 명"), ("주민등록번호", "주민번호", "생년월일(주민번호)"), ("주소", "현주소"),
              ("연락처", "휴대전화", "전화번호", "H.P"), ("이메일", "E-mail", "전자우편")]
    take = [f for f in fields if rng.random() < 0.8] or fields[:2]
    if rng.random() < 0.3:
        take.append(("환불계좌", "입금계좌"))
    joiner = rng.choice(["\n", "\n", " / ", " | ", ", "])
    post = rng.random() < 0.6
    for i, labels in enumerate(take):
        if i:
            d.add(joiner)
        label = rng.choice(labels)
        d.add(label + sep)
        if labels[0] == "성명":
            d.add(name(rng))
        elif labels[0] == "주민등록번호":
            d.pii(fmt_rrn(rrn(rng, post), rng.choice(["plain", "plain", "dash"])), "rrn")
        elif labels[0] == "주소":
            d.add(address(rng))
        elif labels[0] == "연락처":
            d.pii(tel(rng), "tel")
        elif labels[0] == "이메일":
            d.pii(email(rng), "email")
        else:
            bank, num = account(rng)
            d.add(bank + " ").pii(num, "acc").add(rng.choice(["", f" (예금주 {name(rng)})"]))
    return d.row()


def table(rng) -> dict:
    d = Doc("form")
    cell = rng.choice([" | ", "\t", "|"])
    cols = rng.choice([["이름", "주민등록번호", "연락처", "주소"], ["No", "성명", "주민번호", "휴대폰"],
                       ["성명", "생년월일/주민번호", "이메일"], ["이름", "연락처", "주민등록번호", "비고"]])
    d.add(cell.join(cols) + "\n")
    post = rng.random() < 0.6
    for r in range(rng.randint(1, 4)):
        if r:
            d.add("\n")
        for j, c in enumerate(cols):
            if j:
                d.add(cell)
            if c == "No":
                d.add(str(r + 1))
            elif c in ("이름", "성명"):
                d.add(name(rng))
            elif "주민" in c:
                d.pii(fmt_rrn(rrn(rng, post), rng.choice(["plain", "plain", "dash"])), "rrn")
            elif c in ("연락처", "휴대폰"):
                d.pii(tel(rng), "tel")
            elif c == "주소":
                d.add(address(rng))
            elif c == "이메일":
                d.pii(email(rng), "email")
            else:
                d.add(rng.choice(["", "신규", "갱신", "-"]))
    return d.row()


CHAT_OPEN = ["ㅋㅋㅋ ", "야 ", "헐 ", "ㅇㅇ ", "아 맞다 ", "", "", "저기요 ", "넵 ", "ㅎㅎ "]
CHAT_END = ["", " ㅋㅋ", " 😊", " ㅠㅠ", "!!", "~", " 🙏", " ㄱㄱ", "요", " ㅎㅎ"]


def chat(rng) -> dict:
    d = Doc("chat")
    who = rng.choice(["민수", "지현", "나", "엄마", "팀장님", "jiwoo", "ㅇㅇ"])
    if rng.random() < 0.5:
        d.add(rng.choice([f"[오후 {rng.randint(1, 11)}:{rng.randint(10, 59)}] {who}: ", f"{who}: ", f"<{who}> "]))
    d.add(rng.choice(CHAT_OPEN))
    k = rng.choices(["tel", "rrn", "email", "acc"], [45, 20, 20, 15])[0]
    if k == "tel":
        d.add(rng.choice(["내 번호 ", "폰번 ", "전번 ", "번호 바꼈어 ", "연락은 ", "여기로 전화줘 ", "새 번호임 ",
                          "이걸로 문자 줘 "]))
        d.pii(tel(rng, casual=True), "tel").add(rng.choice(["", "로", "으로", "이야", "임", " 저장해줘", "으로 연락주셈"]))
    elif k == "rrn":
        num = rrn(rng, rng.random() < 0.7)
        d.add(rng.choice(["내 주민번호 ", "주민번호 ", "주민등록번호 ", "우리 애 주민번호 ", "신분증에 있는 번호 ",
                          "본인확인 한다고 주민번호 ", "주민 번호 "]))
        d.add(rng.choice(["", "는 ", "가 ", ": "]))
        d.pii(fmt_rrn(num, rng.choice(["plain", "plain", "dash", "space"])), "rrn")
        d.add(rng.choice(["", " 맞지?", " 이거 맞나", " 넣으래", "인데 오류남", " 입력했는데 안됨"]))
    elif k == "email":
        d.add(rng.choice(["메일 ", "이멜 ", "메일주소 ", "자료 ", "파일 "]))
        d.pii(email(rng), "email").add(rng.choice(["", "로 보내줘", "으로 ㄱㄱ", " 여기로", "이야", " 임"]))
    else:
        bank, num = account(rng, 0.3)
        d.add(rng.choice(["회비 ", "정산 ", "n빵 ", "돈 "]) + rng.choice(["", "여기로 "]) + bank + " ")
        d.pii(num, "acc").add(rng.choice(["", "로 보내", " 입금 ㄱ", "임", f" {name(rng)}"]))
    return d.add(rng.choice(CHAT_END)).row()


def legal(rng) -> dict:
    d = Doc("legal")
    post = rng.random() < 0.5
    style = rng.choice(["plain", "plain", "dash"])
    role = rng.choice(["피고인", "피고", "원고", "피해자", "신청인", "피신청인", "채무자", "채권자"])
    n = name(rng)
    form_ = rng.random()
    if form_ < 0.35:
        d.add(f"{role} {n}(").pii(fmt_rrn(rrn(rng, post), style), "rrn").add(f", 주거 {address(rng)})")
    elif form_ < 0.65:
        d.add(f"{role} {n} (주민등록번호 ").pii(fmt_rrn(rrn(rng, post), style), "rrn").add(")")
        d.add(rng.choice(["은 ", "는 ", "에 대하여 "]) + rng.choice(["다음과 같이 판결한다.", "2023. 5. 3. 기소되었다.",
                                                                  "위 사건에 관하여 진술한다."]))
    elif form_ < 0.85:
        d.add(f"을: {n}\n주민등록번호: ").pii(fmt_rrn(rrn(rng, post), style), "rrn")
        d.add(f"\n주소: {address(rng)}\n연락처: ").pii(tel(rng), "tel")
        d.add(rng.choice(["\n갑과 을은 다음과 같이 임대차계약을 체결한다.", "\n위 당사자는 아래와 같이 합의한다."]))
    else:
        d.add(f"임차인 {n}(생년월일 및 주민등록번호 ").pii(fmt_rrn(rrn(rng, post), style), "rrn").add(")은 ")
        d.add("보증금을 아래 계좌로 지급한다. ")
        bank, num = account(rng, 0.1)
        d.add(f"{bank} ").pii(num, "acc").add(f" (예금주: {name(rng)})")
    return d.row()


def cs_email(rng) -> dict:
    d = Doc("email")
    d.add(f"안녕하세요 {name(rng)} 고객님,\n")
    d.add(rng.choice(["문의하신 환불 건 안내드립니다. ", "주문 취소가 접수되었습니다. ", "회원 정보 변경 요청을 확인했습니다. "]))
    if rng.random() < 0.6:
        bank, num = account(rng, 0.15)
        d.add(f"환불은 등록하신 {bank} 계좌(").pii(num, "acc").add(")로 영업일 3일 이내 처리됩니다.\n")
    d.add("추가 문의는 ").pii(email(rng), "email").add(rng.choice([" 또는 ", "이나 ", ", 고객센터 "]))
    d.pii(tel(rng), "tel").add(rng.choice(["로 연락 주십시오.", "(평일 09:00~18:00)으로 문의 바랍니다.", "번으로 부탁드립니다."]))
    if rng.random() < 0.3:
        d.add("\n보낸 사람: ").add(name(rng) + " <").pii(email(rng), "email").add(">")
    return d.row()


def ad(rng) -> dict:
    d = Doc("ad")
    d.add(rng.choice(["[급매] 역세권 원룸 보증금 500/월 45 ", "중고 아이폰 13 팝니다 45만원 ", "과외 구합니다 (수학) ",
                      "★신장개업★ 치킨 배달 ", "알바 모집 시급 12,000원 ", "강아지 분양 (말티즈 3개월) ",
                      "이사짐센터 포장이사 견적 무료 "]))
    d.add(rng.choice(["연락처 ", "문의 ", "☎ ", "Tel. ", "T. ", "전화 ", "☎"]))
    d.pii(tel(rng), "tel")
    if rng.random() < 0.4:
        d.add(rng.choice([" / ", ", ", " 또는 "])).pii(tel(rng), "tel")
    if rng.random() < 0.3:
        d.add(rng.choice([" 메일 ", " 이메일: ", " ✉ "])).pii(email(rng), "email")
    return d.add(rng.choice(["", " (문자 환영)", " 24시간 상담", " ^^", "!!"])).row()


def notice(rng) -> dict:
    d = Doc("notice")
    d.add(rng.choice(["2024년 상반기 청년 월세 지원 신청 안내\n", "○○구 공고 제2024-123호\n", "주민등록 사실조사 실시 안내\n",
                      "재산세 납부 안내\n"]))
    d.add(rng.choice(["신청 방법: 방문 또는 우편 접수\n", "기간: 2024. 3. 4.(월) ~ 3. 29.(금)\n", "대상: 관내 거주자\n"]))
    d.add(f"담당: {rng.choice(['주민복지과', '세무과', '민원여권과'])} {name(rng)} 주무관 (")
    d.pii(tel(rng), "tel").add(")")
    if rng.random() < 0.5:
        d.add("\n전자우편 접수: ").pii(email(rng), "email")
    if rng.random() < 0.3:
        d.add("\n납부 계좌: ")
        bank, num = account(rng, 0.0)
        d.add(bank + " ").pii(num, "acc").add(f" (예금주 {rng.choice(['○○구청', '세입세출외현금'])})")
    return d.row()


def document(rng) -> dict:
    d = Doc("document")
    n = name(rng)
    d.add(rng.choice(["[입사지원서]\n", "[회원 가입 신청서]\n", "[보험금 청구서]\n", "[전입신고서 사본]\n"]))
    d.add(f"지원자 {n}은(는) 아래 내용이 사실임을 확인합니다.\n" if rng.random() < 0.5 else f"신청인 성명 {n}\n")
    d.add(rng.choice(["주민등록번호 ", "생년월일/주민등록번호: ", "신분증 번호: ", "주민번호 "]))
    d.pii(fmt_rrn(rrn(rng, rng.random() < 0.6), rng.choice(["plain", "plain", "dash"])), "rrn").add("\n")
    d.add(f"주소 {address(rng)}\n")
    d.add(rng.choice(["휴대폰 ", "연락처: ", "비상연락처 "])).pii(tel(rng), "tel")
    opener, closer = rng.choice([(" (자택 ", ")"), (" / 직장 ", "")])
    d.add(opener).pii(tel(rng), "tel").add(closer + "\n")
    d.add("이메일 ").pii(email(rng), "email").add("\n")
    if rng.random() < 0.6:
        bank, num = account(rng)
        d.add(rng.choice(["급여 계좌 ", "보험금 수령 계좌: ", "환급 계좌 "]) + bank + " ").pii(num, "acc").add("\n")
    d.add(f"작성일 2024. {rng.randint(1, 12)}. {rng.randint(1, 28)}.  신청인 {n} (서명)")
    return d.row()


def bank_line(rng) -> dict:
    d = Doc(rng.choice(["chat", "email", "ad"]))
    bank, num = account(rng, 0.25)
    n = name(rng)
    pat = rng.randint(0, 4)
    if pat == 0:
        d.add(f"입금 계좌: {bank} ").pii(num, "acc").add(f" (예금주: {n})")
    elif pat == 1:
        d.add(f"{bank} ").pii(num, "acc").add(f" {n}으로 입금 부탁드립니다")
    elif pat == 2:
        d.add(f"계좌번호 {bank} ").pii(num, "acc").add(f" 예금주 {n}")
    elif pat == 3:
        d.add(f"{n} / {bank}은행 계좌 ".replace("은행은행", "은행")).pii(num, "acc")
    else:
        d.add(f"후원 계좌 안내: {bank} ").pii(num, "acc").add(" (예금주 사단법인 나눔)")
    return d.row()


def rrn_context(rng) -> dict:
    """Undashed numbers told apart by context only: mostly post-2020 numbers that fail the old check digit."""
    d = Doc(rng.choice(["form", "chat", "legal", "document"]))
    num = rrn(rng, rng.random() < 0.85)
    style = "plain" if rng.random() < 0.85 else "dash"
    n = name(rng)
    pat = rng.randint(0, 7)
    if pat == 0:
        d.add(f"성명: {n} / 주민번호: ").pii(fmt_rrn(num, style), "rrn")
    elif pat == 1:
        d.add(f"{n} ").pii(fmt_rrn(num, style), "rrn").add(f" {address(rng)}")
    elif pat == 2:
        d.add("본인확인을 위해 생년월일과 주민등록번호 13자리(").pii(fmt_rrn(num, style), "rrn").add(")를 입력했습니다.")
    elif pat == 3:
        d.add("외국인등록번호 ").pii(fmt_rrn(num, style), "rrn").add(f" ({n}, {rng.choice(['베트남', '중국', '미국'])})")
    elif pat == 4:
        d.add(f"아기 출생신고 완료! {n} 주민등록번호 ").pii(fmt_rrn(num, style), "rrn").add(" 나왔어요")
    elif pat == 5:
        d.add(f"신분증 사본: {n}, ").pii(fmt_rrn(num, style), "rrn").add(", 발급일 2023.04.12")
    elif pat == 6:
        d.add(f"피의자 {n}({rng.randint(20, 70)}세, ").pii(fmt_rrn(num, style), "rrn").add(")")
    else:
        d.add(f"{n}\t").pii(fmt_rrn(num, style), "rrn").add(f"\t{address(rng)}")
    return d.row()


# ---- look-alikes: nothing here may be masked ----------------------------------------------------------------------
def ymd(rng) -> dt.date:
    return birth(rng, 1990, 2024)


def rrn_shaped(rng) -> str:
    """Thirteen digits with a real date and a gender digit: the hardest look-alike, numbers built from dates."""
    return birth(rng, 1950, 2024).strftime("%y%m%d") + str(rng.randint(1, 8)) + digits(rng, 6)


def ean13(rng, prefix: str) -> str:
    body = prefix + digits(rng, 12 - len(prefix))
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
    return body + str((10 - s % 10) % 10)


def biz_no(rng) -> str:
    return f"{rng.randint(101, 899)}-{rng.randint(10, 99)}-{digits(rng, 5)}"


PLATE = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호"


def lookalike(rng) -> str:
    d, n = ymd(rng), name(rng)
    options = [
        lambda: f"주문번호 {d:%Y%m%d}{digits(rng, rng.choice([5, 6, 8]))} 결제가 완료되었습니다.",
        lambda: f"주문번호: {rrn_shaped(rng)} (주문자 {n})",
        lambda: f"{n} 고객님의 주문번호 {rrn_shaped(rng)} 상품이 발송되었습니다.",
        lambda: f"운송장번호 {digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 4)} (CJ대한통운) 배송 조회하기",
        lambda: f"송장번호 {rng.choice(['', '5'])}{digits(rng, 12)} 한진택배 집하 완료",
        lambda: f"택배 송장 {rrn_shaped(rng)} 로젠택배",
        lambda: f"상품 바코드 {ean13(rng, '880')} (농심 신라면 120g)",
        lambda: f"바코드: {ean13(rng, '880')}",
        lambda: f"ISBN {ean13(rng, rng.choice(['97889', '97911']))} | 정가 {rng.randint(12, 38)},000원",
        lambda: f"ISBN 978-89-{rng.randint(10, 99)}-{digits(rng, 5)}-{rng.randint(0, 9)} 도서출판 한빛",
        lambda: f"사업자등록번호 {biz_no(rng)} 대표 {n}",
        lambda: f"상호: ○○상사 | 사업자번호: {biz_no(rng)} | 통신판매업신고 제2023-서울강남-{digits(rng, 4)}호",
        lambda: f"법인등록번호 {rng.choice(['110111', '110114', '131111', '180111', '284411'])}-{digits(rng, 7)}",
        lambda: f"접수번호 {d:%y%m%d}-{rng.randint(1, 8)}{digits(rng, 6)} 처리 중입니다.",
        lambda: f"거래번호 {digits(rng, 16)} 승인번호 {digits(rng, 8)}",
        lambda: f"인보이스 번호 INV-{d:%Y%m%d}-{digits(rng, 4)} 청구 금액 {rng.randint(1, 99)},{digits(rng, 3)},000원",
        lambda: f"시리얼 넘버 {rrn_shaped(rng)} 정품 등록 완료",
        lambda: f"제품 S/N: {digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 4)}",
        lambda: f"로그 {d:%Y%m%d}{rng.randint(10, 23)}{digits(rng, 4)} 요청 id={digits(rng, 13)}",
        lambda: f"타임스탬프 {d:%Y%m%d}{digits(rng, 5)} ms",
        lambda: f"{d:%Y-%m-%d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} 접속 기록",
        lambda: f"{d:%Y.%m.%d} 기준 코스피 {rng.randint(2000, 2999)}.{digits(rng, 2)} 마감",
        lambda: f"가격 {rng.randint(1, 9)},{digits(rng, 3)},{digits(rng, 3)}원 (부가세 포함)",
        lambda: f"{rng.choice(['1588', '1577', '1544', '1661'])}번 버스 타고 {rng.randint(3, 15)}정거장 가면 돼요",
        lambda: f"{rng.randint(1500, 1899)}년 임진왜란 이후 {rng.randint(2, 30)}년",
        lambda: f"버전 v{rng.randint(1, 12)}.{rng.randint(0, 40)}.{digits(rng, 4)} 업데이트",
        lambda: f"우편번호 {digits(rng, 5)} {address(rng)}",
        lambda: f"차량번호 {rng.randint(10, 399)}{rng.choice(PLATE)} {digits(rng, 4)} 주차 위반",
        lambda: f"좌표 37.{digits(rng, 6)}, 127.{digits(rng, 6)}",
        lambda: f"최종 스코어 {rng.randint(0, 9)}:{rng.randint(0, 9)}, 관중 {rng.randint(10, 60)},{digits(rng, 3)}명",
        lambda: f"회의는 {rng.randint(9, 18)}:{rng.choice(['00', '30'])}~{rng.randint(9, 18)}:"
                f"{rng.choice(['00', '30'])}, 3층 대회의실",
        lambda: f"키 {rng.randint(150, 190)}.{rng.randint(0, 9)}cm 몸무게 {rng.randint(40, 99)}kg",
        lambda: f"{d:%Y}-{d.year + 1} 시즌 {rng.randint(1, 38)}라운드",
        lambda: f"모델명 {rng.choice(['SM-S918N', 'LG-F700K', 'A2890'])} 제조번호 {digits(rng, 15)}",
        lambda: f"IMEI {digits(rng, 15)}",
        lambda: f"계약번호 {d:%Y}-{digits(rng, 4)}-{digits(rng, 4)}호",
        lambda: f"회원번호 {rrn_shaped(rng)} 포인트 {rng.randint(100, 9999)}P",
        lambda: f"학번 {d:%Y}{digits(rng, 5)} {n}",
        lambda: f"사건번호 {d:%Y}고단{digits(rng, 4)} 선고기일 {d:%Y. %m. %d.}",
        lambda: f"{d:%y%m%d} 촬영본 IMG_{d:%Y%m%d}_{digits(rng, 6)}.jpg",
        lambda: f"전화 요금 {rng.randint(10, 99)},{digits(rng, 3)}원 청구 (청구번호 {digits(rng, 13)})",
        lambda: f"국번 없이 {rng.choice(['112', '119', '120', '1330'])}",
        lambda: "아이콘 파일 icon@2x.png, logo@3x.png 교체",
        lambda: f"npm install react@18.{rng.randint(0, 3)}.{rng.randint(0, 9)}",
        lambda: f"@{rng.choice(ROMAN)}_{rng.randint(1, 99)} 님 댓글 감사합니다",
        lambda: f"IP 192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)} 차단",
        lambda: f"{rng.randint(100, 999)}-{rng.randint(10, 99)}호 {n} 세대 관리비 {rng.randint(10, 40)}만원",
        lambda: f"부품번호 {digits(rng, 3)}-{digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 2)}",
        lambda: f"카드 승인 {d:%m/%d} {rng.randint(10, 23)}:{digits(rng, 2)} 일시불 {rng.randint(1, 99)},{digits(rng, 3)}원",
        lambda: f"수험번호 {digits(rng, 8)} {n}",
        lambda: f"예약번호 {rrn_shaped(rng)} 체크인 {d:%m월 %d일}",
        lambda: f"쿠폰 코드 {digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 4)}",
        lambda: f"등기번호 {digits(rng, 13)} 우체국 등기 조회",
        lambda: f"{n} 선수 {rng.randint(1, 99)}번, 통산 {rng.randint(100, 999)}경기 {rng.randint(10, 300)}골",
        lambda: f"결제 {d:%Y%m%d} 주문 {rrn_shaped(rng)} 배송지 {address(rng)}",
    ]
    return rng.choice(options)()


def mixed(rng) -> dict:
    """Look-alikes sitting right next to real PII: the look-alike must stay, the PII must go."""
    d = Doc("mixed")
    pat = rng.randint(0, 3)
    if pat == 0:
        d.add(f"[주문 확인] 주문번호 {rrn_shaped(rng)}\n주문자 {name(rng)} / 연락처 ").pii(tel(rng), "tel")
        d.add(f"\n배송지 {address(rng)}")
    elif pat == 1:
        d.add(f"상호 ○○식품 | 사업자등록번호 {biz_no(rng)} | 대표전화 ").pii(tel(rng), "tel")
        d.add(" | 이메일 ").pii(email(rng), "email")
    elif pat == 2:
        d.add(f"운송장 {rrn_shaped(rng)} 배송기사 {name(rng)} ").pii(tel(rng), "tel")
    else:
        d.add(f"바코드 {ean13(rng, '880')} 반품 시 환불계좌 ")
        bank, num = account(rng, 0.0)
        d.add(bank + " ").pii(num, "acc")
    return d.row()


def build(n_lookalike: int = 1600) -> list[dict]:
    rng = random.Random(SEED)
    makers = [(form, 200), (table, 90), (chat, 260), (legal, 140), (cs_email, 100), (ad, 100), (notice, 70),
              (document, 70), (bank_line, 120), (rrn_context, 220), (mixed, 100)]
    rows = [make(rng) for make, k in makers for _ in range(k)]
    rows += [{"text": lookalike(rng), "spans": [], "origin": "lookalike"} for _ in range(n_lookalike)]
    rng.shuffle(rows)
    return rows


def main() -> None:
    rows = build()
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    count = {}
    for r in rows:
        for s in r["spans"]:
            count[s[2]] = count.get(s[2], 0) + 1
    plain_rrn = [r["text"][s[0]:s[1]] for r in rows for s in r["spans"] if s[2] == "rrn" and "-" not in
                 r["text"][s[0]:s[1]] and " " not in r["text"][s[0]:s[1]]]
    bad = sum(int(x[12]) != check_digit(x[:12]) for x in plain_rrn)
    looks = sum(r["origin"] == "lookalike" for r in rows)
    print(f"{len(rows)} lines -> {OUT}; spans {count}; look-alike lines {looks}; "
          f"undashed rrn {len(plain_rrn)} ({bad} fail the check digit)")


if __name__ == "__main__":
    main()
