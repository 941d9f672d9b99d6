"""Every workflow action, allowed and refused (pure: no database)."""

from __future__ import annotations

import pytest

from api.cases.workflow import ACTIONS, CaseState, Status, TransitionRefused, allowed_actions, decide

INC = "after_cutoff"
STOCK = "before_cutoff"


#: The number of a city's or province's document the county records its word from.
DOC = "永自然资审〔2026〕15号"

def state(status: str, period: str = INC, verdict: str | None = "illegal", remaining: float = 0.0,
          photos: int = 0, resume: str | None = None) -> CaseState:
    return CaseState(status=status, period=period, verdict=verdict, remaining_m2=remaining,
                     photos_after_demolition=photos, resume_status=resume)


INCREMENT_PATH = [
    ("assign", "new", "county_reviewer", {}, "assigned"),
    ("verify", "assigned", "inspector", {"verdict": "illegal", "field_rules": [3]}, "verified"),
    ("serve_notice", "verified", "township_officer", {}, "notice_served"),
    ("start_demolition", "notice_served", "township_officer", {}, "demolishing"),
    ("record_demolition", "demolishing", "inspector", {}, "demolished"),
    ("restore", "demolished", "inspector", {}, "restored"),
    ("submit", "reinspected", "township_officer", {}, "submitted"),
    ("pass_review", "submitted", "county_reviewer", {}, "closed"),
]


@pytest.mark.parametrize(("action", "status", "role", "payload", "target"), INCREMENT_PATH)
def test_increment_path_steps(action, status, role, payload, target):
    assert decide(action, state(status), role, payload) == target


def test_reinspection_needs_a_photo_after_demolition():
    with pytest.raises(TransitionRefused, match="photo"):
        decide("reinspect", state("restored"), "inspector", {})
    assert decide("reinspect", state("restored", photos=1), "inspector", {}) == Status.REINSPECTED


@pytest.mark.parametrize(("action", "status", "role", "payload", "target"), [
    ("classify", "verified", "township_officer", {"decision": "fine_keep"}, "classified"),
    ("rectify", "classified", "township_officer", {}, "rectified"),
    ("submit", "rectified", "township_officer", {}, "submitted"),
])
def test_stock_path_steps(action, status, role, payload, target):
    assert decide(action, state(status, period=STOCK), role, payload) == target


def test_increment_is_never_classified_and_stock_never_demolished_without_classification():
    with pytest.raises(TransitionRefused, match="zero tolerance"):
        decide("classify", state("verified"), "township_officer", {"decision": "fine_keep"})
    with pytest.raises(TransitionRefused, match="classify stock"):
        decide("serve_notice", state("verified", period=STOCK), "township_officer", {})


def test_legal_verdict_goes_straight_to_review_with_a_reason():
    with pytest.raises(TransitionRefused, match="legal_reason"):
        decide("verify", state("assigned", verdict=None), "inspector", {"verdict": "legal"})
    assert decide("verify", state("assigned", verdict=None), "inspector",
                  {"verdict": "legal", "legal_reason": "rural_road"}) == "verified"
    assert decide("submit", state("verified", verdict="legal"), "township_officer", {}) == "submitted"
    with pytest.raises(TransitionRefused, match="legal verdict"):
        decide("submit", state("verified", verdict="illegal"), "township_officer", {})


def test_illegal_verdict_needs_a_known_period_and_field_codes_are_3_5_7():
    with pytest.raises(TransitionRefused, match="period"):
        decide("verify", state("assigned", period="unknown", verdict=None), "inspector", {"verdict": "illegal"})
    assert decide("verify", state("assigned", period="unknown", verdict=None), "inspector",
                  {"verdict": "illegal", "period": "after_cutoff"}) == "verified"
    with pytest.raises(TransitionRefused, match="3, 5, 7"):
        decide("verify", state("assigned"), "inspector", {"verdict": "illegal", "field_rules": [1]})


