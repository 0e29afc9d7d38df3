"""Secrets stay out of what vllm-top shows and writes."""

from __future__ import annotations

import os

import pytest

from engine.launch import LaunchSpec
from engine.redact import MASK, Redactor
from tests.helpers import FIXTURES
from tui.commands.errors import UsageError
from tui.commands.settings import ServeSettings, split_api_keys

KEY = "sk-live-7f3a9c1e5b"


def test_known_secrets_are_masked_wherever_they_appear() -> None:
    redact = Redactor([KEY, None, ""])
    assert redact(f"x {KEY} y {KEY}") == f"x {MASK} y {MASK}"
    assert redact("nothing to hide") == "nothing to hide"
    assert redact.known == 1


def test_secret_shapes_are_masked_even_when_unknown() -> None:
    redact = Redactor()
    line = (
        "(APIServer pid=7) INFO 11-21 22:48:30 [api_utils.py:286] non-default args: "
        "{'host': '127.0.0.1', 'model': 'm', 'api_key': ['k-one', 'k-two']}"
    )
    assert redact(line).endswith("'model': 'm', 'api_key': ['***']}")
    assert (
        redact("curl -H 'Authorization: Bearer abc.def'") == "curl -H 'Authorization: Bearer ***'"
    )
    assert redact("--api-key=abc --api-key def") == "--api-key=*** --api-key ***"
    assert redact("NGROK_AUTHTOKEN=2xYz python x.py") == "NGROK_AUTHTOKEN=*** python x.py"


def test_short_known_secrets_are_masked_only_by_shape() -> None:
    # Masking "abc" in every line would mangle the log (and reveal the key by its holes).
    redact = Redactor(["abc"])
    assert redact("abcdef --api-key abc") == "abcdef --api-key ***"


def test_a_real_log_without_secrets_is_left_alone() -> None:
    lines = (FIXTURES / "vllm-0.32-cpu-demo.stdout.log").read_text().splitlines()
    assert Redactor([KEY]).lines(lines) == lines


def test_vllm_api_keys_move_from_the_command_line_to_the_environment() -> None:
    rest, keys = split_api_keys(("--max-model-len", "64", "--api-key", KEY, "--enforce-eager"))
    assert rest == ("--max-model-len", "64", "--enforce-eager") and keys == (KEY,)
    assert split_api_keys(("--api-key=a1", "--api-key", "b2", "c3")) == ((), ("a1", "b2", "c3"))
    spec = LaunchSpec(model="m").with_api_keys(keys)
    assert KEY not in " ".join(spec.argv())
    assert spec.child_env()["VLLM_API_KEY"] == KEY
    # Several keys fit only on vLLM's command line.
    assert LaunchSpec(model="m").with_api_keys(("a1", "b2")).argv()[-3:] == [
        "--api-key",
        "a1",
        "b2",
    ]


def test_the_ngrok_token_never_reaches_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGROK_AUTHTOKEN", "tok-123456789")
    assert "NGROK_AUTHTOKEN" not in LaunchSpec(model="m").child_env()


def _settings(
    monkeypatch: pytest.MonkeyPatch, share: bool, vllm_args: tuple[str, ...] = ()
) -> ServeSettings:
    import argparse

    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    args = argparse.Namespace(
        model=None, demo=True, headless=True, host="127.0.0.1", port=8000, python="python",
        log_dir=None, startup_timeout=10.0, stop_grace=1.0, keep_server=False, share=share,
    )  # fmt: skip
    return ServeSettings.from_args(args, vllm_args)


def test_share_generates_a_strong_key_when_none_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, share=True)
    assert settings.generated_key and settings.api_key is not None
    assert len(settings.api_key) >= 40
    assert _settings(monkeypatch, share=True).api_key != settings.api_key
    given = _settings(monkeypatch, share=True, vllm_args=("--api-key", KEY))
    assert given.api_key == KEY and not given.generated_key and given.vllm_args == ()
    assert _settings(monkeypatch, share=False).api_key is None


def test_share_needs_the_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    settings = _settings(monkeypatch, share=True)
    with pytest.raises(UsageError, match=r"NGROK_AUTHTOKEN .*never taken from the command line"):
        settings.validate()
    monkeypatch.setenv("NGROK_AUTHTOKEN", "tok-123456789")
    redact = _settings(monkeypatch, share=True).redactor()
    assert redact("token tok-123456789") == f"token {MASK}"
    assert os.environ["NGROK_AUTHTOKEN"] == "tok-123456789"
