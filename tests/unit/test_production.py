"""A node in production mode refuses development secrets; a development node runs with them."""

import pytest

from gateway.crypto.keys import init_keys
from gateway.errors import ConfigError
from gateway.node.config import load_node_config
from gateway.node.node import Node
from gateway.node.startup_checks import ProductionRefused, problems
from tests.conftest import PASSPHRASE

DEV_TOKEN_HASH = "e8831417c4cd760e84a39a09a09409890d72e0b5b47e22a8fef8e3bad824423c"


def config_text(deployment):
    return deployment.config_path("pemkot-bekasi").read_text()


def test_the_test_deployment_is_a_production_node_and_starts(deployment):
    config = deployment.config("pemkot-bekasi")
    assert config.mode == "production"
    assert problems(config, {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}) == []
    Node.from_config(config, environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}).store.dispose()


def test_production_refuses_published_tokens_weak_passphrases_and_plain_keys(deployment):
    path = deployment.config_path("pemkot-bekasi")
    text = config_text(deployment)
    first_hash = text.split('token_sha256 = "')[1].split('"')[0]
    path.write_text(text.replace(first_hash, DEV_TOKEN_HASH, 1))
    config = load_node_config(path, environ={})
    plain = config.key_dir / "signing.pem"
    init_keys(deployment.root / "plain", environ={}, insecure=True)
    plain.write_bytes((deployment.root / "plain" / "signing.pem").read_bytes())
    for env, about in (({}, "is not set"),
                       ({"GATEWAY_KEY_PASSPHRASE": "short"}, "shorter than 12"),
                       ({"GATEWAY_KEY_PASSPHRASE":
                         "demo-only-passphrase-do-not-use-in-production"}, "published demo")):
        with pytest.raises(ProductionRefused) as refused:
            Node.from_config(config, environ=env)
        message = str(refused.value)
        assert "client 'sistem-pengaduan' has a published development token" in message
        assert about in message and "signing.pem is not encrypted" in message


def test_development_mode_runs_with_them_and_other_modes_are_refused(deployment):
    path = deployment.config_path("pemkot-bekasi")
    text = config_text(deployment)
    first_hash = text.split('token_sha256 = "')[1].split('"')[0]
    path.write_text(text.replace(first_hash, DEV_TOKEN_HASH, 1)
                    .replace("[node]\n", '[node]\nmode = "development"\n', 1))
    config = load_node_config(path, environ={})
    Node.from_config(config, environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}).store.dispose()
    path.write_text(text.replace("[node]\n", '[node]\nmode = "staging"\n', 1))
    with pytest.raises(ConfigError, match="mode: must be"):
        load_node_config(path, environ={})


def test_the_shipped_configs_are_development_nodes():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "config"
    for party in ("pemkot-bekasi", "ombudsman-ri"):
        assert 'mode = "development"' in (root / f"{party}.toml").read_text()


def test_production_refuses_a_rotated_key_stored_unencrypted(deployment):
    from gateway.node import key_lifecycle

    config = deployment.config("pemkot-bekasi")
    key_lifecycle.rotate(config, "enc", operator="budi",
                         environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE})
    entry = key_lifecycle.rotate(config, "sig", operator="budi", environ={}, insecure=True)
    found = problems(config, {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE})
    assert found == [f"{config.key_dir / entry.file} is not encrypted"]
