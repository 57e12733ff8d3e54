import itertools
import random

import pytest

from gateway.exchange.validation import validator_for
from schemas import suppression
from schemas.diff import diff
from schemas.registers import registers
from schemas.rekap_pengaduan import DIMENSIONS, LAPOR, SALURAN_PEMKOT, SMALLEST_COUNT
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in validator_for("rekap_pengaduan", "1.0").errors(records)]


def sample():
    return sample_records("rekap_pengaduan", 1, seed=12, version="1.0")[0]


def with_row(record, index, **change):
    rows = [dict(r) for r in record["baris"]]
    rows[index] = dict(rows[index], **change)
    return dict(record, baris=rows)


def test_samples_suppress_small_counts():
    records = sample_records("rekap_pengaduan", 20, seed=2, version="1.0")
    rows = [r for rec in records for r in rec["baris"]]
    assert any(r["disamarkan"] for r in rows)
    assert all(r["jumlah"] is None or r["jumlah"] == 0 or r["jumlah"] >= 5 for r in rows)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_a_count_under_five_is_refused(count):
    record = with_row(sample(), 2, jumlah=count, disamarkan=False)
    assert codes([record]) == [("/records/0/baris/2/jumlah", "count_not_suppressed")]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"jumlah": 7, "disamarkan": True}, "suppressed_count_sent", "jumlah"),
        ({"jumlah": None, "disamarkan": False}, "count_required", "jumlah"),
        ({"jumlah": -5}, "range", "jumlah"),
        ({"nilai": "pertanahan"}, "value_not_in_dimension", "nilai"),  # a substansi, not a channel
        ({"dimensi": "usia"}, "one_of", "dimensi"),
        ({"nama_pelapor": "Budi"}, "unknown_field", "nama_pelapor"),
    ],
)
def test_row_rules(change, code, field):
    assert codes([with_row(sample(), 0, **change)]) == [(f"/records/0/baris/0/{field}", code)]


def test_zero_is_sent_and_rows_are_not_counted_twice():
    record = with_row(sample(), 0, jumlah=0, disamarkan=False)
    assert codes([record]) == []
    twice = dict(record, baris=[*record["baris"], record["baris"][0]])
    assert codes([twice]) == [(f"/records/0/baris/{len(record['baris'])}/nilai", "duplicate_row")]


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-11", "2026-11-01"])
def test_the_period_is_a_month(period):
    assert codes([dict(sample(), periode=period)]) == [("/records/0/periode", "format")]


# -- version 2.0 ------------------------------------------------------------------------------
# A hand-made month (total 40) whose numbers a reader can follow; each test changes it in one
# place. Counts: {"jumlah": n} shown, None suppressed ({"jumlah": null, "disamarkan": true}).


def cell(count):
    if count is None:
        return {"jumlah": None, "disamarkan": True}
    return {"jumlah": count, "disamarkan": False}


def rows(member, counts):
    return [{member: value, **cell(count)} for value, count in counts.items()]


def month(total=40, saluran=None, klasifikasi=None, substansi=None, unit=None, lapor=None,
          **other):  # fmt: skip
    record = {
        "periode": "2026-10",
        "tanggal_data": "2026-11-10",
        "unit_penyusun": "3275.DISKOMINFOSTANDI",
        "jumlah_laporan": cell(total),
        # sp4n_lapor 20, telepon 10, media_sosial 6; surat 3 and email 1 withheld (sum 4)
        "menurut_saluran": rows("saluran", saluran or {
            "sp4n_lapor": 20, "telepon": 10, "media_sosial": 6, "surat": None, "email": None}),
        "menurut_klasifikasi": rows("klasifikasi", klasifikasi or {
            "pengaduan": 30, "aspirasi": 10, "permintaan_informasi": 0}),
        "menurut_substansi": rows("substansi", substansi or {
            "administrasi_kependudukan": 15, "kesehatan": 12, "pekerjaan_umum_infrastruktur": 13}),
        "menurut_unit": rows("unit", unit or {
            "3275.DISDUKCAPIL": 15, "3275.DINKES": 12, "3275.DBMSDA": 13}),
        "sp4n_lapor": {name: cell(count) for name, count in (lapor or {
            "diterima": 20, "ditindaklanjuti_tepat_waktu": 15, "melewati_batas_waktu": 5,
            "selesai": 12}).items()},
    }  # fmt: skip
    record.update(other)
    return record


