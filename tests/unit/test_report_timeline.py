"""The per-payment timeline SVG: valid XML, labelled lanes, a legend, the 2nd charge in red."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from harness.report import build_report, read_run
from harness.report.label_layout import place, text_width
from harness.report.operations import pair_operations
from harness.report.timeline import build_timeline, ordinal, short_id
from harness.report.timeline_svg import COLOURS, PLOT_X0, WIDTH, lay_out_labels, render_svg
from tests.sample_runs import write_sample_run
from tests.unit.test_report_data import write_literal_run

SVG = "{http://www.w3.org/2000/svg}"


def _texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}text"))


def _svg_of_literal_run(tmp_path: Path) -> ET.Element:
    report = build_report(read_run(write_literal_run(tmp_path / "r1")))
    return ET.fromstring(render_svg(report["violations"][0]["timeline"]))


def test_the_svg_is_well_formed_and_labels_every_lane(tmp_path: Path) -> None:
    root = _svg_of_literal_run(tmp_path)
    labels = {t.text for t in _texts(root)}
    for lane in ("client w0", "client w1", "provider (stand-in)", "payment status"):
        assert lane in labels
    assert "ms since this payment's first event" in labels
    assert root.get("class") == "timeline" and root.get("width") == "100%"


def test_the_legend_names_every_colour(tmp_path: Path) -> None:
    labels = {t.text for t in _texts(_svg_of_literal_run(tmp_path))}
    for entry in ("ok", "fail (certainly not done)", "info (outcome unknown)", "replayed",
                  "409 key in use", "fault injected", "charge", "2nd+ charge (duplicate)"):
        assert entry in labels


def test_the_second_charge_is_red_and_labelled(tmp_path: Path) -> None:
    texts = _texts(_svg_of_literal_run(tmp_path))
    (second,) = [t for t in texts if t.text == "2nd charge · ch_B"]
    assert second.get("fill") == COLOURS["duplicate"]
    (first,) = [t for t in texts if t.text == "1st charge · ch_A"]
    assert first.get("fill") == COLOURS["charge"]
    assert any(t.text == "not recorded in db" for t in texts)


def test_an_info_outcome_shows_its_error_as_label_and_tooltip(tmp_path: Path) -> None:
    root = _svg_of_literal_run(tmp_path)
    groups = [g for g in root.iter(f"{SVG}g")
              if any(t.text == "charge #1 · info: timeout" for t in g.iter(f"{SVG}text"))]
    assert len(groups) == 1
    tooltip = groups[0].find(f"{SVG}title")
    assert tooltip is not None and "kind=timeout" in (tooltip.text or "")
    (bar,) = groups[0].iter(f"{SVG}rect")
    assert bar.get("fill") == COLOURS["info"]


def test_replays_and_409s_have_their_own_markers(tmp_path: Path) -> None:
    run = read_run(write_sample_run(tmp_path / "safe", "safe"))
    ops = pair_operations(run.history)
    counts = Counter(o.payment_id or "" for o in ops)
    story = counts.most_common(1)[0][0]  # the payment with most operations: the retry story
    model = build_timeline(story, [o for o in ops if o.payment_id == story],
                           [e for e in run.ledger if e.get("payment_id") == story], None)
    assert [r["kind"] for r in model["requests"]] == ["request", "in_use", "replay"]
    # only the first request can be tied to one attempt: the reconciler's re-drive (409) came
    # while charge #1 was in flight but that attempt already had its request, and the replay
    # came while charge #3 was in flight and charge #1's outcome was still unknown
    assert [r["caused_by"] is not None for r in model["requests"]] == [True, False, False]
    labels = {t.text for t in _texts(ET.fromstring(render_svg(model)))}
    assert {"409 in use", "replay 200", "charge · " + short_id(model["charges"][0]["id"])} <= labels
    assert not any("2nd charge" in (t or "") for t in labels)


def test_ordinals_and_short_ids_read_naturally() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
    assert short_id("ch_B") == "ch_B"
    assert short_id("ch_3QabcdEFGHIJKLMNOPQRSTUV") == "ch_3QabcdE…STUV"


def test_text_from_the_evidence_is_escaped(tmp_path: Path) -> None:
    report = build_report(read_run(write_literal_run(tmp_path / "r1")))
    timeline = report["violations"][0]["timeline"]
    timeline["lanes"][0]["items"][1]["title"] = "<script>alert(1)</script> & \"x\""
    svg = render_svg(timeline)
    assert "<script>" not in svg
    assert ET.fromstring(svg) is not None


def test_a_concurrent_double_charge_names_both_attempts_in_flight() -> None:
    """naive's double click: two attempts at once, both charged; nothing is attributed."""
    from harness.report.operations import Operation

    def attempt(index: int, proc: str, start: float, end: float) -> Operation:
        return Operation(index=index, end_index=index + 2, process=proc, f="charge",
                         payment_id="pay_1", start=start, end=end, start_wall=100 + start,
                         end_wall=100 + end, outcome="ok", error=None,
                         value={"status": "completed"}, idempotency_key=None)

    ops = [attempt(0, "w0", 0.0, 0.05), attempt(1, "w1", 0.001, 0.06)]
    ledger = [
        {"seq": n, "kind": kind, "time": 100 + t, "id": cid, "request_id": f"req_{n // 2}",
         "status": 200 if kind == "request" else "succeeded", "payment_id": "pay_1"}
        for n, (kind, t, cid) in enumerate([("request", 0.02, None), ("charge", 0.02, "ch_1"),
                                            ("request", 0.03, None), ("charge", 0.03, "ch_2")])
    ]
    model = build_timeline("pay_1", ops, ledger, None)
    assert [r["caused_by"] for r in model["requests"]] == [None, None]
    assert model["caption"] == (
        "pay_1: the provider charged ch_1 at +20 ms, while 2 attempts were in flight "
        "(charge #1 on w0: ok; charge #2 on w1: ok), and again: the 2nd charge, ch_2 at +30 ms.")


