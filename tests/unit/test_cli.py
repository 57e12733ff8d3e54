import os
import subprocess
import sys


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=60, env=env or {"PATH": "/usr/bin:/bin"})


def test_invalid_config_is_one_line_naming_file_and_key(deployment):
    path = deployment.config_path("pemkot-bekasi")
    path.write_text(path.read_text().replace('party = "pemkot-bekasi"', 'party = "x"'))
    done = run("transfer", "run", "--config", str(path))
    assert done.returncode == 1
    assert done.stderr == (f"gateway: error: {path}: node.party: is not a party of agreement "
                           "'test-agreement' (parties: ['ombudsman-ri', 'pemkot-bekasi'])\n")


def test_serve_refuses_to_start_without_the_key_passphrase(deployment):
    done = run("serve", "--config", str(deployment.config_path("ombudsman-ri")))
    assert done.returncode == 1
    # A production node (the test configs are) says so before it tries the keys.
    assert "GATEWAY_KEY_PASSPHRASE is not set: private keys must be encrypted" in done.stderr
    assert done.stderr.count("\n") == 1


def test_keys_init_refuses_without_passphrase(tmp_path, deployment):
    done = run("keys", "init", "--config", str(deployment.config_path("ombudsman-ri")))
    assert done.returncode == 1
    assert "GATEWAY_KEY_PASSPHRASE" in done.stderr


def test_missing_config_is_a_usage_error():
    done = run("transfer", "run")
    assert done.returncode == 2
    assert "give --config or set GATEWAY_CONFIG" in done.stderr


def test_serve_refuses_keys_the_agreement_does_not_register(deployment):
    agreement = deployment.root / "agreement.toml"
    agreement.write_text(agreement.read_text().replace(
        'jwks_file = "keys/pemkot-bekasi/jwks.json"', 'jwks_file = "keys/ombudsman-ri/jwks.json"'))
    done = run("serve", "--config", str(deployment.config_path("pemkot-bekasi")),
               env={"PATH": "/usr/bin:/bin", "GATEWAY_KEY_PASSPHRASE": "test-passphrase"})
    assert done.returncode == 1
    assert "this node's signing key" in done.stderr
    assert "is not registered for it in the agreement" in done.stderr


def test_schemas_export_writes_one_json_schema_per_dataset_version(tmp_path):
    import json

    from schemas import registry

    done = subprocess.run([sys.executable, "-m", "gateway", "schemas", "export", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert written == sorted([f"{d}/{v}.schema.json" for d in registry.dataset_names()
                              for v in registry.versions(d)] + ["flows.json"])
    document = json.loads((tmp_path / written[-1]).read_text())
    assert document["$schema"].endswith("/draft/2020-12/schema")
    # Per flow of the agreement, the personal data that may cross.
    flows = json.loads((tmp_path / "flows.json").read_text())
    lahp = next(f for f in flows if f["dataset"] == "lahp")
    assert "/ringkasan" in lahp["personal_fields"] and lahp["retention_days"]
    assert all(f["retention_days"] for f in flows if f["personal_fields"])


def _validate(*args):
    return subprocess.run([sys.executable, "-m", "gateway", "schemas", "validate", *args],
                          capture_output=True, text=True, timeout=60)


def test_schemas_validate_reads_json_jsonl_and_csv(tmp_path):
    import csv
    import json

    from schemas.samples import sample_records

    records = sample_records("tanggapan_klarifikasi", 3, seed=5)
    (tmp_path / "ok.json").write_text(json.dumps(records))
    (tmp_path / "ok.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    with (tmp_path / "ok.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        for r in records:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                             for k, v in r.items()})
    for name in ("ok.json", "ok.jsonl", "ok.csv"):
        done = _validate("tanggapan_klarifikasi", str(tmp_path / name))
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert done.stdout == ""
        assert "3 of 3 records valid" in done.stderr


def test_schemas_validate_prints_every_error_and_exits_1(tmp_path):
    import json

    from schemas.samples import sample_records

    records = sample_records("tanggapan_klarifikasi", 3, seed=5)
    records[0]["status"] = "sudah"
    del records[2]["penjelasan"]
    (tmp_path / "bad.json").write_text(json.dumps(records))
    done = _validate("tanggapan_klarifikasi", str(tmp_path / "bad.json"), "--lang", "id")
    assert done.returncode == 1
    lines = [line.split("\t")[:2] for line in done.stdout.splitlines()]
    assert lines == [["/records/0/status", "one_of"], ["/records/2/penjelasan", "required"]]
    assert "kolom ini wajib diisi" in done.stdout
    assert "1 of 3 records valid" in done.stderr


def test_schemas_validate_refuses_unreadable_input_in_one_line(tmp_path):
    (tmp_path / "broken.json").write_text("[{")
    done = _validate("tanggapan_klarifikasi", str(tmp_path / "broken.json"))
    assert done.returncode == 1
    assert done.stderr.strip().startswith("gateway: error:")
    assert len(done.stderr.strip().splitlines()) == 1
    unknown = _validate("no_such_dataset", str(tmp_path / "broken.json"))
    assert unknown.returncode == 1 and "unknown dataset" in unknown.stderr


def test_schemas_diff_exits_by_compatibility():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "gateway", "schemas", "diff", *args],
                              capture_output=True, text=True, timeout=60)

    forward = run("tanggapan_klarifikasi", "1.0", "2.0")
    assert forward.returncode == 0
    assert forward.stdout == "compatible\t/tanggal_selesai\tnew optional field\n"
    back = run("tanggapan_klarifikasi", "2.0", "1.0")
    assert back.returncode == 1 and back.stdout.startswith("breaking\t/tanggal_selesai")
    unknown = run("tanggapan_klarifikasi", "1.0", "7.0")
    assert unknown.returncode == 1 and "no schema version '7.0'" in unknown.stderr


