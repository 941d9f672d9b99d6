"""The rule set: the 2020-07-03 cutoff, the eight prohibitions (八不准) and their thresholds.

One place for each decision: every other module asks this one what counts as cultivated land, which day
the prohibitions start, and how large an overlap must be before it is a violation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

#: 自然资发〔2020〕127号: the prohibitions apply *from* this day on (inclusive).
CUTOFF = dt.date(2020, 7, 3)

#: 三调 land-class codes of cultivated land (耕地): 水田, 水浇地, 旱地.
CULTIVATED_CODES: frozenset[str] = frozenset({"0101", "0102", "0103"})

#: 1 亩 in square metres (10 000 / 15).
MU_M2 = 10_000.0 / 15.0


class Prohibition(IntEnum):
    """The eight prohibitions (八不准), by their official numbers."""

    PERMANENT_FARMLAND = 1  # 占用永久基本农田建房
    SEIZE_OR_OVER_OCCUPY = 2  # 强占多占耕地建房
    TRADED_LAND = 3  # 买卖、流转耕地违法建房
    CONTRACTED_LAND = 4  # 在承包耕地上违法建房
    PRETEXT = 5  # 巧立名目违法占用耕地建房
    ONE_HOUSEHOLD_ONE_HOMESTEAD = 6  # 违反"一户一宅"
    SELLING = 7  # 非法出售占用耕地建的房屋
    ILLEGAL_APPROVAL = 8  # 违法审批占用耕地建房


#: The official wording of each prohibition (Chinese, for users; the number beside it).
PROHIBITION_NAMES: dict[int, str] = {
    1: "占用永久基本农田建房", 2: "强占多占耕地建房", 3: "买卖、流转耕地违法建房", 4: "在承包耕地上违法建房",
    5: "巧立名目违法占用耕地建房", 6: "违反“一户一宅”规定占用耕地建房", 7: "非法出售占用耕地建的房屋",
    8: "违法审批占用耕地建房"}
#: The same in English, for users who pick it (the Chinese is the regulation's own wording).
PROHIBITION_NAMES_EN: dict[int, str] = {
    1: "house on permanent basic farmland", 2: "seizing or over-occupying cultivated land",
    3: "house on cultivated land bought, sold or transferred", 4: "house on contracted cultivated land",
    5: "house on cultivated land under a false pretext", 6: "breach of one household, one homestead",
    7: "selling a house built on cultivated land", 8: "unlawful approval of a house on cultivated land"}

#: Who built a house (the houses layer's builder_type / 建房主体), as the national 摸排 table names them.
BUILDER_TYPE_NAMES: dict[str, str] = {"farmer": "农户", "non_farmer": "非农户", "collective": "村集体",
                                      "enterprise": "企业"}

#: Codes only an inspector on site can establish; geometry and registers never set them.
FIELD_ONLY_PROHIBITIONS: frozenset[int] = frozenset({3, 5, 7})


class Period(StrEnum):
    """When the part of a house that matters was built, relative to the cutoff."""

    BEFORE_CUTOFF = "before_cutoff"  # stock / 存量
    AFTER_CUTOFF = "after_cutoff"  # increment / 增量
    EXTENDED_AFTER_CUTOFF = "extended_after_cutoff"  # an old house with a new part
    UNKNOWN = "unknown"


#: Chinese names of the periods.
PERIOD_NAMES: dict[str, str] = {"before_cutoff": "存量（2020年7月3日前）", "after_cutoff": "增量（2020年7月3日起）",
                                "extended_after_cutoff": "存量扩建（新增部分为增量）", "unknown": "时间待核实"}
PERIOD_NAMES_EN: dict[str, str] = {"before_cutoff": "stock (before 2020-07-03)",
                                   "after_cutoff": "increment (2020-07-03 on)",
                                   "extended_after_cutoff": "extended stock (new part is increment)",
                                   "unknown": "date to be verified"}


class Disposition(StrEnum):
    """What enforcement does with a house."""

    DEMOLISH = "demolish"  # increment on farmland or cultivated land: zero tolerance (拆除到位)
    CLASSIFY = "classify"  # stock: classified and handled case by case (分类处置)
    VERIFY = "verify"  # period unknown: an inspector must establish it
    NONE = "none"


def built_between(before: dt.date, after: dt.date, cutoff: dt.date) -> dt.date | None:
    """A construction date that places a building absent on imagery of `before` and present on imagery of
    `after` in the right period relative to `cutoff`: `after` when both passes lie on the same side of the
    cutoff (from it on: an increment; before it: stock); None — period unknown, an inspector must establish
    it — when the cutoff falls between the two passes (the building may predate it)."""
    if before >= cutoff or after < cutoff:
        return after
    return None


#: Chinese names of the dispositions.
DISPOSITION_NAMES: dict[str, str] = {"demolish": "拆除（零容忍）", "classify": "分类处置", "verify": "待核实",
                                     "none": "不违法"}
DISPOSITION_NAMES_EN: dict[str, str] = {"demolish": "demolish (zero tolerance)", "classify": "classify",
                                        "verify": "to verify", "none": "not a violation"}


@dataclass(frozen=True)
class RuleSet:
    """The settings of the rules, with the national/provincial defaults.

    Areas are in m² of a projected CRS.
    """

    cutoff: dt.date = CUTOFF
    min_area_m2: float = 1.0
    homestead_standard_m2: float = 130.0
    cultivated_codes: frozenset[str] = field(default_factory=lambda: CULTIVATED_CODES)

    def __post_init__(self) -> None:
        if self.min_area_m2 < 0:
            raise ValueError(f"min_area_m2 must be >= 0, got {self.min_area_m2}")
        if self.homestead_standard_m2 <= 0:
            raise ValueError(f"homestead_standard_m2 must be > 0, got {self.homestead_standard_m2}")


class ApprovalKind(StrEnum):
    """What an approval grants. Only a grant or a conversion of the land itself makes a house on cultivated
    land lawful (土地管理法 第44条 农用地转用, 第62条 宅基地审批); a rural planning permit (乡村建设规划许可,
    城乡规划法 第41条) allows building but does not convert farmland."""

    HOMESTEAD = "homestead"  # 农村宅基地批准（书）
    LAND_CONVERSION = "land_conversion"  # 农用地转用批准
    PLANNING_PERMIT = "planning_permit"  # 乡村建设规划许可证
    UNKNOWN = "unknown"


#: The kinds of approval that can legalise a house on cultivated land.
LEGALISING_KINDS: frozenset[ApprovalKind] = frozenset({ApprovalKind.HOMESTEAD, ApprovalKind.LAND_CONVERSION})

#: How registers write each kind (compared after stripping spaces, case-insensitively).
APPROVAL_KIND_NAMES: dict[str, ApprovalKind] = {
    **dict.fromkeys(("homestead", "宅基地", "宅基地批准", "宅基地审批", "宅基地批准书", "农村宅基地批准书",
                     "农村宅基地审批"), ApprovalKind.HOMESTEAD),
    **dict.fromkeys(("land_conversion", "conversion", "farmland_conversion", "农转用", "农用地转用",
                     "农用地转用批准", "农转用批准", "农用地转用审批"), ApprovalKind.LAND_CONVERSION),
    **dict.fromkeys(("planning_permit", "规划许可", "乡村建设规划许可", "乡村建设规划许可证", "乡村规划许可"),
                    ApprovalKind.PLANNING_PERMIT),
}

#: The Chinese name of each kind, as reports print it.
APPROVAL_KIND_LABELS: dict[ApprovalKind, str] = {
    ApprovalKind.HOMESTEAD: "宅基地批准", ApprovalKind.LAND_CONVERSION: "农用地转用批准",
    ApprovalKind.PLANNING_PERMIT: "乡村建设规划许可", ApprovalKind.UNKNOWN: "其他（不能合法化）"}


def approval_kind(value: object) -> ApprovalKind:
    """The kind an approval register's value names; UNKNOWN for anything else (never trusted to legalise)."""
    if value is None or (isinstance(value, float) and value != value):
        return ApprovalKind.UNKNOWN
    return APPROVAL_KIND_NAMES.get("".join(str(value).split()).lower(), ApprovalKind.UNKNOWN)


def format_rules(codes: set[int] | frozenset[int]) -> str:
    """Render a set of 八不准 codes the way the registers write them: '1,4,6'."""
    return ",".join(str(c) for c in sorted(codes))


def parse_rules(text: str | None) -> frozenset[int]:
    """Parse '1,4,6' back into a set of codes, refusing anything outside 1–8."""
    if not text:
        return frozenset()
    codes = frozenset(int(part) for part in str(text).split(",") if part.strip())
    bad = [c for c in codes if c not in Prohibition._value2member_map_]
    if bad:
        raise ValueError(f"not a 八不准 code: {bad}")
    return codes
