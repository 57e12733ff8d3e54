import re
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.node.config import Witnessing, load_agreement, load_node_config

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_configs_load():
    for party in ("pemkot-bekasi", "ombudsman-ri"):
        config = load_node_config(ROOT / "config" / f"{party}.toml", environ={})
        assert config.party_id == party
        assert config.database_url.endswith(f"var/{party}.db")
        assert (config.workers, config.threads) == (3, 6)
        # Shipped unsigned (the keys are made where the node runs): taken up once signed.
        assert config.agreements_dir == ROOT / "config" / "agreements"
        assert [r.reason.split(":")[0] for r in config.refused_agreements] == [
            "not signed by pemkot-bekasi"]
    shipped = load_agreement(ROOT / "config" / "agreements" /
                             "mou-pemkot-bekasi-ombudsman-ri-2021.toml")
    assert shipped.flow("permintaan_klarifikasi", sender="ombudsman-ri").purpose == "1"
    assert shipped.version == 1 and len(shipped.sha256) == 64


def test_threads_are_set_in_the_file_and_overridden_by_the_environment(deployment):
    edit(deployment, "pemkot-bekasi.toml", "workers = 1", "workers = 1\nthreads = 3")
    path = deployment.config_path("pemkot-bekasi")
    assert load_node_config(path, environ={}).threads == 3
    assert load_node_config(path, environ={"GATEWAY_THREADS": "5"}).threads == 5


def test_a_dataset_may_flow_both_ways_but_each_direction_once(deployment):
    path = deployment.root / "agreement.toml"
    text = path.read_text()
    start = text.index("[[datasets]]")
    first = text[start:text.index("[[datasets]]", start + 1)]
    reverse = (first.replace('sender = "ombudsman-ri"', 'sender = "x"')
               .replace('receiver = "pemkot-bekasi"', 'receiver = "ombudsman-ri"')
               .replace('sender = "x"', 'sender = "pemkot-bekasi"'))
    path.write_text(text + "\n" + reverse)
    agreement = load_agreement(path)
    flows = [(d.sender, d.receiver) for d in agreement.flows if d.name == "permintaan_klarifikasi"]
    assert flows == [("ombudsman-ri", "pemkot-bekasi"), ("pemkot-bekasi", "ombudsman-ri")]
    reverse_flow = agreement.flow("permintaan_klarifikasi", sender="pemkot-bekasi")
    assert reverse_flow.receiver == "ombudsman-ri"
    path.write_text(text + "\n" + first)
    with pytest.raises(ConfigError, match="duplicate dataset 'permintaan_klarifikasi' from"):
        load_agreement(path)


def test_environment_overrides_file(deployment):
    config = load_node_config(deployment.config_path("ombudsman-ri"), environ={
        "GATEWAY_DATABASE_URL": "sqlite:///elsewhere.db", "GATEWAY_LISTEN": "127.0.0.1:9999"})
    assert config.database_url == "sqlite:///elsewhere.db"
    assert config.listen == "127.0.0.1:9999"