def codes2(*records):
    return [(e.path, e.code) for e in validator_for("rekap_pengaduan", "2.0").errors(records)]


DERIVABLE = "suppressed_count_derivable"
LAPOR_OK = {"diterima": 20, "ditindaklanjuti_tepat_waktu": 15, "melewati_batas_waktu": 5,
            "selesai": 12}  # fmt: skip


def test_v2_samples_are_valid_and_withhold_small_counts():
    records = [r for seed in (1, 2, 3) for r in sample_records("rekap_pengaduan", 30, seed=seed)]
    assert codes2(*records) == []
    assert sample_records("rekap_pengaduan", 2, seed=4) == sample_records(
        "rekap_pengaduan", 2, seed=4, version="2.0")  # 2.0 is the default
    cells = [r for rec in records for dim, _ in DIMENSIONS for r in rec[dim]]
    assert any(c["disamarkan"] for c in cells)
    assert all(c["jumlah"] is None or c["jumlah"] == 0 or c["jumlah"] >= 5 for c in cells)
    # Complementary: no dimension of any sample withholds a single cell.
    for rec in records:
        for dim, _ in DIMENSIONS:
            assert sum(c["disamarkan"] for c in rec[dim]) != 1, (dim, rec)


def test_the_hand_made_month_is_valid():
    assert codes2(month()) == []


@pytest.mark.parametrize(("where", "code"), [
    ({"jumlah": 3, "disamarkan": False}, "count_not_suppressed"),
    ({"jumlah": 7, "disamarkan": True}, "suppressed_count_sent"),
    ({"jumlah": None, "disamarkan": False}, "count_required"),
    ({"jumlah": -1}, "range"),
])
def test_each_count_is_shown_or_withheld(where, code):
    record = month()
    record["menurut_klasifikasi"][1].update(where)
    assert codes2(record) == [("/records/0/menurut_klasifikasi/1/jumlah", code)]
    record = month()
    record["jumlah_laporan"].update(where)
    assert codes2(record) == [("/records/0/jumlah_laporan/jumlah", code)]
    record = month()
    record["sp4n_lapor"]["selesai"].update(where)
    assert codes2(record) == [("/records/0/sp4n_lapor/selesai/jumlah", code)]


def test_a_single_withheld_cell_is_the_total_minus_the_others():
    record = month(klasifikasi={"pengaduan": 37, "aspirasi": None, "permintaan_informasi": 0})
    assert codes2(record) == [("/records/0/menurut_klasifikasi/1/jumlah", DERIVABLE)]


@pytest.mark.parametrize(("hidden", "derivable"), [
    ((1, 1), True),  # sum 2: both 1
    ((4, 4), True),  # sum 8: both 4, if both are small
    ((1, 1, 1), True),  # sum 3 over three cells: all 1
    ((4, 4, 4), True),  # sum 12 over three: all 4, if small
    ((2, 3), False),  # sum 5: 1+4, 2+3, 3+2, 4+1
    ((1, 4), False),
    ((3, 4), False),  # sum 7: 3+4 or 4+3 (or 1+6, ... with a larger one withheld)
    ((1, 2, 4), False),
    ((3, 9), False),  # a larger count withheld beside a small one
])
def test_withheld_cells_must_not_split_only_one_way(hidden, derivable):
    names = ["aplikasi_daerah", "surat", "email", "kotak_pengaduan"][:len(hidden)]
    saluran = {"sp4n_lapor": 20, "telepon": 20 - sum(hidden), **dict.fromkeys(names)}
    record = month(saluran=saluran)
    expected = [(f"/records/0/menurut_saluran/{2 + i}/jumlah", DERIVABLE)
                for i in range(len(hidden))] if derivable else []  # fmt: skip
    assert codes2(record) == expected


