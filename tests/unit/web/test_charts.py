"""Server-side SVG charts: well-formed XML, accessible titles, escaped text, shapes that follow
the numbers."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from web import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))


def shapes(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == css_class]


def test_bar_heights_follow_the_values_and_each_bar_says_its_number():
    root = parse(charts.bar_chart("各班件數", [("101", 10), ("102", 20), ("103", 5)], max_value=20))
    bars = shapes(root, "bar")
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == pytest.approx(charts.PLOT_HEIGHT)
    assert heights[0] == pytest.approx(heights[1] / 2)
    assert heights[2] == pytest.approx(heights[1] / 4)
    # Bars stand on the same baseline.
    assert len({round(float(b.get("y")) + float(b.get("height")), 3) for b in bars}) == 1
    assert [b.find(f"{SVG}title").text for b in bars] == ["101：10", "102：20", "103：5"]


def test_a_chart_has_a_title_and_description_for_screen_readers():
    root = parse(charts.bar_chart("班級認證率", [("101", 67)]))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "班級認證率" and "101" in desc.text
    assert set(root.get("aria-labelledby").split()) == {title.get("id"), desc.get("id")}


def test_text_is_escaped_and_stays_text():
    evil = '<script>alert("x")</script> & 101'
    svg = str(charts.bar_chart(evil, [(evil, 3)]))
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == evil
    assert not list(root.iter(f"{SVG}script"))


def test_guides_are_drawn_at_their_value():
    root = parse(charts.bar_chart("認證率", [("101", 50)], max_value=100,
                                  guides=[charts.Guide(80, "達 80% 以上"), charts.Guide(60, "達 60% 以上")]))
    guides = shapes(root, "guide")
    ys = [float(g.get("y1")) for g in guides]
    bottom = charts.TOP + charts.PLOT_HEIGHT
    assert bottom - ys[0] == pytest.approx(charts.PLOT_HEIGHT * 0.8)
    assert bottom - ys[1] == pytest.approx(charts.PLOT_HEIGHT * 0.6)


def test_stacked_segments_add_up_to_each_category_total():
    root = parse(charts.stacked_bar_chart("各班狀態", ["101", "102"],
                                          [("認證通過", [2, 4]), ("認證失敗", [1, 0]), ("草稿", [0, 0])]))
    segments = shapes(root, "segment")
    by_category: dict[str, float] = {}
    for s in segments:
        category = s.find(f"{SVG}title").text.split("・")[0]
        by_category[category] = by_category.get(category, 0) + float(s.get("height"))
    assert by_category["102"] == pytest.approx(by_category["101"] * 4 / 3)
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "認證通過" in text and "認證失敗" in text
    assert "草稿" not in text  # a series with nothing in it is left out of the legend


def test_histogram_bars_adjoin_and_follow_the_counts():
    root = parse(charts.histogram("日數", [("未滿 1 日", 4), ("1 日", 2), ("2 日", 0)]))
    bars = shapes(root, "bar")
    assert [float(b.get("height")) for b in bars][:2] == pytest.approx(
        [float(bars[0].get("height")), float(bars[0].get("height")) / 2])
    assert float(bars[2].get("height")) == 0
    assert float(bars[0].get("x")) + float(bars[0].get("width")) == pytest.approx(float(bars[1].get("x")))


def test_line_points_rise_with_the_cumulative_share():
    root = parse(charts.line_chart("累計確認率", [("10/10", 0.25), ("10/11", 0.5), ("10/12", 1.0)]))
    points = shapes(root, "point")
    ys = [float(p.get("cy")) for p in points]
    assert ys[0] > ys[1] > ys[2]
    bottom = charts.TOP + charts.PLOT_HEIGHT
    assert bottom - ys[1] == pytest.approx((bottom - ys[2]) / 2)
    assert points[1].find(f"{SVG}title").text == "10/11：50 %"


@pytest.mark.parametrize("chart", [
    lambda: charts.bar_chart("空", []),
    lambda: charts.histogram("空", []),
    lambda: charts.stacked_bar_chart("空", [], []),
    lambda: charts.line_chart("空", []),
])
def test_empty_charts_are_still_valid_svg(chart):
    assert parse(chart()).tag == f"{SVG}svg"