def test_schemas_sample_is_valid_and_repeatable(tmp_path):
    def sample(*args):
        return subprocess.run([sys.executable, "-m", "gateway", "schemas", "sample", *args],
                              capture_output=True, text=True, timeout=60)

    first = sample("permintaan_klarifikasi", "--count", "5", "--seed", "7")
    assert first.returncode == 0, first.stderr
    assert first.stdout == sample("permintaan_klarifikasi", "--count", "5", "--seed", "7").stdout
    (tmp_path / "s.json").write_text(first.stdout)
    assert _validate("permintaan_klarifikasi", str(tmp_path / "s.json")).returncode == 0
    lines = sample("permintaan_klarifikasi", "--count", "3", "--jsonl").stdout.splitlines()
    assert len(lines) == 3
    assert sample("no_such", "--count", "1").returncode == 1


def test_transfer_status_retry_and_cancel(deployment):
    import json

    env = {"PATH": "/usr/bin:/bin", **deployment.env}
    config = str(deployment.config_path("pemkot-bekasi"))
    done = run("transfer", "status", "--config", config, "--json", env=env)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["dataset"], r["peer"]) for r in rows] == [
        ("tanggapan_klarifikasi", "ombudsman-ri"), ("kegiatan_pengembangan", "ombudsman-ri")]
    assert rows[0]["pending"] == {"records": 0, "oldest_age_seconds": None}
    table = run("transfer", "status", "--config", config, env=env)
    assert table.stdout.splitlines()[0].split() == [
        "dataset", "peer", "pending", "in_flight", "retrying", "dead", "cancelled", "delivered"]
    done = run("transfer", "retry", "--config", config, "no-such-batch", env=env)
    assert done.returncode == 1
    assert done.stderr == "gateway: error: no outgoing batch no-such-batch\n"
    done = run("transfer", "cancel", "--config", config, "no-such-batch", env=env)
    assert done.returncode == 1


def test_the_development_server_is_refused_in_production_mode(deployment):
    done = run("serve", "--dev-server", "--config", str(deployment.config_path("ombudsman-ri")))
    assert done.returncode == 1
    assert done.stderr == ("gateway: error: --dev-server is for development only; "
                           "this node is in production mode\n")


def test_a_key_id_beginning_with_a_dash_is_taken_after_double_dash(deployment):
    """RFC 7638 thumbprints are base64url: one in 32 begins with "-"."""
    config = str(deployment.config_path("pemkot-bekasi"))
    done = run("keys", "revoke", "--config", config, "--", "-aXLJc-DChkCMc1qNotAKeyOfThisNode",
               env={"PATH": "/usr/bin:/bin", **deployment.env})
    assert "No such option" not in done.stderr
    assert done.returncode == 1 and "-aXLJc-DChkCMc1qNotAKeyOfThisNode" in done.stderr


def python(code):
    """What ``code`` prints, run in a fresh interpreter (what it imports is its own)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_command_is_found_by_its_name_and_imported_only_when_asked_for():
    probe = (
        "import sys, click\n"
        "from gateway.cli.main import COMMANDS, cli\n"
        "ctx = click.Context(cli)\n"
        "assert cli.list_commands(ctx) == sorted(COMMANDS)\n"
        "assert not [m for m in COMMANDS.values() if m.partition(':')[0] in sys.modules]\n"
        "for name in COMMANDS:\n"
        "    assert cli.get_command(ctx, name).name == name\n"
        "assert cli.get_command(ctx, 'nope') is None\n"
        "print('ok')\n"
    )
    assert python(probe) == "ok\n"


def test_the_long_lived_processes_import_neither_flask_nor_alembic_before_they_need_them():
    # gateway serve's own process (the schedule) and gunicorn's master keep what they
    # import for as long as the node runs, in every replica; the workers import Flask.
    probe = (
        "import sys, click\n"
        "from gateway.cli.main import cli\n"
        "cli.get_command(click.Context(cli), 'serve')\n"
        "import gateway.ops.gunicorn_config\n"
        "print(sorted(m for m in ('flask', 'alembic', 'gateway.http.app') if m in sys.modules))\n"
    )
    assert python(probe) == "[]\n"
    done = run("--help")
    assert done.returncode == 0
    assert "serve" in done.stdout and "transfer" in done.stdout


def test_a_workers_app_does_not_import_requests(deployment):
    # The workers answer requests and make none; requests is loaded where one is made.
    code = (
        "import sys\n"
        "from gateway.http.app import create_app\n"
        f"create_app({str(deployment.config_path('pemkot-bekasi'))!r})\n"
        "print(sorted(m for m in ('requests', 'urllib3') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **deployment.env})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