def test_review_closes_only_at_zero_remaining_and_return_needs_a_reason():
    with pytest.raises(TransitionRefused, match=r"remaining unrectified area is 12\.50"):
        decide("pass_review", state("submitted", remaining=12.5), "county_reviewer", {})
    with pytest.raises(TransitionRefused, match="reason"):
        decide("return", state("submitted", resume="reinspected"), "county_reviewer", {})
    assert decide("return", state("submitted", resume="reinspected"), "county_reviewer",
                  {"reason": "照片不清"}) == "reinspected"


@pytest.mark.parametrize(("action", "role"), [
    ("assign", "inspector"), ("pass_review", "township_officer"), ("return", "inspector"),
    ("serve_notice", "inspector"), ("classify", "county_reviewer"),
])
def test_roles_that_may_not(action, role):
    source = next(iter(ACTIONS[action].sources))
    with pytest.raises(TransitionRefused, match=f"{role}s may not"):
        decide(action, state(source), role, {"reason": "x", "decision": "demolish"})


def test_every_action_is_refused_from_every_state_it_does_not_start_from():
    for name, action in ACTIONS.items():
        for status in Status:
            if status in action.sources:
                continue
            with pytest.raises(TransitionRefused, match="cannot"):
                decide(name, state(status.value), "admin", {})


def test_unknown_action_and_allowed_actions():
    with pytest.raises(TransitionRefused, match="unknown action"):
        decide("bulldoze", state("new"), "admin", {})
    assert allowed_actions(state("new"), "county_reviewer") == ["assign", "file"]
    # A closed case: only the county's record of the review above it (the city's word, then the province's).
    assert allowed_actions(state("closed"), "admin") == ["upper_pass", "upper_return"]
    assert allowed_actions(state("closed"), "inspector") == []


@pytest.mark.parametrize(("status", "decision", "requested", "approve", "target"), [
    ("classified", "fine_keep", INC, True, "verified"),  # into zero tolerance: the keep decision is void
    ("rectified", "legalise", "extended_after_cutoff", True, "verified"),
    ("rectified", "confiscate", INC, True, "verified"),
    ("rectified", "fine_keep", INC, False, "rectified"),  # refused: nothing changes
    ("classified", "demolish", INC, True, "classified"),  # a demolition stands either way
    ("verified", None, INC, True, "verified"),
    ("demolishing", None, STOCK, True, "demolishing"),
])
def test_a_change_into_zero_tolerance_voids_a_decision_to_keep_the_house(status, decision, requested, approve,
                                                                          target):
    case = CaseState(status=status, period=STOCK, verdict="illegal", remaining_m2=0.0, decision=decision,
                     requested_period=requested)
    assert decide("decide_period", case, "county_reviewer", {"approve": approve, "reason": "合同"}) == target


def test_no_decision_keeps_a_house_on_permanent_farmland():
    on_farmland = CaseState(status="verified", period=STOCK, verdict="illegal", remaining_m2=80.0,
                            on_permanent_farmland=True, farmland_m2=80.0)
    for decision in ("legalise", "fine_keep", "confiscate"):
        with pytest.raises(TransitionRefused, match="第77条"):
            decide("classify", on_farmland, "township_officer", {"decision": decision})
    assert decide("classify", on_farmland, "township_officer", {"decision": "demolish"}) == Status.CLASSIFIED


@pytest.mark.parametrize(("status", "decision"), [
    ("classified", "confiscate"), ("rectified", "confiscate"), ("classified", "fine_keep"),
    ("rectified", "legalise"),
])
def test_a_decision_keeping_a_house_on_permanent_farmland_never_closes_the_case(status, decision):
    """A decision taken before the law was read right (confiscation kept a house on permanent basic farmland until
    stop 35) is void: the case is neither submitted nor passed with it, and the township classifies it again —
    only demolition is accepted."""
    kept = CaseState(status=status, period=STOCK, verdict="illegal", remaining_m2=0.0, decision=decision,
                     on_permanent_farmland=True, farmland_m2=80.0)
    if status == "rectified":
        with pytest.raises(TransitionRefused, match="classify it again"):
            decide("submit", kept, "township_officer", {})
    submitted = CaseState(status="submitted", period=STOCK, verdict="illegal", remaining_m2=0.0, decision=decision,
                          on_permanent_farmland=True, farmland_m2=80.0, resume_status=status)
    with pytest.raises(TransitionRefused, match="第77条"):
        decide("pass_review", submitted, "county_reviewer", {})
    assert "classify" in allowed_actions(kept, "township_officer")
    for keep in ("legalise", "fine_keep", "confiscate"):
        with pytest.raises(TransitionRefused, match="第77条"):
            decide("classify", kept, "township_officer", {"decision": keep})
    assert decide("classify", kept, "township_officer", {"decision": "demolish"}) == Status.CLASSIFIED