def edit(deployment, name, old, new):
    path = deployment.root / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("file", "old", "new", "key", "problem"), [
    ("agreement.toml", 'sender = "ombudsman-ri"', 'sender = "kota-depok"',
     "datasets[0].sender", "unknown party 'kota-depok'"),
    ("agreement.toml", 'schema_versions = ["1.0"]', 'schema_versions = ["3.0"]',
     "datasets[0].schema_versions", "no schema permintaan_klarifikasi '3.0'"),
    ("agreement.toml", "interval_seconds = 3600", "interval_seconds = -5",
     "datasets[0].schedule.interval_seconds", "must be a positive integer"),
    ("agreement.toml", "max_records_per_batch = 1000", 'max_records_per_batch = "many"',
     "datasets[0].max_records_per_batch", "must be an integer, got str"),
    ("agreement.toml", "purpose = 1", "purpose = 9",
     "datasets[0].purpose", "must name a clause"),
    ("agreement.toml", 'name = "permintaan_klarifikasi"', 'name = "data_rahasia"',
     "datasets[0].name", "no agreed schema exists"),
    ("agreement.toml", 'base_url = "http://', 'base_url = "ftp://',
     "parties[0].base_url", "must be an http(s) URL"),
    ("pemkot-bekasi.toml", 'party = "pemkot-bekasi"', 'party = "pemkot-depok"',
     "node.party", "is not a party"),
    ("pemkot-bekasi.toml", 'submit = ["tanggapan_klarifikasi", "kegiatan_pengembangan"]',
     'submit = ["permintaan_klarifikasi"]', "clients[0].submit",
     "'permintaan_klarifikasi' is not one that pemkot-bekasi sends"),
    ("pemkot-bekasi.toml", "workers = 1", "workers = true", "node.workers",
     "got a boolean"),
    ("pemkot-bekasi.toml", "[node]", "[node]\ncolour = 'red'", "node.colour",
     "is not a known setting"),
    ("pemkot-bekasi.toml", "peer_timeout_seconds = 10", "peer_timeout_seconds = -1",
     "node.peer_timeout_seconds", "must be above 0"),
    ("pemkot-bekasi.toml", 'pull = ["permintaan_klarifikasi", "kegiatan_pengembangan"]',
     'pull = [1]',
     "clients[0].pull[0]", "must be a string, got int"),
    ("agreement.toml", "schedule = { interval_seconds = 3600 }", "schedule = {}",
     "datasets[0].schedule", "needs exactly one of interval_seconds or cron"),
    ("agreement.toml", "schedule = { interval_seconds = 3600 }",
     'schedule = { cron = "99 * * * *" }',
     "datasets[0].schedule.cron", "is not a valid crontab expression"),
    ("agreement.toml", "max_records_per_batch = 1000",
     "max_records_per_batch = 1000\nretry = { max_attempts = 0 }",
     "datasets[0].retry.max_attempts", "must be a positive integer"),
    ("agreement.toml", "max_records_per_batch = 1000",
     "max_records_per_batch = 1000\nretry = { initial_seconds = 60, max_seconds = 10 }",
     "datasets[0].retry.max_seconds", "must be at least initial_seconds"),
    ("agreement.toml", "max_records_per_batch = 1000",
     "max_records_per_batch = 1000\nretry = { backoff = 'fast' }",
     "datasets[0].retry.backoff", "is not a known setting"),
    ("pemkot-bekasi.toml", "checkpoint_interval_seconds = 1", "checkpoint_interval_seconds = 0",
     "node.checkpoint_interval_seconds", "must be a positive integer"),
    # Limits under which no batch could be delivered: the chunk size follows max_batch_bytes.
    ("agreement.toml", "max_batch_bytes = 262144", "max_batch_bytes = 2047",
     "datasets[0].max_batch_bytes", "must be at least 2048"),
    ("agreement.toml", "max_batch_bytes = 262144",
     "max_batch_bytes = 262144\nmax_chunk_bytes = 2047",
     "datasets[0].max_chunk_bytes", "must be at least 2048"),
    ("agreement.toml", "max_batch_bytes = 262144",
     "max_batch_bytes = 262144\ntransfer_expiry_hours = 0",
     "datasets[0].transfer_expiry_hours", "must be a positive integer"),
    ("pemkot-bekasi.toml", "checkpoint_interval_seconds = 1",
     "checkpoint_interval_seconds = 1\nrefusal_interval_seconds = 0",
     "node.refusal_interval_seconds", "must be a positive integer"),
    ("pemkot-bekasi.toml", "checkpoint_interval_seconds = 1",
     "checkpoint_interval_seconds = 1\nfailed_auth_rate_limit = 'many'",
     "node.failed_auth_rate_limit", "must be a rate such as"),
    ("pemkot-bekasi.toml", "checkpoint_interval_seconds = 1",
     "checkpoint_interval_seconds = 1\ntrusted_proxies = -1",
     "node.trusted_proxies", "must be an integer from 0 to 8"),
    ("pemkot-bekasi.toml", "checkpoint_interval_seconds = 1",
     "checkpoint_interval_seconds = 1\ntrusted_proxies = true",
     "node.trusted_proxies", "got a boolean"),
])
def test_invalid_config_names_file_key_and_problem(deployment, file, old, new, key, problem):
    path = edit(deployment, file, old, new)
    with pytest.raises(ConfigError) as info:
        load_node_config(deployment.config_path("pemkot-bekasi"), environ={})
    assert info.value.file == str(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_agreement(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("format = [")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: -: not valid TOML")):
        load_agreement(bad)


def test_body_limit_must_fit_the_largest_incoming_envelope(deployment):
    edit(deployment, "pemkot-bekasi.toml", "max_body_bytes = 1000000", "max_body_bytes = 100000")
    with pytest.raises(ConfigError, match="max_body_bytes: 100000 is too small for "
                                          "permintaan_klarifikasi envelopes"):
        load_node_config(deployment.config_path("pemkot-bekasi"), environ={})


def test_two_clients_may_not_share_a_token(deployment):
    path = deployment.config_path("pemkot-bekasi")
    text = path.read_text()
    first = text.split('token_sha256 = "')[1].split('"')[0]
    second = text.split('token_sha256 = "')[2].split('"')[0]
    path.write_text(text.replace(second, first))
    with pytest.raises(ConfigError, match=r"clients\[1\]\.token_sha256: the same token"):
        load_node_config(path, environ={})


@pytest.mark.parametrize(("env", "message"), [
    ({"GATEWAY_WORKERS": "abc"}, "environment: GATEWAY_WORKERS: must be a positive integer"),
    ({"GATEWAY_WORKERS": "-3"}, "environment: GATEWAY_WORKERS: must be a positive integer"),
    ({"GATEWAY_THREADS": "\u00b2"}, "environment: GATEWAY_THREADS: must be a positive integer"),
    ({"GATEWAY_LISTEN": "nowhere"}, "environment: GATEWAY_LISTEN: must be host:port"),
])
def test_bad_environment_overrides_name_the_variable(deployment, env, message):
    with pytest.raises(ConfigError) as info:
        load_node_config(deployment.config_path("pemkot-bekasi"), environ=env)
    assert str(info.value).startswith(message)


def test_retry_policy_from_the_agreement(deployment):
    edit(deployment, "agreement.toml", "max_records_per_batch = 1000",
         "max_records_per_batch = 1000\n"
         "retry = { max_attempts = 5, initial_seconds = 10, max_seconds = 60, multiplier = 3 }")
    agreement = load_node_config(deployment.config_path("pemkot-bekasi"), environ={}).agreement
    policy = agreement.flows[0].retry
    assert (policy.max_attempts, policy.initial_seconds, policy.max_seconds) == (5, 10, 60)
    # 10, 30, then capped at 60; each between half and all of that.
    assert [policy.delay(n, 0.0) for n in (1, 2, 3, 4)] == [5, 15, 30, 30]
    assert [policy.delay(n, 0.999) for n in (1, 2, 3)] == pytest.approx([10, 30, 60], rel=1e-3)
    assert agreement.flows[1].retry.max_attempts == 12  # the default


def test_refusal_and_proxy_settings_have_safe_defaults(deployment):
    config = load_node_config(deployment.config_path("pemkot-bekasi"), environ={})
    assert (config.refusal_interval_seconds, config.failed_auth_rate_limit,
            config.trusted_proxies) == (300, "30/minute", 0)


def test_roles_are_checked(deployment):
    edit(deployment, "pemkot-bekasi.toml", 'roles = ["auditor"]', 'roles = ["root"]')
    with pytest.raises(ConfigError, match=r"unknown roles \['root'\]"):
        load_node_config(deployment.config_path("pemkot-bekasi"), environ={})


def test_delivery_is_push_unless_the_agreement_says_pull(deployment):
    agreement = load_node_config(deployment.config_path("pemkot-bekasi"), environ={}).agreement
    assert {d.delivery for d in agreement.flows} == {"push"}
    versions = 'receiver = "ombudsman-ri"\nschema_versions = ["1.0", "2.0"]'
    edit(deployment, "agreement.toml", versions, versions + '\ndelivery = "pull"')
    agreement = load_node_config(deployment.config_path("pemkot-bekasi"), environ={}).agreement
    flow = agreement.flow("tanggapan_klarifikasi", sender="pemkot-bekasi")
    assert flow is not None and flow.delivery == "pull"
    assert [d.delivery for d in agreement.flows].count("pull") == 1


@pytest.mark.parametrize(("value", "problem"), [
    ('"poll"', "must be one of ['push', 'pull'] (the sender posts, or the receiver fetches), "
               "got 'poll'"),
    ('"PULL"', "got 'PULL'"),
    ("true", "must be a string, got a boolean"),
])
def test_an_unknown_delivery_mode_is_refused(deployment, value, problem):
    path = edit(deployment, "agreement.toml", "max_records_per_batch = 1000",
                f"max_records_per_batch = 1000\ndelivery = {value}")
    with pytest.raises(ConfigError) as info:
        load_node_config(deployment.config_path("pemkot-bekasi"), environ={})
    assert info.value.file == str(path)
    assert info.value.key == "datasets[0].delivery"
    assert problem in info.value.problem


def test_a_chunked_transfer_expires_after_72_hours_unless_the_agreement_says(deployment):
    flows = deployment.config("pemkot-bekasi").agreement.flows
    assert {f.transfer_expiry_hours for f in flows} == {72}
    edit(deployment, "agreement.toml", "max_batch_bytes = 262144",
         "max_batch_bytes = 262144\ntransfer_expiry_hours = 6")
    [first, *_] = deployment.config("pemkot-bekasi").agreement.flows
    assert first.transfer_expiry_hours == 6


# -- [node.witnessing] ---------------------------------------------------------------------


def witnessing(deployment, table):
    """Pemkot's node config with a ``[node.witnessing]`` table (or a ``witnessing`` line)."""
    return edit(deployment, "pemkot-bekasi.toml", "checkpoint_interval_seconds = 1",
                f"checkpoint_interval_seconds = 1\n{table}\n")


def test_witnessing_asks_every_other_party_for_one_cosignature_by_default(deployment):
    config = load_node_config(deployment.config_path("pemkot-bekasi"), environ={})
    assert config.witnessing == Witnessing(quorum=1, witnesses=None)
    assert config.witnessing.parties(config.agreement, "pemkot-bekasi") == ("ombudsman-ri",)
    witnessing(deployment, '[node.witnessing]\nquorum = 1\nwitnesses = ["ombudsman-ri"]')
    config = load_node_config(deployment.config_path("pemkot-bekasi"), environ={})
    assert config.witnessing == Witnessing(quorum=1, witnesses=("ombudsman-ri",))


@pytest.mark.parametrize(("table", "key", "problem"), [
    ("[node.witnessing]\nquorum = 2", "node.witnessing.quorum",
     "2 is more than the 1 witnesses there are (other parties of the agreement)"),
    ("[node.witnessing]\nquorum = 0", "node.witnessing.quorum", "must be a positive integer"),
    ("[node.witnessing]\nquorum = true", "node.witnessing.quorum", "got a boolean"),
    ('[node.witnessing]\nwitnesses = ["kota-depok"]', "node.witnessing.witnesses[0]",
     "unknown party 'kota-depok' (parties: ['ombudsman-ri', 'pemkot-bekasi'])"),
    ('[node.witnessing]\nwitnesses = ["pemkot-bekasi"]', "node.witnessing.witnesses[0]",
     "'pemkot-bekasi' is this node's own party"),
    ('[node.witnessing]\nwitnesses = ["ombudsman-ri", "ombudsman-ri"]',
     "node.witnessing.witnesses[1]", "'ombudsman-ri' is listed twice"),
    ("[node.witnessing]\nwitnesses = []", "node.witnessing.quorum",
     "1 is more than the 0 witnesses there are (listed in witnesses)"),
    ('[node.witnessing]\nwitnesses = "ombudsman-ri"', "node.witnessing.witnesses",
     "must be a list"),
    ("[node.witnessing]\nrounds = 3", "node.witnessing.rounds", "is not a known setting"),
    ("witnessing = 3", "node.witnessing", "must be a table"),
])
def test_a_witnessing_quorum_that_cannot_be_met_is_an_error(deployment, table, key, problem):
    path = witnessing(deployment, table)
    with pytest.raises(ConfigError) as info:
        load_node_config(path, environ={})
    assert (info.value.file, info.value.key) == (str(path), key)
    assert problem in info.value.problem
