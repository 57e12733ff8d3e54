"""Every text of the console's templates has its Bahasa Indonesia translation."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from gateway.http.console import i18n
from gateway.http.console.evidence import parse_day

TEMPLATES = Path(i18n.__file__).parent / "templates"
CATALOGUE = Path(i18n.__file__).parent / "translations" / "id" / "LC_MESSAGES" / "messages.po"


def texts_of_the_templates():
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        TEMPLATES,
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_text_is_translated():
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source, locale="id")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalogue
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    texts = texts_of_the_templates()
    assert len(texts) > 100
    assert sorted(texts - translated) == []
    # And nothing is kept in the catalogue that no template says.
    assert sorted(translated - texts) == []


def test_the_catalogue_compiles_and_translates():
    catalogue = i18n.translations("id")
    assert catalogue.gettext("Exchanges") == "Pertukaran"
    assert catalogue.ngettext("%(num)s exchange", "%(num)s exchanges", 2) == "%(num)s pertukaran"
    assert i18n.translations("en").gettext("Exchanges") == "Exchanges"
    assert i18n.format_time("2026-11-29T07:44:28.123456Z", "id") == "29 Nov 2026 07.44.28 UTC"
    assert i18n.format_number(10000, "id") == "10.000"


def test_a_filter_day_is_a_day_in_jakarta():
    assert parse_day("2026-12-07") == "2026-12-06T17:00:00.000000Z"
    assert parse_day("2026-12-07", end=True) == "2026-12-07T17:00:00.000000Z"
    with pytest.raises(ValueError):
        parse_day("0001-01-01")
    assert i18n.format_wib("2026-11-29T17:30:00Z", "id") == "30 Nov 2026 00.30.00 WIB"