@pytest.mark.parametrize("status", ["classified", "rectified"])
def test_a_decision_keeping_an_increment_never_closes_the_case(status):
    """A house built from the cutoff on, classified to be kept before a change of period into zero tolerance voided
    such decisions (stop 35): neither submitted nor passed; classified again, demolition only. An extension's old
    part kept for a fine is stock, and lawful: its case goes on."""
    kept = CaseState(status=status, period=INC, verdict="illegal", remaining_m2=0.0, decision="fine_keep")
    if status == "rectified":
        with pytest.raises(TransitionRefused, match="zero tolerance"):
            decide("submit", kept, "township_officer", {})
    submitted = CaseState(status="submitted", period=INC, verdict="illegal", remaining_m2=0.0, decision="legalise",
                          resume_status=status)
    with pytest.raises(TransitionRefused, match="classify it again"):
        decide("pass_review", submitted, "county_reviewer", {})
    with pytest.raises(TransitionRefused, match="zero tolerance"):
        decide("classify", kept, "township_officer", {"decision": "confiscate"})
    assert decide("classify", kept, "township_officer", {"decision": "demolish"}) == Status.CLASSIFIED
    old_part = CaseState(status=status, period="extended_after_cutoff", verdict="illegal", remaining_m2=0.0,
                         decision="fine_keep")
    assert "classify" not in allowed_actions(old_part, "township_officer")
    if status == "rectified":
        assert decide("submit", old_part, "township_officer", {}) == Status.SUBMITTED


def test_a_returned_case_may_be_classified_again():
    """The county returns a stock case kept for a fine: the decision itself may be what is wrong, so the township
    may classify it again (not only submit it as it was)."""
    returned = CaseState(status="rectified", period=STOCK, verdict="illegal", remaining_m2=0.0, decision="fine_keep",
                         returned=True)
    assert "classify" in allowed_actions(returned, "township_officer")
    assert decide("classify", returned, "township_officer", {"decision": "demolish"}) == Status.CLASSIFIED
    assert decide("submit", returned, "township_officer", {}) == Status.SUBMITTED  # or as it was


def test_an_extensions_old_part_is_classified_once():
    """Re-inspected after its new part's demolition, an extension's old part is classified; re-inspected after the
    old part's own demolition (decision `demolish`), nothing is left to classify: submit, not classify."""
    wing_gone = CaseState(status="reinspected", period="extended_after_cutoff", verdict="illegal", remaining_m2=120.0,
                          old_part_m2=120.0)
    assert "classify" in allowed_actions(wing_gone, "township_officer")
    with pytest.raises(TransitionRefused, match="classified next"):
        decide("submit", wing_gone, "township_officer", {})
    all_gone = CaseState(status="reinspected", period="extended_after_cutoff", verdict="illegal", remaining_m2=0.0,
                         decision="demolish")
    assert "classify" not in allowed_actions(all_gone, "township_officer")
    assert decide("submit", all_gone, "township_officer", {}) == Status.SUBMITTED


def test_a_decision_is_not_taken_again_where_the_law_allows_it():
    """Off permanent basic farmland a stock decision stands: classify is not on offer once more."""
    for status in ("classified", "rectified"):
        kept = CaseState(status=status, period=STOCK, verdict="illegal", remaining_m2=0.0, decision="fine_keep")
        assert "classify" not in allowed_actions(kept, "township_officer")
        with pytest.raises(TransitionRefused, match="classified already"):
            decide("classify", kept, "township_officer", {"decision": "demolish"})
    demolish = CaseState(status="classified", period=STOCK, verdict="illegal", remaining_m2=80.0,
                         decision="demolish", on_permanent_farmland=True, farmland_m2=80.0)
    assert "classify" not in allowed_actions(demolish, "township_officer")


