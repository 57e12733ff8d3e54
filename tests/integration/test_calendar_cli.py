"""``gateway calendar`` and ``gateway cases due-date``, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gateway.cases.calendar import SHIPPED


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_due_date_prints_the_date_only():
    done = gateway("cases", "due-date", "--from", "2025-03-27", "--working-days", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2025-04-08\n"


def test_due_date_of_zero_working_days_is_the_day_itself():
    done = gateway("cases", "due-date", "--from", "2025-03-29", "--working-days", "0")
    assert (done.returncode, done.stdout) == (0, "2025-03-29\n")


def test_due_date_refuses_bad_input_in_one_line():
    for args, expected in (
        (("--from", "2025-02-30", "--working-days", "1"), "Invalid value for '--from'"),
        (("--from", "27-03-2025", "--working-days", "1"), "Invalid value for '--from'"),
        (("--from", "2025-03-27", "--working-days", "-1"), "Invalid value for '--working-days'"),
        (("--from", "2025-03-27", "--working-days", "x"), "Invalid value for '--working-days'"),
    ):
        done = gateway("cases", "due-date", *args)
        assert done.returncode == 2, (args, done.stderr)
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and expected in errors[0], (args, done.stderr)
        assert done.stdout == ""


def test_due_date_outside_the_calendar_is_one_line_and_exit_1():
    for start, days, year in (("2020-12-30", "1", "2020"), ("2027-12-30", "5", "2028")):
        done = gateway("cases", "due-date", "--from", start, "--working-days", days)
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.startswith(
            f"gateway: error: the working-day calendar does not cover {year} "
        )
        assert done.stderr.count("\n") == 1


def test_due_date_reads_extra_calendar_files(tmp_path):
    text = SHIPPED.read_text(encoding="utf-8")
    amended = text.replace(
        '  { date = 2025-04-07, kind = "cuti_bersama", name = "Cuti bersama Idul Fitri 1446 '
        'Hijriah" },\n',
        '  { date = 2025-04-07, kind = "cuti_bersama", name = "Cuti bersama Idul Fitri 1446 '
        'Hijriah" },\n  { date = 2025-04-08, kind = "cuti_bersama", name = "Cuti bersama '
        '(test)" },\n',
    )
    assert amended != text
    path = tmp_path / "amended.toml"
    path.write_text(amended, encoding="utf-8")
    done = gateway("cases", "due-date", "--from", "2025-03-27", "--working-days", "1",
                   "--file", str(path))
    assert (done.returncode, done.stdout) == (0, "2025-04-09\n"), done.stderr


def test_calendar_lists_the_shipped_years_and_checks_them():
    done = gateway("calendar")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [str(y) for y in range(2021, 2028)]
    assert "libur nasional 17  cuti bersama 11" in lines[4]
    assert "1017/2024 2/2024 2/2024, signed 2024-10-14" in lines[4]
    assert "933/2025 1/2025 3/2025, signed 2025-08-07" in lines[4]
    assert lines[6].endswith("UNCONFIRMED") and not lines[5].endswith("UNCONFIRMED")


def test_calendar_lists_a_years_days():
    done = gateway("calendar", "--year", "2025")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2025  libur nasional 17")
    assert "2025-03-28  Jumat   cuti_bersama    Cuti bersama Hari Suci Nyepi" in done.stdout
    assert "2025-08-18  Senin   cuti_bersama" in done.stdout
    assert len(lines) == 1 + 28


def test_calendar_as_json():
    done = gateway("calendar", "--json", "--year", "2021")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["problems"] == []
    (year,) = body["years"]
    assert (year["year"], year["libur_nasional"], year["cuti_bersama"]) == (2021, 15, 1)
    assert [s["numbers"] for s in year["sources"]][-1] == ["712/2021", "1/2021", "3/2021"]
    assert {"date": "2021-10-20", "weekday": "Rabu", "kind": "libur_nasional",
            "name": "Maulid Nabi Muhammad SAW"} in year["days"]
    everything = json.loads(gateway("calendar", "--json").stdout)
    assert [y["year"] for y in everything["years"]] == list(range(2021, 2028))
    assert "days" not in everything["years"][0]


def test_calendar_of_a_year_not_covered_is_exit_1():
    done = gateway("calendar", "--year", "2030")
    assert done.returncode == 1
    assert done.stderr.startswith("gateway: error: the working-day calendar does not cover 2030")


def test_calendar_with_a_malformed_file_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[years]]\nyear = 2028\ndays = [{ date = 2028-01-01 }]\n", encoding="utf-8")
    done = gateway("calendar", "--file", str(path))
    assert done.returncode == 1
    assert done.stderr == f"gateway: error: {path}: years[0].days[0]: name is missing\n"
    missing = gateway("calendar", "--file", str(tmp_path / "absent.toml"))
    assert missing.returncode == 1 and "cannot be read" in missing.stderr
    assert missing.stderr.count("\n") == 1


def test_calendar_with_a_file_that_fails_the_check_is_exit_1(tmp_path: Path):
    path = tmp_path / "2028.toml"
    path.write_text(
        '[[years]]\nyear = 2028\ndays = [\n'
        '  { date = 2028-01-01, kind = "libur_nasional", name = "Tahun Baru 2028 Masehi" },\n'
        '  { date = 2028-03-01, kind = "libur", name = "Unknown" },\n]\n',
        encoding="utf-8",
    )
    done = gateway("calendar", "--file", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].startswith("2028  libur nasional  1  cuti bersama  0")
    problems = done.stderr.splitlines()
    assert "gateway: calendar: 2028: no sources (the decrees the year comes from)" in problems
    assert ("gateway: calendar: 2028: 2028-03-01: unknown kind 'libur' "
            "(one of ['cuti_bersama', 'libur_nasional'])") in problems
    assert ("gateway: calendar: 2028: Hari Lahir Pancasila (2028-06-01) is not listed as "
            "libur_nasional") in problems
