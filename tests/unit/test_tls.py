"""[node.tls], the development CA, production's refusal of it, and TLS on outbound calls."""

import datetime as dt
import ipaddress
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from gateway.cli.serve import gunicorn_tls_arguments
from gateway.errors import ConfigError
from gateway.node import outbound_tls
from gateway.node.config import TLSConfig, load_agreement, load_node_config
from gateway.node.startup_checks import is_development, problems
from gateway.ops.devca import (
    CA_CERT,
    CA_KEY,
    CA_VALIDITY_DAYS,
    DevCAError,
    client_files,
    make_dev_ca,
    party_files,
)
from tests.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]
PARTY = "pemkot-bekasi"
TLS = """
[node.tls]
cert_file = "tls/pemkot-bekasi.pem"
key_file = "tls/pemkot-bekasi-key.pem"
client_ca_file = "tls/ca.pem"
peer_ca_file = "tls/ca.pem"
"""


@pytest.fixture
def tls_deployment(deployment):
    """The test deployment with https base URLs and the dev CA's files in tls/."""
    path = deployment.root / "agreement.toml"
    path.write_text(path.read_text().replace("http://127.0.0.1", "https://127.0.0.1")
                    .replace(f"https://127.0.0.1:{deployment.ports['ombudsman-ri']}",
                             "https://gateway.ombudsman.test:8443"))
    make_dev_ca(deployment.root / "tls", load_agreement(path), clients=["sistem-pengaduan"])
    return deployment


def with_tls(deployment, text=TLS):
    path = deployment.config_path(PARTY)
    path.write_text(path.read_text() + text)
    return load_node_config(path, environ={})


# -- [node.tls] ----------------------------------------------------------------------------------

def test_no_tls_table_means_plain_http_as_before(deployment):
    config = deployment.config(PARTY)
    assert config.tls == TLSConfig()
    assert not config.tls.serves_https and config.tls.client_cert is None
    assert gunicorn_tls_arguments(config.tls) == []


def test_tls_paths_are_relative_to_the_node_config(tls_deployment):
    config = with_tls(tls_deployment)
    tls_dir = tls_deployment.root / "tls"
    assert config.tls.cert_file == tls_dir / "pemkot-bekasi.pem"
    assert config.tls.client_ca_file == config.tls.peer_ca_file == tls_dir / "ca.pem"
    # Without a client certificate of its own, the node shows its server certificate.
    assert config.tls.client_cert == party_files(tls_dir, PARTY)
    assert gunicorn_tls_arguments(config.tls) == [
        "--certfile", str(tls_dir / "pemkot-bekasi.pem"),
        "--keyfile", str(tls_dir / "pemkot-bekasi-key.pem"),
        "--ca-certs", str(tls_dir / "ca.pem"), "--cert-reqs", str(int(ssl.CERT_REQUIRED))]
    config = with_tls(tls_deployment, 'client_cert_file = "tls/client-sistem-pengaduan.pem"\n'
                                      'client_key_file = "tls/client-sistem-pengaduan-key.pem"\n')
    assert config.tls.client_cert == (tls_dir / "client-sistem-pengaduan.pem",
                                      tls_dir / "client-sistem-pengaduan-key.pem")


def test_only_outbound_settings_serve_no_https(tls_deployment):
    config = with_tls(tls_deployment, '\n[node.tls]\npeer_ca_file = "tls/ca.pem"\n')
    assert not config.tls.serves_https and config.tls.client_cert is None
    assert gunicorn_tls_arguments(config.tls) == []


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ('cert_file = "tls/pemkot-bekasi.pem"', 'cert_file = "tls/nope.pem"',
     "node.tls.cert_file", "file not found: {root}/tls/nope.pem"),
    ('client_ca_file = "tls/ca.pem"', 'client_ca_file = "tls"',
     "node.tls.client_ca_file", "is not a file: {root}/tls"),
    ('key_file = "tls/pemkot-bekasi-key.pem"\n', "",
     "node.tls.key_file", "is required with node.tls.cert_file"),
    ('cert_file = "tls/pemkot-bekasi.pem"\nkey_file = "tls/pemkot-bekasi-key.pem"\n', "",
     "node.tls.client_ca_file", "needs cert_file and key_file"),
    ('key_file = "tls/pemkot-bekasi-key.pem"', 'key_file = "tls/ombudsman-ri-key.pem"',
     "node.tls.key_file", "is not the private key of node.tls.cert_file"),
    ('key_file = "tls/pemkot-bekasi-key.pem"', 'key_file = "tls/ca.pem"',
     "node.tls.cert_file", "do not load as a PEM certificate and its private key"),
    ('peer_ca_file = "tls/ca.pem"', 'peer_ca_file = "tls/ca-key.pem"',
     "node.tls.peer_ca_file", "holds no PEM CA certificate"),
    ('peer_ca_file = "tls/ca.pem"', 'peer_ca_file = ""',
     "node.tls.peer_ca_file", "must not be empty"),
    ('peer_ca_file = "tls/ca.pem"', 'peer_ca = "tls/ca.pem"',
     "node.tls.peer_ca", "is not a known setting"),
    ('peer_ca_file = "tls/ca.pem"', "peer_ca_file = true",
     "node.tls.peer_ca_file", "must be a string"),
])
def test_bad_tls_settings_name_file_key_and_problem(tls_deployment, old, new, key, problem):
    assert old in TLS
    with pytest.raises(ConfigError) as info:
        with_tls(tls_deployment, TLS.replace(old, new))
    assert info.value.file == str(tls_deployment.config_path(PARTY))
    assert info.value.key == key
    assert problem.format(root=tls_deployment.root) in info.value.problem