def test_each_dimension_is_read_on_its_own():
    # The units withhold a large count (25 = 12 + 13): not every withheld count is small.
    # The classifications' two withheld counts, summing to 8, are still both 4 if small.
    record = month(klasifikasi={"pengaduan": 32, "aspirasi": None, "permintaan_informasi": None},
                   unit={"3275.DISDUKCAPIL": 15, "3275.DINKES": None, "3275.DBMSDA": None})
    assert codes2(record) == [("/records/0/menurut_klasifikasi/1/jumlah", DERIVABLE),
                              ("/records/0/menurut_klasifikasi/2/jumlah", DERIVABLE)]


def test_a_withheld_total_must_not_be_derivable():
    hidden_everywhere = month(
        total=None,
        klasifikasi={"pengaduan": None, "aspirasi": None, "permintaan_informasi": 0},
        substansi={"administrasi_kependudukan": 15, "kesehatan": None,
                   "pekerjaan_umum_infrastruktur": None},
        unit={"3275.DISDUKCAPIL": 15, "3275.DINKES": None, "3275.DBMSDA": None})
    assert codes2(hidden_everywhere) == []
    # One dimension shown whole gives the total away.
    shown_whole = dict(hidden_everywhere, menurut_klasifikasi=rows("klasifikasi", {
        "pengaduan": 30, "aspirasi": 10, "permintaan_informasi": 0}))
    assert codes2(shown_whole) == [("/records/0/jumlah_laporan/jumlah", DERIVABLE)]


def test_a_withheld_total_may_let_one_cell_per_dimension_be_withheld():
    record = month(
        total=None,
        saluran={"sp4n_lapor": 20, "telepon": 14, "media_sosial": None},
        klasifikasi={"pengaduan": 30, "aspirasi": None, "permintaan_informasi": 0},
        substansi={"administrasi_kependudukan": 15, "kesehatan": 12,
                   "pekerjaan_umum_infrastruktur": None},
        unit={"3275.DISDUKCAPIL": 15, "3275.DINKES": 12, "3275.DBMSDA": None})
    assert codes2(record) == []


def test_a_small_withheld_total_must_not_be_pinned_by_its_dimensions():
    # Four reports, each of a different channel: if the total is small, it is 4 and each
    # channel had 1.
    lapor = {"diterima": None, "ditindaklanjuti_tepat_waktu": None,
             "melewati_batas_waktu": 0, "selesai": 0}
    record = month(
        total=None,
        saluran={"sp4n_lapor": None, "telepon": None, "media_sosial": None, "surat": None},
        klasifikasi={"pengaduan": None, "aspirasi": None},
        substansi={"administrasi_kependudukan": None, "kesehatan": None},
        unit={"3275.DISDUKCAPIL": None, "3275.DINKES": None}, lapor=lapor)
    found = codes2(record)
    assert ("/records/0/jumlah_laporan/jumlah", DERIVABLE) in found
    assert ("/records/0/menurut_saluran/1/jumlah", DERIVABLE) in found
    three = dict(record, menurut_saluran=rows("saluran", {
        "sp4n_lapor": None, "telepon": None, "media_sosial": None}))
    assert codes2(three) == []


@pytest.mark.parametrize(("field", "counts"), [
    ("klasifikasi", {"pengaduan": 31, "aspirasi": 10, "permintaan_informasi": 0}),  # 41
    ("klasifikasi", {"pengaduan": 30}),  # 30: a value not listed counts 0
    ("substansi", {"kesehatan": 39, "pendidikan": None, "perizinan": None}),  # 39 + 2 or more
    ("unit", {"3275.DINKES": 40, "3275.DLH": None}),  # a withheld count is at least 1
])
def test_each_dimension_adds_up_to_the_total(field, counts):
    record = month(**{field: counts})
    assert codes2(record) == [(f"/records/0/menurut_{field}", "dimension_total_mismatch")]


