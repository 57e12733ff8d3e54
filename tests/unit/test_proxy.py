"""gateway proxy nginx: the rendered configuration, and what it refuses to render."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.main import cli
from gateway.node.config import load_node_config
from gateway.ops.proxy import ProxyLimits, ProxyTLS, render_nginx

CONFIG = Path(__file__).resolve().parents[2] / "config" / "pemkot-bekasi.toml"


@pytest.fixture(scope="module")
def config():
    return load_node_config(CONFIG, environ={})


def test_the_rendering_holds_every_limit(config):
    text = render_nginx(config, listen="0.0.0.0:443", server_name="gateway.bekasikota.go.id",
                        tls=ProxyTLS(Path("/etc/ssl/a.pem"), Path("/etc/ssl/a.key")))
    for line in ("listen 0.0.0.0:443 ssl;", "server_tokens off;", "client_header_timeout 10s;",
                 "client_body_timeout 30s;", "send_timeout 30s;", "keepalive_timeout 15s;",
                 "large_client_header_buffers 4 8k;", "proxy_request_buffering on;",
                 "proxy_buffering on;", f"client_max_body_size {config.max_body_bytes};",
                 "client_max_body_size 64k;", "proxy_set_header X-Forwarded-For $remote_addr;",
                 "proxy_set_header X-Forwarded-Proto $scheme;",
                 "proxy_set_header X-Real-IP $remote_addr;", f"server {config.listen};",
                 "ssl_protocols TLSv1.2 TLSv1.3;"):
        assert line in text, line
    assert "{{" not in text and "{%" not in text
    limited = render_nginx(config, listen="8443", server_name="localhost", tls=None,
                           limits=ProxyLimits(header_timeout=2, max_body=1000))
    assert "client_header_timeout 2s;" in limited and "client_max_body_size 1000;" in limited
    assert " ssl" not in limited.split("server_name")[0].split("listen", 1)[1]


@pytest.mark.parametrize(("field", "value"), [
    ("listen", "0.0.0.0:443; include /etc/shadow"),
    ("listen", "localhost"),
    ("server_name", "a.example; return 200"),
    ("server_name", ""),
    ("upstream", "127.0.0.1:8701\nserver evil:80"),
    ("upstream", "127.0.0.1:8701\n"),
    ("server_name", "localhost\n"),
])
def test_what_cannot_be_a_directive_argument_is_refused(config, field, value):
    args = {"listen": "443", "server_name": "localhost", "tls": None, field: value}
    with pytest.raises(ValueError):
        render_nginx(config, **args)
    with pytest.raises(ValueError):
        render_nginx(config, listen="443", server_name="localhost",
                     tls=ProxyTLS(Path("/etc/ssl/a b.pem"), Path("/k")))
    with pytest.raises(ValueError):
        render_nginx(config, listen="443", server_name="localhost", tls=None,
                     limits=ProxyLimits(burst=0))


def test_the_command_wants_tls_unless_told_not_to():
    runner = CliRunner()
    base = ["proxy", "nginx", "--config", str(CONFIG), "--listen", "443",
            "--server-name", "localhost"]
    refused = runner.invoke(cli, base)
    assert refused.exit_code == 2 and "--tls-cert" in refused.output
    plain = runner.invoke(cli, [*base, "--no-tls"])
    assert plain.exit_code == 0, plain.output
    assert "server_tokens off;" in plain.output