def test_an_encrypted_tls_key_is_refused(tls_deployment):
    key = tls_deployment.root / "tls" / "pemkot-bekasi-key.pem"
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    key.write_bytes(loaded.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(ConfigError, match=r"node\.tls\.key_file: .* is encrypted"):
        with_tls(tls_deployment)


def test_serve_runs_tls_under_gunicorn_only(tls_deployment):
    path = tls_deployment.config_path(PARTY)
    path.write_text(path.read_text().replace("[node]\n", '[node]\nmode = "development"\n', 1) + TLS)
    done = subprocess.run([sys.executable, "-m", "gateway", "serve", "--dev-server", "--config",
                           str(path)], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert done.stderr == ("gateway: error: --dev-server serves plain HTTP only; a node with "
                           "[node.tls] cert_file runs under gunicorn (leave out --dev-server)\n")


def test_gunicorn_accepts_tls_1_2_and_newer_only():
    from gateway.ops import gunicorn_config

    made = []

    def factory():
        made.append(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
        return made[0]

    assert gunicorn_config.ssl_context(None, factory) is made[0]
    assert made[0].minimum_version == ssl.TLSVersion.TLSv1_2


# -- the development CA --------------------------------------------------------------------------

def test_the_dev_ca_chain_verifies_for_every_name_of_a_node(tls_deployment):
    tls_dir = tls_deployment.root / "tls"
    ca = x509.load_pem_x509_certificate((tls_dir / CA_CERT).read_bytes())
    assert "DEVELOPMENT ONLY" in ca.subject.rfc4514_string()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=365) <= lifetime <= dt.timedelta(days=CA_VALIDITY_DAYS + 1)
    builder = PolicyBuilder().store(Store([ca]))
    for party, host in (("pemkot-bekasi", "127.0.0.1"), ("ombudsman-ri", "gateway.ombudsman.test")):
        leaf = x509.load_pem_x509_certificate(party_files(tls_dir, party)[0].read_bytes())
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        # localhost, 127.0.0.1 and the host of the party's base_url (127.0.0.1 once).
        assert {str(n.value) for n in sans} == {"localhost", "127.0.0.1", host}
        for name in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
            assert builder.build_server_verifier(name).verify(leaf, [])[-1] == ca
        if host != "127.0.0.1":
            assert builder.build_server_verifier(x509.DNSName(host)).verify(leaf, [])
        # A party's node is a TLS client of its peers with the same certificate.
        assert builder.build_client_verifier().verify(leaf, []).chain[-1] == ca
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        assert leaf.not_valid_after_utc <= ca.not_valid_after_utc
    client = x509.load_pem_x509_certificate(
        client_files(tls_dir, "sistem-pengaduan")[0].read_bytes())
    assert builder.build_client_verifier().verify(client, []).chain[-1] == ca
    usages = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # And the ssl module takes them as a server's and a client's context would.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls_dir / CA_CERT)
    context.load_cert_chain(*party_files(tls_dir, "pemkot-bekasi"))
    context.load_cert_chain(*client_files(tls_dir, "sistem-pengaduan"))


def test_the_dev_ca_keys_are_private_and_nothing_is_overwritten(tls_deployment):
    tls_dir = tls_deployment.root / "tls"
    keys = sorted(tls_dir.glob("*-key.pem"))
    assert len(keys) == 4  # the CA, two parties, one client
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = {p.name: p.read_bytes() for p in tls_dir.iterdir()}
    agreement = load_agreement(tls_deployment.root / "agreement.toml")
    again = make_dev_ca(tls_dir, agreement, clients=["sistem-pengaduan", "inspektorat"])
    assert [(i.what, i.made) for i in again] == [
        ("development CA", False), ("party pemkot-bekasi", False), ("party ombudsman-ri", False),
        ("client sistem-pengaduan", False), ("client inspektorat", True)]
    assert {p.name: p.read_bytes() for p in tls_dir.iterdir() if p.name in before} == before
    (tls_dir / "ombudsman-ri.pem").unlink()
    with pytest.raises(DevCAError, match=r"ombudsman-ri-key\.pem exists without ombudsman-ri\.pem"):
        make_dev_ca(tls_dir, agreement)
    (tls_dir / CA_CERT).unlink()
    (tls_dir / CA_KEY).unlink()
    (tls_dir / "ombudsman-ri-key.pem").unlink()
    with pytest.raises(DevCAError, match=r"holds certificates but no ca\.pem"):
        make_dev_ca(tls_dir, agreement)
    with pytest.raises(DevCAError, match="client name 'Bad Name'"):
        make_dev_ca(tls_deployment.root / "other", agreement, clients=["Bad Name"])


def test_the_dev_ca_script_prints_what_it_made(tmp_path):
    out = tmp_path / "ca"
    command = [sys.executable, str(ROOT / "scripts" / "dev_ca.py"), str(out), "--client", "simpel"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"made           development CA: {out / 'ca.pem'}, key {out / 'ca-key.pem'}"
    assert f"made           client simpel: {out / 'client-simpel.pem'}, " \
           f"key {out / 'client-simpel-key.pem'}" in lines
    assert "[node.tls]" in lines
    assert sorted(p.name for p in out.iterdir()) == [
        "ca-key.pem", "ca.pem", "client-simpel-key.pem", "client-simpel.pem",
        "ombudsman-ri-key.pem", "ombudsman-ri.pem", "pemkot-bekasi-key.pem", "pemkot-bekasi.pem"]
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert again.returncode == 0
    assert again.stdout.splitlines()[0].startswith("kept (exists)  development CA")
    (out / "ca.pem").unlink()
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"dev-ca: error: {out / 'ca-key.pem'} exists without ca.pem")


# -- production mode -----------------------------------------------------------------------------

def test_production_refuses_certificates_of_the_dev_ca(tls_deployment):
    config = with_tls(tls_deployment)
    env = {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}
    found = problems(config, env)
    tls_dir = tls_deployment.root / "tls"
    assert found == [
        f"node.tls.cert_file {tls_dir / 'pemkot-bekasi.pem'} holds a certificate of a "
        "development CA (DEVELOPMENT ONLY)",
        f"node.tls.client_ca_file {tls_dir / 'ca.pem'} holds a certificate of a development CA "
        "(DEVELOPMENT ONLY)",
        f"node.tls.peer_ca_file {tls_dir / 'ca.pem'} holds a certificate of a development CA "
        "(DEVELOPMENT ONLY)"]


def test_production_takes_other_certificates_with_private_keys(tls_deployment):
    tls_dir = tls_deployment.root / "tls"
    cert, key = tls_dir / "real.pem", tls_dir / "real-key.pem"
    self_signed(cert, key)
    assert not is_development(cert)
    text = '\n[node.tls]\ncert_file = "tls/real.pem"\nkey_file = "tls/real-key.pem"\n'
    config = with_tls(tls_deployment, text)
    env = {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}
    assert problems(config, env) == []
    key.chmod(0o640)
    assert problems(config, env) == [
        f"node.tls.key_file {key} may be read by other users (chmod 600)"]


def self_signed(cert_path, key_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.example.go.id")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)


# -- outbound calls ------------------------------------------------------------------------------

def test_outbound_calls_to_peers_use_the_node_tls_settings(tls_deployment):
    config = with_tls(tls_deployment)
    outbound_tls.configure(config)
    tls_dir = tls_deployment.root / "tls"
    peer = config.agreement.party("ombudsman-ri").base_url
    assert peer == "https://gateway.ombudsman.test:8443"
    assert outbound_tls.tls_for(peer + "/exchange/v1/batches") == {
        "verify": str(tls_dir / "ca.pem"),
        "cert": (str(tls_dir / "pemkot-bekasi.pem"), str(tls_dir / "pemkot-bekasi-key.pem"))}
    assert outbound_tls.tls_for("https://GATEWAY.ombudsman.test:8443/x")["cert"] is not None
    # The node's own URL, other hosts, ports and plain HTTP: the system's CAs, no certificate.
    own = config.agreement.party(PARTY).base_url
    system = outbound_tls.system_trust_store()
    for url in (own, "https://gateway.ombudsman.test/x", "https://example.org:8443/x",
                "http://gateway.ombudsman.test:8443/x", "not a url"):
        assert outbound_tls.tls_for(url) == {"verify": system, "cert": None}, url


def test_a_peer_without_a_peer_ca_file_is_verified_with_the_system_trust_store(
        tls_deployment, monkeypatch):
    text = ('\n[node.tls]\nclient_cert_file = "tls/client-sistem-pengaduan.pem"\n'
            'client_key_file = "tls/client-sistem-pengaduan-key.pem"\n')
    outbound_tls.configure(with_tls(tls_deployment, text))
    url = "https://gateway.ombudsman.test:8443/exchange/v1/jwks"
    tls = outbound_tls.tls_for(url)
    assert tls["verify"] == outbound_tls.system_trust_store() == (
        ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().capath or True)
    assert tls["cert"] == tuple(str(p) for p in client_files(tls_deployment.root / "tls",
                                                             "sistem-pengaduan"))
    # OpenSSL's own variable names the system's store; verification is never turned off.
    bundle = tls_deployment.root / "tls" / CA_CERT
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert outbound_tls.tls_for(url)["verify"] == str(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_deployment.root / "none.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tls_deployment.root / "none"))
    assert outbound_tls.tls_for(url)["verify"] is True