def test_dimensions_agree_on_a_withheld_total():
    # klasifikasi shows 40 in all, substansi 41: no total fits both.
    record = month(total=None, substansi={"kesehatan": 28, "pendidikan": 13})
    assert codes2(record) == [("/records/0/menurut_substansi", "dimension_total_mismatch")]
    # Once they agree, the total is 40 for all to see: it is not withheld at all.
    record = month(total=None)
    assert codes2(record) == [("/records/0/jumlah_laporan/jumlah", DERIVABLE)]


@pytest.mark.parametrize(("saluran", "received"), [
    ({"sp4n_lapor": 20, "telepon": 10, "media_sosial": 6, "surat": None, "email": None}, 21),
    ({"sp4n_lapor": 20, "telepon": 10, "media_sosial": 6, "surat": None, "email": None}, None),
    ({"telepon": 30, "media_sosial": 6, "surat": None, "email": None}, 20),
    ({"sp4n_lapor": None, "telepon": 27, "media_sosial": 6, "surat": None}, 20),
])
def test_lapor_received_is_the_lapor_channel(saluran, received):
    record = month(saluran=saluran, lapor=dict(LAPOR_OK, diterima=received))
    assert codes2(record) == [("/records/0/sp4n_lapor/diterima/jumlah",
                               "lapor_received_mismatch")]  # fmt: skip


def test_no_lapor_channel_means_no_lapor_reports():
    record = month(saluran={"telepon": 30, "media_sosial": 6, "surat": None, "email": None},
                   lapor=dict.fromkeys(LAPOR_OK, 0))
    assert codes2(record) == []


@pytest.mark.parametrize(("change", "where", "code"), [
    ({"ditindaklanjuti_tepat_waktu": 25, "melewati_batas_waktu": 0},
     "/sp4n_lapor/ditindaklanjuti_tepat_waktu/jumlah", "lapor_count_exceeds_received"),
    ({"ditindaklanjuti_tepat_waktu": 0, "melewati_batas_waktu": 21},
     "/sp4n_lapor/melewati_batas_waktu/jumlah", "lapor_count_exceeds_received"),
    ({"selesai": 21}, "/sp4n_lapor/selesai/jumlah", "lapor_count_exceeds_received"),
    ({"ditindaklanjuti_tepat_waktu": 15, "melewati_batas_waktu": 6},
     "/sp4n_lapor", "lapor_timely_and_overdue_exceed_received"),
    ({"ditindaklanjuti_tepat_waktu": None, "melewati_batas_waktu": 20},
     "/sp4n_lapor", "lapor_timely_and_overdue_exceed_received"),
    ({"ditindaklanjuti_tepat_waktu": 10, "melewati_batas_waktu": 5, "selesai": 16},
     "/sp4n_lapor/selesai/jumlah", "lapor_closed_exceeds_followed_up"),
])  # fmt: skip
def test_lapor_follow_up_counts_agree(change, where, code):
    assert codes2(month(lapor=dict(LAPOR_OK, **change))) == [(f"/records/0{where}", code)]


def test_lapor_counts_within_the_received_are_valid():
    # 12 followed up in time, 5 late, 3 still within the time limit; 17 closed.
    record = month(lapor=dict(LAPOR_OK, ditindaklanjuti_tepat_waktu=12, selesai=17))
    assert codes2(record) == []


