import pytest

from reelforge.config import load_settings
from reelforge.errors import ConfigError


def test_priority_defaults_toml_env_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "r.toml"
    cfg.write_text(
        'images = "from-toml"\nmusic = "from-toml"\ncrf = 30\n[options.piper]\nlength_scale = 1.2\n'
    )
    monkeypatch.setenv("REELFORGE_MUSIC", "from-env")
    s = load_settings(cfg, crf=18)
    assert s.images == "from-toml"  # file beats default
    assert s.music == "from-env"  # env beats file
    assert s.crf == 18  # explicit override beats everything
    assert s.options_for("piper") == {"length_scale": 1.2}
    assert s.writer == "auto"


def test_bad_values_are_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("crf = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="crf"):
        load_settings(None, crf=99)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_secrets_are_redacted_in_saved_config():
    s = load_settings(None, options={"openai": {"api_key": "sk-123", "model": "m"}})
    dump = s.public_dump()
    assert dump["options"]["openai"]["api_key"] == "***"
    assert dump["options"]["openai"]["model"] == "m"
