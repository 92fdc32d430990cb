"""Build the labelled PII set (tests/data/pii_labelled.jsonl): synthetic Korean sentences in many formats, real
reviews from NSMC that contain PII (labelled by hand), and real KLUE news sentences (numbers galore, one phone).

    python benchmarks/pii_set.py            # rewrites the file; deterministic (seed 42)
Each line: {"text", "spans": [[start, end, type], ...], "origin"}; a span covers exactly what must be masked.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "pii_labelled.jsonl"
DASHES = ["-", "-", "-", "‐", "–", "—", "−"]

TEL_CTX = ["연락처는 {}입니다.", "문의: {}", "{}로 전화 주세요", "휴대폰 {} (주말 제외)", "전화번호{} 로 문자 주세요",
           "대표번호 {}번으로 연락바랍니다", "제 번호는 {} 이에요ㅎㅎ", "({}) 으로 예약", "Tel. {}", "{}",
           "배달 문의는{}", "사장님 번호 {}, 저녁 9시까지", "번호는{}이에요", "{}번으로 주문", "연락:{}(평일)"]
RRN_CTX = ["주민번호 {} 확인", "주민등록번호: {}", "본인 {} 입니다", "{}(본인)", "신청인 주민번호{}"]
ACC_CTX = ["{bank} {acc} 예금주 홍길동", "무통장입금 {bank}{acc}", "{bank} 계좌{acc}입니다", "입금 계좌: {bank} {acc}", "{acc} ({bank})으로 송금해 주세요",
           "환불은 {bank}은행 {acc}로 부탁드립니다", "계좌번호 {acc} {bank}", "{bank} {acc} (예금주: 김철수)로 이체"]
MAIL_CTX = ["메일은 {} 입니다", "{}로 보내주세요", "문의 {}", "이메일:{}", "자막 있으신 분 {} 으로 좀 ㅠㅠ"]
NEGATIVES = [
    "2023-10-15에 개봉했다", "2023.10.15 기준", "가격은 1,000,000원", "15,000원에 샀어요", "20231015 업데이트",
    "버전 3.11.7 출시", "점수 95-87로 승리", "1998-2005년 방영", "1600 1700년대 유럽", "ISBN 978-89-01-12345-6",
    "우편번호 06236", "주문번호 2023101512345678", "좌표 37.5665, 126.9780", "오후 2:30 시작", "14:30-16:00 상영",
    "제 3회 1-2위 결정전", "인구 51,780,579명", "시즌 1-3 정주행", "2010/02/11 기사", "상영시간 112분",
    "10101010101010", "1234567890", "12345678901236", "9876543210 ㅋㅋ", "0.5-1.5배", "키 180-185cm",
    "IP 192.168.0.1", "2019-2020 시즌", "3-4-3 포메이션", "010 정도면 충분", "1577번 버스", "15-20분 걸려요",
    "입금일 2023-10-15", "계좌 개설은 2020-01-02부터", "예금 금리 3.5-4.0%", "은행 영업시간 09:00-16:00",
    "입금 확인 후 2023-10-15 14:30 발송", "송금 수수료 1,500원", "계좌이체 20231015 처리", "은행 주소 서울시 중구 1-2",
    "주민센터 운영 09:00-18:00", "1600 1700년대 유럽", "1800-1850년 사이", "v1.2.3-beta", "2.5-3.0 GHz",
]
BANKS = {  # bank: account group lengths (major Korean banks' usual formats)
    "KB국민": [(6, 2, 6), (3, 2, 4, 3)], "신한": [(3, 3, 6), (3, 2, 6)], "우리": [(4, 3, 6)],
    "NH농협": [(3, 4, 4, 2), (6, 2, 6)], "IBK기업": [(3, 6, 2, 3)], "하나": [(3, 6, 5)], "씨티": [(3, 6, 3)],
    "SC제일": [(3, 2, 6)], "카카오뱅크": [(4, 2, 7)], "케이뱅크": [(3, 3, 6)], "DGB대구": [(3, 2, 6, 1)],
    "BNK부산": [(3, 4, 4, 2)],
}


def digits(rng, n):
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def phone(rng) -> str:
    kind = rng.choice(["mobile", "mobile", "seoul", "region", "voip", "rep", "intl", "paren"])
    sep = rng.choice(DASHES + [" ", ".", "", " - "]) if kind not in ("rep",) else rng.choice(DASHES + [" "])
    if kind == "mobile":
        return sep.join([rng.choice(["010", "011", "016", "019"]), digits(rng, rng.choice([3, 4])), digits(rng, 4)])
    if kind == "seoul":
        return sep.join(["02", digits(rng, rng.choice([3, 4])), digits(rng, 4)])
    if kind == "region":
        return sep.join([rng.choice(["031", "032", "033", "041", "042", "051", "053", "062", "064"]),
                         digits(rng, rng.choice([3, 4])), digits(rng, 4)])
    if kind == "voip":
        return sep.join(["070", digits(rng, 4), digits(rng, 4)])
    if kind == "rep":
        return sep.join([rng.choice(["1588", "1577", "1544", "1566", "1600", "1644", "1661", "1800", "1899"]),
                         digits(rng, 4)])
    if kind == "intl":
        s = rng.choice(["-", " "])
        return s.join(["+82", rng.choice(["10", "2", "31"]), digits(rng, 4), digits(rng, 4)])
    return f"(0{rng.choice(['2', '31', '51'])}) {digits(rng, 3)}-{digits(rng, 4)}"


def rrn(rng) -> str:
    while True:
        yy, mm, dd = rng.randint(0, 99), rng.randint(1, 12), rng.randint(1, 28)
        g = rng.choice("12345678")
        body = f"{yy:02d}{mm:02d}{dd:02d}{g}{digits(rng, 5)}"
        check = (11 - sum(int(d) * w for d, w in zip(body, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5))) % 11) % 10
        full = body + str(check)
        if rng.random() < 0.7:
            return full[:6] + rng.choice(DASHES[:4]) + full[6:]
        return full


def account(rng) -> tuple[str, str]:
    bank = rng.choice(sorted(BANKS))
    fmt = rng.choice(BANKS[bank])
    sep = "" if rng.random() < 0.15 else "-"       # some people write accounts without dashes
    return bank, sep.join(digits(rng, n) for n in fmt)


def email(rng) -> str:
    user = rng.choice(["joon", "movie.lover", "kim_min-su", "abc123", "sweeti-potato", "x", "Park.JH"]) + digits(rng, 2)
    return f"{user}@{rng.choice(['naver.com', 'hanmail.net', 'gmail.com', 'korea.ac.kr', 'daum.net', 'mail.snu.ac.kr'])}"


def place(template: str, value: str, kind: str) -> dict:
    start = template.index("{}")
    text = template.replace("{}", value, 1)
    return {"text": text, "spans": [[start, start + len(value), kind]]}


def synthetic(rng, n: int = 400) -> list[dict]:
    out = []
    for _ in range(n):
        out.append(place(rng.choice(TEL_CTX), phone(rng), "tel"))
        out.append(place(rng.choice(RRN_CTX), rrn(rng), "rrn"))
        out.append(place(rng.choice(MAIL_CTX), email(rng), "email"))
        bank, acc = account(rng)
        t = rng.choice(ACC_CTX).replace("{bank}", bank)
        out.append(place(t.replace("{acc}", "{}"), acc, "acc"))
    for neg in NEGATIVES:
        out.append({"text": neg, "spans": []})
    # a sentence with a negative beside a positive
    for _ in range(100):
        neg = rng.choice(NEGATIVES)
        rec = place(rng.choice(TEL_CTX), phone(rng), "tel")
        rec["text"] = neg + " / " + rec["text"]
        rec["spans"] = [[s + len(neg) + 3, e + len(neg) + 3, k] for s, e, k in rec["spans"]]
        out.append(rec)
    for r in out:
        r["origin"] = "synthetic"
    return out


# Real reviews from NSMC (CC0) with PII, and real ones that only look alike; the PII substrings by hand.
NSMC_REAL = [
    ("이런영화를 다시 보고 싶다.기문둔갑.소림사주방장.소림사십대제자. 청옥불. 등등..영화있으신분 문자날려 주세요. 010 2318 2919", [("010 2318 2919", "tel")]),
    ("귀한 영화네. 이런 영화 어디 볼데 없나...010 2318 2919 아시는분 문자 주세요.", [("010 2318 2919", "tel")]),
    ("이영화 다시보고싶은분 계시다면 전화주세요.. 011-318-7092   보내드릴께요", [("011-318-7092", "tel")]),
    ("임창정 형님의 영화중 백점 만점에 백점. 경기도 파주에 사는 원 진호 라고 해여.  010-9592-9917 파주 탄현면사", [("010-9592-9917", "tel")]),
    ("영화를 보고싶은데 dvd 가지고 있는분 연락바랍니다. intnow@gmail.net", [("intnow@gmail.net", "email")]),
    ("플레전트빌 dvd 구합니다 pcodream@hanmail.net", [("pcodream@hanmail.net", "email")]),
    ("오래간만에 보니 좋던대 새벽에 볼려니 힘들어요 다시보기해주세요lsj4379@naver.com", [("lsj4379@naver.com", "email")]),
    ("보지마셈 노답임 ;ㅋㅋㅋ 자막있으신분들은 rlghks1688@naver.com으로 보내주길 바람", [("rlghks1688@naver.com", "email")]),
    ("영화괜찮앗는데;영화에나온음악파일잇으신분 fhfflddi@naver.com으로좀보내주세요ㅠ", [("fhfflddi@naver.com", "email")]),
    ("sweeti-potato@hanmail.net  기대기대 합니다^^본방 사수", [("sweeti-potato@hanmail.net", "email")]),
    ("ksmelove11@naver.com본방사수!^^토요일밤'!", [("ksmelove11@naver.com", "email")]),
    ("보는내내무서워서.검색해봣더니 실화가아니엿네여..실망. http://news.chosun.com/site/data/html_dir/2010/02/11/2010021101187.html", []),
    ("굳10101010101010", []), ("노래가종아9876543210", []), ("12345678901236", []), ("부부는 일심동체!123456789", []),
    ("꼬라기 非추천 영화.... the 21th .... 복사 http://blog.naver.com/oroblast/220230242965", []),
    ("820억으로 J리그 축구구단에 토레스 영입해도 이 영화보다 흥행할듯~@.@;;", []), ("개쩔어 lml@@lml", []),
    ("03110000000000000000000000000000000000000000000000000000000000000000000", []), ("5781610184545", []),
]


def real() -> list[dict]:
    out = []
    for text, pii in NSMC_REAL:
        spans = []
        for value, kind in pii:
            start = text.index(value)
            spans.append([start, start + len(value), kind])
        out.append({"text": text, "spans": spans, "origin": "nsmc"})
    import pyarrow.parquet as pq
    for row in pq.read_table(ROOT / "data" / "corpus" / "klue_ner_dev.parquet").to_pylist():
        text, spans = row["sentence"], []
        if "031-8060-2560" in text:
            s = text.index("031-8060-2560")
            spans = [[s, s + 13, "tel"]]
        out.append({"text": text, "spans": spans, "origin": "klue"})
    return out


def main() -> None:
    rows = synthetic(random.Random(42)) + real()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} examples to {OUT}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