def test_a_withheld_lapor_count_must_not_be_derivable():
    # 20 received, 19 followed up in time: at most 1 overdue, and a withheld count is 1.
    lapor = dict(LAPOR_OK, ditindaklanjuti_tepat_waktu=19, melewati_batas_waktu=None)
    assert codes2(month(lapor=lapor)) == [
        ("/records/0/sp4n_lapor/melewati_batas_waktu/jumlah", DERIVABLE)]
    # Withholding the timely count beside it protects it.
    assert codes2(month(lapor=dict(lapor, ditindaklanjuti_tepat_waktu=None))) == []
    # 8 closed, each followed up: if the two withheld follow-up counts are small, both are 4.
    both = dict(LAPOR_OK, ditindaklanjuti_tepat_waktu=None, melewati_batas_waktu=None)
    assert codes2(month(lapor=dict(both, selesai=8))) == [
        ("/records/0/sp4n_lapor/ditindaklanjuti_tepat_waktu/jumlah", DERIVABLE),
        ("/records/0/sp4n_lapor/melewati_batas_waktu/jumlah", DERIVABLE)]
    assert codes2(month(lapor=dict(both, selesai=7))) == []


def test_lapor_counts_must_not_reveal_a_withheld_channel():
    # Channels: sp4n_lapor and surat withheld, summing to 3 (2 + 1, or 1 + 2). Two withheld
    # follow-up counts need at least 2 reports received: so 2 received, 1 by letter, and each
    # follow-up count is 1.
    saluran = {"sp4n_lapor": None, "telepon": 20, "media_sosial": 17, "surat": None}
    lapor = {"diterima": None, "ditindaklanjuti_tepat_waktu": None,
             "melewati_batas_waktu": None, "selesai": 0}
    assert sorted(codes2(month(saluran=saluran, lapor=lapor))) == sorted(
        (f"/records/0{where}/jumlah", DERIVABLE) for where in (
            "/menurut_saluran/0", "/menurut_saluran/3", "/sp4n_lapor/diterima",
            "/sp4n_lapor/ditindaklanjuti_tepat_waktu", "/sp4n_lapor/melewati_batas_waktu"))
    # With one follow-up count withheld, nothing is pinned.
    assert codes2(month(saluran=saluran, lapor=dict(lapor, melewati_batas_waktu=0))) == []


@pytest.mark.parametrize(("period", "taken", "valid"), [
    ("2026-10", "2026-10-31", False),
    ("2026-10", "2026-11-01", True),
    ("2026-12", "2026-12-31", False),
    ("2026-12", "2027-01-01", True),
])
def test_the_counts_are_taken_after_the_month(period, taken, valid):
    record = month(periode=period, tanggal_data=taken)
    assert codes2(record) == ([] if valid else [("/records/0/tanggal_data",
                                                 "data_date_before_period_end")])  # fmt: skip


def test_a_value_is_counted_once_per_dimension():
    record = month()
    record["menurut_unit"].append({"unit": "3275.DINKES", "jumlah": 0, "disamarkan": False})
    assert codes2(record) == [("/records/0/menurut_unit/3/unit", "duplicate_row")]


@pytest.mark.parametrize(("path", "value", "code"), [
    (("menurut_saluran", 1, "saluran"), "whatsapp", "one_of"),  # the Ombudsman's channel
    (("menurut_substansi", 0, "substansi"), "lainnya", "one_of"),
    (("menurut_unit", 0, "unit"), "Dinas Kesehatan", "unit_unknown"),
    (("unit_penyusun",), "3275.DISKOMINFO", "unit_unknown"),
    (("periode",), "2026-13", "format"),
])
def test_values_come_from_the_registers(path, value, code):
    record = month()
    target = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert codes2(record) == [("/records/0/" + "/".join(map(str, path)), code)]


def test_the_channels_are_pemkots_own_and_configuration():
    assert tuple(registers()["saluran_pengaduan"].rows) == SALURAN_PEMKOT
    assert LAPOR in SALURAN_PEMKOT
    assert not {"whatsapp", "website", "penerimaan_di_lokasi"} & set(SALURAN_PEMKOT)
    assert registers()["saluran_pengaduan"].status == "unconfirmed"


