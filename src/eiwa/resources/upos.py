"""Universal POS (the 17 tags of Universal Dependencies) from the tag sets eiwa meets.

Japanese: UniDic levels (eiwa's tokenizer, unidic-lite) and IPAdic levels (the Hironsan corpus's
own MeCab columns) share most level-1 names, so one mapping serves both; it follows the UD
Japanese treebanks' conversion where they agree (固有名詞 -> PROPN, 数詞 -> NUM, 助動詞 -> AUX, ...).
English: the Penn Treebank tags of CoNLL-2003's POS column, as in UD's English conversion.
The universal tag is what Japanese and English share, so that a `pos` module can transfer.
"""

from __future__ import annotations

from functools import lru_cache

UPOS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)

# Japanese level 1 (UniDic and IPAdic spellings) -> UPOS, refined by level 2 below.
_JA_LEVEL1 = {
    "名詞": "NOUN",
    "代名詞": "PRON",
    "形状詞": "ADJ",
    "連体詞": "DET",
    "副詞": "ADV",
    "接続詞": "CCONJ",
    "感動詞": "INTJ",
    "動詞": "VERB",
    "形容詞": "ADJ",
    "助動詞": "AUX",
    "助詞": "ADP",
    "接頭辞": "NOUN",
    "接頭詞": "NOUN",
    "接尾辞": "NOUN",
    "補助記号": "PUNCT",
    "記号": "SYM",
    "フィラー": "INTJ",
    "空白": "X",
}
_JA_LEVEL2 = {
    ("名詞", "固有名詞"): "PROPN",
    ("名詞", "数詞"): "NUM",
    ("名詞", "数"): "NUM",
    ("名詞", "代名詞"): "PRON",
    ("名詞", "助動詞語幹"): "AUX",
    ("形状詞", "助動詞語幹"): "AUX",
    ("助詞", "接続助詞"): "SCONJ",
    ("助詞", "準体助詞"): "SCONJ",
    ("助詞", "終助詞"): "PART",
    ("接尾辞", "形状詞的"): "ADJ",
    ("接尾辞", "形容詞的"): "ADJ",
    ("接尾辞", "動詞的"): "VERB",
    ("補助記号", "一般"): "SYM",
    ("補助記号", "ＡＡ"): "SYM",
    ("記号", "句点"): "PUNCT",
    ("記号", "読点"): "PUNCT",
    ("記号", "括弧開"): "PUNCT",
    ("記号", "括弧閉"): "PUNCT",
    ("記号", "空白"): "X",
}

_PTB = {
    "CC": "CCONJ",
    "CD": "NUM",
    "DT": "DET",
    "EX": "PRON",
    "FW": "X",
    "IN": "ADP",
    "JJ": "ADJ",
    "JJR": "ADJ",
    "JJS": "ADJ",
    "LS": "X",
    "MD": "AUX",
    "NN": "NOUN",
    "NNS": "NOUN",
    "NNP": "PROPN",
    "NNPS": "PROPN",
    "PDT": "DET",
    "POS": "PART",
    "PRP": "PRON",
    "PRP$": "PRON",
    "RB": "ADV",
    "RBR": "ADV",
    "RBS": "ADV",
    "RP": "ADP",
    "SYM": "SYM",
    "TO": "PART",
    "UH": "INTJ",
    "VB": "VERB",
    "VBD": "VERB",
    "VBG": "VERB",
    "VBN": "VERB",
    "VBP": "VERB",
    "VBZ": "VERB",
    "WDT": "DET",
    "WP": "PRON",
    "WP$": "PRON",
    "WRB": "ADV",
    "#": "SYM",
    "$": "SYM",
    "''": "PUNCT",
    "``": "PUNCT",
    ",": "PUNCT",
    ".": "PUNCT",
    ":": "PUNCT",
    "(": "PUNCT",
    ")": "PUNCT",
    "-LRB-": "PUNCT",
    "-RRB-": "PUNCT",
    '"': "PUNCT",
    "NN|SYM": "NOUN",
}


@lru_cache(maxsize=4096)
def upos_japanese(levels: tuple[str, ...]) -> str:
    """UPOS of a Japanese token from its POS levels (UniDic or IPAdic)."""
    if not levels:
        return "X"
    level1 = levels[0]
    level2 = levels[1] if len(levels) > 1 else "*"
    return _JA_LEVEL2.get((level1, level2)) or _JA_LEVEL1.get(level1, "X")


def upos_ptb(tag: str) -> str:
    """UPOS of a Penn Treebank tag (CoNLL-2003's POS column); unknown tags are X."""
    return _PTB.get(tag, "X")


@lru_cache(maxsize=4096)
def level_names(levels: tuple[str, ...], depth: int = 3) -> tuple[str, ...]:
    """The first `depth` levels as cumulative names, so that a level's value keeps its parent:
    (名詞, 固有名詞, 人名, 姓) -> [名詞, 名詞-固有名詞, 名詞-固有名詞-人名].
    Missing levels ("*") stay empty ("")."""
    names, parts = [], []
    for level in list(levels[:depth]) + ["*"] * (depth - len(levels[:depth])):
        if level in ("*", "", None) or (parts and parts[-1] is None):
            parts.append(None)
            names.append("")
        else:
            parts.append(level)
            names.append("-".join(parts))
    return tuple(names)
