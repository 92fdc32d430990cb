"""Published KoBEST macro-F1 (POLYGLOT-KO.md section 5): the reference rows every evaluation report shows."""

SHOTS = (0, 5, 10, 50)
# model -> task -> macro-F1 at 0/5/10/50 shots
KOBEST_F1 = {
    "polyglot-ko-1.3b": {"copa": (.7196, .7193, .7204, .7206), "hellaswag": (.5247, .5260, .5278, .5427),
                         "boolq": (.3552, .4751, .4109, .4038), "sentineg": (.6790, .6257, .5514, .7851),
                         "wic": (.3297, .4850, .4650, .3290)},
    "polyglot-ko-3.8b": {"copa": (.7595, .7608, .7638, .7788), "hellaswag": (.5707, .5830, .5670, .5787),
                         "boolq": (.4320, .5263, .4930, .4038), "sentineg": (.4858, .7950, .7320, .7851),
                         "wic": (.3390, .4944, .4203, .3835)},
    "polyglot-ko-5.8b": {"copa": (.7745, .7676, .7775, .7887), "hellaswag": (.5976, .5998, .5979, .6208),
                         "boolq": (.4356, .5698, .5187, .5236), "sentineg": (.3394, .8841, .8808, .9521),
                         "wic": (.3913, .4688, .4189, .3910)},
    "polyglot-ko-12.8b": {"copa": (.7937, .8108, .8037, .8369), "hellaswag": (.5954, .6306, .6098, .6118),
                          "boolq": (.4818, .6041, .6289, .6448), "sentineg": (.9117, .9015, .9345, .9723),
                          "wic": (.3985, .3683, .3307, .3273)},
    "skt/ko-gpt-trinity-1.2B-v0.5": {"copa": (.6696, .6477, .6419, .6514), "hellaswag": (.5243, .5272, .5166, .5352),
                                     "boolq": (.3356, .4014, .3640, .3560), "sentineg": (.6065, .6878, .7280, .8413),
                                     "wic": (.3290, .4313, .4001, .3621)},
    "kakaobrain/kogpt": {"copa": (.7345, .7287, .7277, .7479), "hellaswag": (.5590, .5833, .5828, .5907),
                         "boolq": (.4514, .5981, .5499, .5202), "sentineg": (.3747, .8942, .9294, .9698),
                         "wic": (.3526, .4775, .4358, .4061)},
    "facebook/xglm-7.5B": {"copa": (.6723, .6731, .6769, .7119), "hellaswag": (.5665, .5689, .5565, .5622),
                           "boolq": (.4464, .3324, .3324, .3324), "sentineg": (.3578, .4471, .3964, .5271),
                           "wic": (.3280, .4903, .4945, .3656)},
}
TABLE_ORDER = ("copa", "hellaswag", "boolq", "sentineg", "wic")
TITLES = {"copa": "COPA", "hellaswag": "HellaSwag", "boolq": "BoolQ", "sentineg": "SentiNeg", "wic": "WiC"}


def markdown_table(new_name: str, new_f1: dict[str, float], shots: int) -> str:
    """The POLYGLOT-KO.md layout at one shot count, published rows first, the new model last."""
    head = "| model | " + " | ".join(TITLES[t] for t in TABLE_ORDER) + " |"
    rows = [f"Macro-F1, {shots}-shot" + ("" if shots in SHOTS else " (published rows: nearest published shots)"),
            "", head, "|---" * (len(TABLE_ORDER) + 1) + "|"]
    col = SHOTS.index(min(SHOTS, key=lambda s: abs(s - shots)))
    for model, tasks in KOBEST_F1.items():
        rows.append(f"| {model} | " + " | ".join(f"{tasks[t][col]:.4f}" for t in TABLE_ORDER) + " |")
    rows.append(f"| **{new_name}** | " + " | ".join(f"{new_f1[t]:.4f}" if t in new_f1 else "-" for t in TABLE_ORDER)
                + " |")
    return "\n".join(rows) + "\n"
