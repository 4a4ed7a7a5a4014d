"""Secrets for the channels: from the environment or a safe file, never a demo value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seawarden import secrets
from seawarden.alerts.cli_deliver import load_checked
from seawarden.errors import ConfigError


def test_environment_first_then_file(tmp_path: Path) -> None:
    f = tmp_path / "secrets"
    f.write_text("# keys for the allies\nDNK_HOOK=from-file-7f3a\nOTHER = spaced value \n")
    f.chmod(0o600)
    env = {"SEAWARDEN_SECRET_DNK_HOOK": "from-env-91bc", "SEAWARDEN_SECRETS_FILE": str(f)}
    assert secrets.resolve("DNK_HOOK", env=env) == "from-env-91bc"
    assert secrets.resolve("OTHER", env=env) == "spaced value"
    assert secrets.resolve("dnk-hook", env={"SEAWARDEN_SECRETS_FILE": str(f)}) == "from-file-7f3a"


def test_yaml_secrets_file(tmp_path: Path) -> None:
    f = tmp_path / "secrets.yaml"
    f.write_text("NOR_HOOK: 'yaml-4e1d'\nPORT_LIKE: 8443\n")
    f.chmod(0o600)
    env = {"SEAWARDEN_SECRETS_FILE": str(f)}
    assert secrets.resolve("NOR_HOOK", env=env) == "yaml-4e1d"
    assert secrets.resolve("PORT_LIKE", env=env) == "8443"


def test_missing_secret_names_it_without_a_value() -> None:
    with pytest.raises(ConfigError, match="SEAWARDEN_SECRET_SWE_HOOK") as exc:
        secrets.resolve("SWE_HOOK", env={})
    assert "SWE_HOOK" in str(exc.value)


def test_world_readable_or_in_repo_files_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "secrets"
    f.write_text("A=b-very-secret\n")
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as exc:
        secrets.load_file(f)
    assert "b-very-secret" not in str(exc.value)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    inside = repo / "config" / "secrets"
    inside.parent.mkdir()
    inside.write_text("A=b\n")
    inside.chmod(0o600)
    with pytest.raises(ConfigError, match="git work tree"):
        secrets.load_file(inside)


def test_broken_yaml_does_not_echo_the_secret(tmp_path: Path) -> None:
    f = tmp_path / "secrets.yaml"
    f.write_text("KEY: [unclosed s3cr3t-value\n")
    f.chmod(0o600)
    with pytest.raises(ConfigError) as exc:
        secrets.load_file(f)
    assert "s3cr3t" not in str(exc.value)


def test_demo_and_default_values_are_refused_outside_demo() -> None:
    demo_value = secrets.DEMO_SECRETS["DEMO_WEBHOOK"]
    env = {"SEAWARDEN_SECRET_HOOK": demo_value, "SEAWARDEN_SECRET_PW": "changeme"}
    with pytest.raises(ConfigError, match="'HOOK'") as exc:
        secrets.require(["HOOK"], env=env)
    assert demo_value not in str(exc.value)
    with pytest.raises(ConfigError, match="'PW'"):
        secrets.require(["PW"], env=env)
    assert secrets.require(["HOOK"], env=env, demo=True) == {"HOOK": demo_value}
    # --demo fills in the published demo secrets when none is set.
    assert secrets.require(["DEMO_WEBHOOK"], env={}, demo=True)["DEMO_WEBHOOK"] == demo_value
    with pytest.raises(ConfigError, match="DEMO_WEBHOOK"):
        secrets.require(["DEMO_WEBHOOK"], env={})


def test_service_refuses_to_start_with_a_missing_or_default_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(
        "subscriptions:\n"
        "  - id: dnk-moc\n"
        "    recipient: Denmark MOC\n"
        "    nation: DNK\n"
        "    cleared_for: REL DNK\n"
        "    areas: all\n"
        "    min_severity: medium\n"
        "    channels:\n"
        "      - {kind: webhook, target: 'https://moc.example/in', secret: DNK_HOOK}\n"
    )
    for key in [k for k in os.environ if k.startswith("SEAWARDEN_SECRET")]:
        monkeypatch.delenv(key)
    with pytest.raises(ConfigError, match="DNK_HOOK"):
        load_checked(subs, demo=False)
    monkeypatch.setenv("SEAWARDEN_SECRET_DNK_HOOK", "secret")
    with pytest.raises(ConfigError, match="demo/default"):
        load_checked(subs, demo=False)
    monkeypatch.setenv("SEAWARDEN_SECRET_DNK_HOOK", "9c1f0e6b2d8a4f7e")
    loaded, resolved = load_checked(subs, demo=False)
    assert [s.id for s in loaded] == ["dnk-moc"]
    assert resolved == {"DNK_HOOK": "9c1f0e6b2d8a4f7e"}


def test_a_short_signing_key_is_refused_outside_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 1-character HMAC key used to be accepted: anyone could forge alerts to the ally.
    env = {"SEAWARDEN_SECRET_HOOK": "k", "SEAWARDEN_SECRET_PW": "k"}
    with pytest.raises(ConfigError, match=r"'HOOK' is a signing key of 1 bytes") as exc:
        secrets.require(["HOOK"], env=env, signing=["HOOK"])
    assert "'k'" not in str(exc.value)
    assert secrets.require(["PW"], env=env) == {"PW": "k"}  # a password is the server's rule
    assert secrets.require(["HOOK"], env=env, signing=["HOOK"], demo=True) == {"HOOK": "k"}
    ok = "0123456789abcdef"
    assert secrets.require([], env={"SEAWARDEN_SECRET_HOOK": ok}, signing=["HOOK"]) == {"HOOK": ok}
    with pytest.raises(ConfigError, match="at least 16"):
        secrets.require([], env={"SEAWARDEN_SECRET_HOOK": ok[:-1]}, signing=["HOOK"])
    # And through start-up: a webhook's secret is a signing key.
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(
        "subscriptions:\n"
        "  - id: dnk-moc\n"
        "    recipient: Denmark MOC\n"
        "    nation: DNK\n"
        "    cleared_for: REL DNK\n"
        "    areas: all\n"
        "    min_severity: medium\n"
        "    channels:\n"
        "      - {kind: webhook, target: 'https://moc.example/in', secret: DNK_HOOK}\n"
    )
    for key in [k for k in os.environ if k.startswith("SEAWARDEN_SECRET")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SEAWARDEN_SECRET_DNK_HOOK", "x7")
    with pytest.raises(ConfigError, match=r"DNK_HOOK.*signing key"):
        load_checked(subs, demo=False)


@pytest.mark.parametrize(
    "text",
    [
        "s3cr3t-pasted-value-9f2e:\n",  # the value pasted where the name goes (value null)
        "S3CR3T_PASTED_VALUE_9F2E:\n",  # ... and one that happens to look like a name
        "s3cr3t+pasted/value==: x\n",  # not a valid name
        "GOOD: fine-value\ns3cr3t-pasted-value-9f2e: [a, list]\n",
        "s3cr3t pasted value=x\n",  # NAME=value form with a bad name
    ],
)
def test_a_secrets_file_error_never_echoes_what_may_be_a_value(tmp_path: Path, text: str) -> None:
    f = tmp_path / "secrets.yaml"
    f.write_text(text)
    f.chmod(0o600)
    with pytest.raises(ConfigError, match="entry") as exc:
        secrets.load_file(f)
    assert "s3cr3t" not in str(exc.value).lower()
    assert "value==" not in str(exc.value)


def test_an_unreadable_or_binary_secrets_file_is_a_clear_error(tmp_path: Path) -> None:
    binary = tmp_path / "binary.sec"
    binary.write_bytes(b"HOOK=\xff\xfe-secret\n")
    binary.chmod(0o600)
    with pytest.raises(ConfigError, match="not UTF-8") as exc:
        secrets.load_file(binary)
    assert "secret" not in str(exc.value).split(":", 1)[1]
    # A regular, private file whose read fails (EIO): /proc/self/mem on Linux.
    mem = Path("/proc/self/mem")
    if mem.is_file():
        with pytest.raises(ConfigError, match="cannot read"):
            secrets.load_file(mem)