def test_a_stock_case_with_new_construction_reported_and_unchecked_is_not_closed():
    """A patroller reported new construction at the house of a stock case (a wing going up). Before, it was an event
    in the case's history, and the case was kept, rectified and closed with the wing standing, out of zero tolerance
    unseen. The county passes no such case until the finding is handled (checked on site; a wing after the cutoff
    is a change of period into zero tolerance)."""
    submitted = CaseState(status="submitted", period=STOCK, verdict="illegal", remaining_m2=0.0,
                          decision="fine_keep", resume_status="rectified", unchecked_growth=True)
    with pytest.raises(TransitionRefused, match="new construction"):
        decide("pass_review", submitted, "county_reviewer", {})
    checked = CaseState(status="submitted", period=STOCK, verdict="illegal", remaining_m2=0.0,
                        decision="fine_keep", resume_status="rectified")
    assert decide("pass_review", checked, "county_reviewer", {}) == Status.CLOSED


def test_the_levels_above_the_county_review_in_turn_and_a_return_undoes_the_closing():
    """Review levels county → city → province (domain: a case is rectified when its area is 0 *and* the review
    is over). Before, the county's pass was the end: a city's return had no way back into the case."""
    from dataclasses import replace

    from api.cases.workflow import awaited_level, event_note

    closed = state("closed", resume="reinspected")
    assert awaited_level(None) == "city" and awaited_level("city") == "province" and awaited_level("province") is None
    assert {"upper_pass", "upper_return"} <= set(allowed_actions(closed, "county_reviewer"))
    assert allowed_actions(closed, "township_officer") == []
    with pytest.raises(TransitionRefused, match="may not"):
        decide("upper_return", closed, "township_officer", {"level": "city", "reason": "x", "document": DOC})
    with pytest.raises(TransitionRefused, match="awaits the city"):  # the province only after the city
        decide("upper_pass", closed, "county_reviewer", {"level": "province", "document": DOC})
    with pytest.raises(TransitionRefused, match="awaits the city"):
        decide("upper_pass", closed, "county_reviewer", {})
    with pytest.raises(TransitionRefused, match="文号"):  # the county records the city's word from its document
        decide("upper_pass", closed, "county_reviewer", {"level": "city", "document": " "})
    assert decide("upper_pass", closed, "county_reviewer", {"level": "city", "document": DOC}) == Status.CLOSED
    city_passed = replace(closed, upper_passed="city")
    with pytest.raises(TransitionRefused, match="awaits the province"):
        decide("upper_return", city_passed, "county_reviewer", {"level": "city", "reason": "复核不清", "document": DOC})
    with pytest.raises(TransitionRefused, match="needs its reason"):
        decide("upper_return", city_passed, "county_reviewer", {"level": "province", "reason": " ", "document": DOC})
    # A return puts the case back where the township submitted it from.
    assert decide("upper_return", city_passed, "county_reviewer",
                  {"level": "province", "reason": "复耕不到位", "document": DOC}) == Status.REINSPECTED
    assert decide("upper_return", replace(closed, resume_status=None), "county_reviewer",
                  {"level": "city", "reason": "x", "document": DOC}) == Status.ASSIGNED
    over = replace(closed, upper_passed="province")
    assert "upper_pass" not in allowed_actions(over, "county_reviewer")
    with pytest.raises(TransitionRefused, match="review is over"):
        decide("upper_return", over, "county_reviewer", {"level": "province", "reason": "x", "document": DOC})
    for open_status in ("submitted", "reinspected", "verified"):  # only a closed case is reviewed above
        with pytest.raises(TransitionRefused, match="cannot upper_pass"):
            decide("upper_pass", state(open_status), "county_reviewer", {"level": "city", "document": DOC})
    returned = {"level": "city", "reason": "照片不清", "document": DOC}
    assert event_note("upper_return", returned) == f"市级（{DOC}）：照片不清"
    assert event_note("upper_pass", {"level": "province", "document": DOC}) == f"省级（{DOC}）"
    assert event_note("return", {"reason": "r"}) == "r" and event_note("assign", {}) is None
