"""The service-level charts: valid SVG, the same bytes for the same input, no script, cached."""

import time
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from gateway.cases import charts

SVG = "{http://www.w3.org/2000/svg}"
LABELS = charts.Labels("Selesai tepat waktu", "Bulan jatuh tempo", "Tepat waktu", "Tidak ada data")
MONTHS = [
    (f"Jan {n:02d}", share)
    for n, share in enumerate(
        (0.5, None, 1.0, 0.0, 0.25, 0.8, 0.9, 1.0, 0.6, 0.7, 0.75, 0.95), start=1
    )
]


def drawings():
    return {
        "share": lambda labels: charts.share_on_time(MONTHS, labels),
        "bars": lambda labels: charts.bars([("Jan", 3), ("Feb", 0), ("Mar", 12)], labels),
        "units": lambda labels: charts.bars(
            [("3275.DISDUKCAPIL", 4), ("3275.PKM.KARANGKITRI", 1)], labels, horizontal=True
        ),
        "histogram": lambda labels: charts.response_days(
            Counter({0: 3, 4: 2, 14: 9, 15: 1, 61: 2}), labels
        ),
        "wide histogram": lambda labels: charts.response_days(
            {n: 1 for n in range(0, 400, 7)}, labels
        ),
        "empty": lambda labels: charts.response_days({}, labels),
    }


@pytest.mark.parametrize("name", list(drawings()))
def test_a_chart_is_an_svg_document_without_script(name):
    text = drawings()[name](LABELS)
    root = ET.fromstring(text.encode())  # noqa: S314 (our own output)
    assert root.tag == f"{SVG}svg"
    assert not list(root.iter(f"{SVG}script")) and "<script" not in text.lower()
    assert "javascript:" not in text and " on" not in "".join(
        f" {attr}" for element in root.iter() for attr in element.attrib
    )
    # The texts are text (svg.fonttype none), in the language they were given in.
    words = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Selesai tepat waktu" in words
    assert "<dc:date>" not in text  # no date in the metadata


def test_the_empty_chart_says_so():
    assert "Tidak ada data" in charts.response_days({}, LABELS)


def test_the_same_input_gives_the_same_bytes():
    first = {name: draw(LABELS) for name, draw in drawings().items()}
    charts._svg.cache_clear()
    again = {name: draw(LABELS) for name, draw in drawings().items()}
    assert first == again
    english = charts.Labels("Done on time", "Month due", "On time", "No data")
    assert charts.share_on_time(MONTHS, english) != first["share"]
    assert "Done on time" in charts.share_on_time(MONTHS, english)


def test_a_chart_is_drawn_once_then_served_from_the_cache():
    charts._svg.cache_clear()
    start = time.perf_counter()
    drawn = charts.share_on_time(MONTHS, LABELS)
    cold = time.perf_counter() - start
    assert charts.cache_info().misses == 1 and charts.cache_info().hits == 0
    start = time.perf_counter()
    # The same data in another form (a list of lists, a generator) is the same key.
    again = charts.share_on_time(([m, s] for m, s in MONTHS), LABELS)
    warm = time.perf_counter() - start
    assert again is drawn
    assert charts.cache_info().hits == 1
    assert warm < 0.005 and cold < 1.0, (cold, warm)


def test_the_shares_are_drawn_as_percentages():
    text = charts.share_on_time([("Jan", 0.5), ("Feb", None), ("Mar", 1.0)], LABELS)
    root = ET.fromstring(text.encode())  # noqa: S314 (our own output)
    words = [t.text for t in root.iter(f"{SVG}text")]
    assert "50%" in words and "100%" in words