def test_the_small_limit_is_the_suppression_threshold():
    assert suppression.SMALL == SMALLEST_COUNT - 1


def test_2_0_is_a_breaking_change_from_1_0():
    changes = {(c.path, c.description): c.breaking for c in diff("rekap_pengaduan", "1.0", "2.0")}
    assert changes[("/baris", "field removed")] is True
    assert changes[("/sp4n_lapor", "new required field")] is True


def _brute(table, upper):
    """The values each withheld count may take, by trying every assignment."""
    names, domains = [], []
    if table.total is None:
        names.append(suppression.TOTAL)
        domains.append(range(1, upper[0] + 1))
    for d, dim in enumerate(table.dimensions):
        for j in range(dim.hidden):
            names.append(suppression.RECEIVED if dim.holds_received and j == 0 else (d, j))
            domains.append(range(1, upper[1 + d] + 1))
    for key, count in zip(suppression.CHAIN, table.chain, strict=True):
        if count is None:
            names.append(key)
            domains.append(range(1, upper[-1] + 1))
    found, feasible = {}, False
    for combo in itertools.product(*domains):
        a = dict(zip(names, combo, strict=True))
        total = a.get(suppression.TOTAL, table.total)
        if any(dim.shown + sum(a[suppression.RECEIVED] if dim.holds_received and j == 0
                               else a[(d, j)] for j in range(dim.hidden)) != total
               for d, dim in enumerate(table.dimensions)):  # fmt: skip
            continue
        received = a.get(suppression.RECEIVED, table.received)
        timely, overdue, closed = (a.get(k, v) for k, v in zip(suppression.CHAIN, table.chain,
                                                                  strict=True))  # fmt: skip
        if timely + overdue > received or closed > timely + overdue:
            continue
        feasible = True
        for name, value in a.items():
            found.setdefault(name[0] if isinstance(name, tuple) else name, set()).add(value)
    return {k: (min(v), max(v)) for k, v in found.items()} if feasible else None


def _consistent_table(rng):
    """A table made from true counts, some of them withheld; the received cell is the
    first cell of the first dimension."""
    upper = tuple(rng.choice((3, 4, 5)) for _ in range(5))
    total, budget, dims, received_hidden = rng.randint(0, 12), 6, [], False
    for d in range(3):
        cuts = sorted(rng.randint(0, total) for _ in range(rng.randint(0, 3)))
        cells = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        shown = hidden = 0
        for j, count in enumerate(cells):
            if 1 <= count <= upper[1 + d] and budget and rng.random() < 0.6:
                hidden, budget = hidden + 1, budget - 1
                received_hidden = received_hidden or (d == 0 and j == 0)
            else:
                shown += count
        if d == 0:
            received = cells[0]
        dims.append(suppression.Dimension(shown, hidden, d == 0 and received_hidden))
    timely = rng.randint(0, received)
    overdue = rng.randint(0, received - timely)
    closed = rng.randint(0, timely + overdue)
    chain = []
    for count in (timely, overdue, closed):
        withheld = 1 <= count <= upper[-1] and budget and rng.random() < 0.5
        budget -= bool(withheld)
        chain.append(None if withheld else count)
    hide_total = 1 <= total <= upper[0] and rng.random() < 0.3
    table = suppression.Table(total=None if hide_total else total, dimensions=tuple(dims),
                              received=None if received_hidden else received, chain=tuple(chain))
    return table, upper


def test_the_suppression_audit_is_exact():
    """The interval of every withheld count agrees with trying every assignment."""
    rng = random.Random(5)
    pinned = 0
    for _ in range(1500):
        table, upper = _consistent_table(rng)
        got, expected = suppression._ranges(table, upper), _brute(table, upper)
        assert got == expected, (table, upper)
        pinned += any(lo == hi for lo, hi in got.values())
    assert pinned > 100