def _crowded_payment() -> dict[str, Any]:
    """Three charges 3 ms apart, each behind a faulted request, after two quick attempts."""
    from harness.report.operations import Operation

    def attempt(index: int, start: float, end: float, outcome: str) -> Operation:
        return Operation(index=index, end_index=index + 1, process="w0", f="charge",
                         payment_id="pay_1", start=start, end=end, start_wall=100 + start,
                         end_wall=100 + end, outcome=outcome,
                         error={"kind": "timeout"} if outcome == "info" else None,
                         value={"status": "completed"}, idempotency_key=None)

    ops = [attempt(0, 0.0, 1.0, "info"), attempt(2, 1.001, 1.002, "info"),
           attempt(4, 1.003, 1.05, "ok")]
    ledger: list[dict[str, Any]] = []
    for n, t in enumerate((1.010, 1.013, 1.016)):
        ledger.append({"seq": 2 * n, "kind": "request", "time": 100 + t, "status": 200,
                       "fault": "latency+drop_after", "payment_id": "pay_1"})
        ledger.append({"seq": 2 * n + 1, "kind": "charge", "time": 100 + t,
                       "id": f"ch_{n}fc40ed8aa0000000000e865", "payment_id": "pay_1"})
    return build_timeline("pay_1", ops, ledger, {"status": "completed",
                                                 "charge_id": "ch_2fc40ed8aa0000000000e865"})


def test_labels_of_charges_a_few_ms_apart_do_not_overlap() -> None:
    """The label layout stacks crowded labels in rows: no two label boxes share any area."""
    model = _crowded_payment()
    labels = lay_out_labels(model)
    charge_labels = [lb for lb in labels if " charge · " in lb.text]
    assert [lb.text[:10] for lb in charge_labels] == ["1st charge", "2nd charge", "3rd charge"]
    assert sum("latency+drop_after" in lb.text for lb in labels) == 3
    assert sum(lb.text == "not recorded in db" for lb in labels) == 2
    overlapping = [(a.text, b.text) for i, a in enumerate(labels) for b in labels[i + 1:]
                   if a.overlaps(b)]
    assert overlapping == []
    assert all(lb.x >= PLOT_X0 - 4 and lb.x + lb.width <= WIDTH for lb in labels)


def test_crowded_charges_keep_their_markers_and_the_red_second_charge() -> None:
    """Labels move, markers do not: each charge circle stays at its own instant."""
    model = _crowded_payment()
    root = ET.fromstring(render_svg(model))
    texts = _texts(root)
    (second,) = [t for t in texts if (t.text or "").startswith("2nd charge")]
    assert second.get("fill") == COLOURS["duplicate"]
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("r") in ("8.5", "10.5")]
    xs = [float(c.get("cx") or 0) for c in circles]
    assert len(xs) == 3 and xs == sorted(xs) and len(set(xs)) == 3
    # the svg is tall enough for the stacked rows: every label lies inside the viewBox
    height = float((root.get("viewBox") or "").split()[3])
    assert all(lb.y >= 0 and lb.y + lb.height <= height for lb in lay_out_labels(model))


def test_place_moves_an_overlapping_label_to_the_next_row_and_reuses_free_rows() -> None:
    """Greedy and deterministic: the first row with room wins; labels stay inside bounds."""
    slots = place([(0, 50), (10, 50), (20, 50), (70, 20), (990, 50)], left=0, right=1000)
    assert [s.row for s in slots] == [0, 1, 2, 0, 0]
    assert slots[4].x == 950  # pulled left so that it ends inside the picture
    assert text_width("abc", 10) < text_width("abc", 10, bold=True) < text_width("abcd", 10)
