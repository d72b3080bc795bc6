"""Encryption at rest of connector secrets: tokens, keys, rotation and key resolution."""

import hashlib
import os
import stat

import pytest
from cryptography.fernet import Fernet

from integration import secretbox
from integration.secretbox import (
    MAX_DECRYPTED_CACHED,
    KeySource,
    SecretBox,
    SecretBoxError,
    fingerprint,
    generate_key,
    load_key,
)

PLAINTEXT = "sk_live_ünïcode-API-key-42"


@pytest.fixture
def key():
    return generate_key()


@pytest.fixture
def other_key():
    return generate_key()


@pytest.fixture
def umask():
    """Run with a permissive umask, to show the file modes do not depend on it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _flip(token, position):
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1 :]


# -- SecretBox ---------------------------------------------------------------------


def test_round_trip_returns_the_original_text(key):
    box = SecretBox(key)
    token = box.encrypt(PLAINTEXT)
    assert box.decrypt(token) == PLAINTEXT


def test_token_does_not_reveal_the_plaintext_and_is_randomised(key):
    box = SecretBox(key)
    first, second = box.encrypt(PLAINTEXT), box.encrypt(PLAINTEXT)
    assert PLAINTEXT not in first
    assert "API-key" not in first
    assert first != second


def test_token_is_a_standard_fernet_token(key):
    token = SecretBox(key).encrypt(PLAINTEXT)
    assert Fernet(key.encode()).decrypt(token.encode()).decode() == PLAINTEXT


@pytest.mark.parametrize("position", [0, 10, 40, -5])
def test_tampered_token_is_rejected_without_echoing_it(key, position):
    box = SecretBox(key)
    token = box.encrypt(PLAINTEXT)
    tampered = _flip(token, position % len(token))
    with pytest.raises(SecretBoxError) as caught:
        box.decrypt(tampered)
    message = str(caught.value)
    assert tampered not in message
    assert PLAINTEXT not in message
    assert key not in message


def test_truncated_or_garbage_token_is_rejected(key):
    box = SecretBox(key)
    token = box.encrypt(PLAINTEXT)
    for bad in (token[:-4], "", "not a token", "ééé", b"\x00\xff"):
        with pytest.raises(SecretBoxError):
            box.decrypt(bad)


def test_repeated_decryption_is_remembered_but_tampering_still_fails(key):
    box = SecretBox(key)
    token = box.encrypt(PLAINTEXT)
    assert box.decrypt(token) == PLAINTEXT
    assert box.decrypt(token) == PLAINTEXT
    assert list(box._decrypted) == [token]
    with pytest.raises(SecretBoxError):
        box.decrypt(_flip(token, 40))
    assert list(box._decrypted) == [token], "only tokens that decrypted are remembered"
    with pytest.raises(SecretBoxError):
        SecretBox(Fernet.generate_key().decode()).decrypt(token)


def test_remembered_secrets_are_bounded(key):
    box = SecretBox(key)
    tokens = [box.encrypt(f"secret-{index}") for index in range(MAX_DECRYPTED_CACHED + 10)]
    for index, token in enumerate(tokens):
        assert box.decrypt(token) == f"secret-{index}"
        assert len(box._decrypted) <= MAX_DECRYPTED_CACHED


def test_non_text_token_is_rejected(key):
    with pytest.raises(SecretBoxError):
        SecretBox(key).decrypt(12345)


def test_wrong_key_cannot_decrypt(key, other_key):
    token = SecretBox(key).encrypt(PLAINTEXT)
    with pytest.raises(SecretBoxError) as caught:
        SecretBox(other_key).decrypt(token)
    assert other_key not in str(caught.value)
    assert key not in str(caught.value)


def test_old_key_still_decrypts_during_rotation(key, other_key):
    old_token = SecretBox(other_key).encrypt(PLAINTEXT)
    box = SecretBox([key, other_key])
    assert box.decrypt(old_token) == PLAINTEXT


def test_new_tokens_use_the_first_key(key, other_key):
    token = SecretBox([key, other_key]).encrypt(PLAINTEXT)
    assert SecretBox(key).decrypt(token) == PLAINTEXT
    with pytest.raises(SecretBoxError):
        SecretBox(other_key).decrypt(token)


def test_rotate_re_encrypts_under_the_current_key(key, other_key):
    old_token = SecretBox(other_key).encrypt(PLAINTEXT)
    rotated = SecretBox([key, other_key]).rotate(old_token)
    assert rotated != old_token
    assert SecretBox(key).decrypt(rotated) == PLAINTEXT
    with pytest.raises(SecretBoxError):
        SecretBox(other_key).decrypt(rotated)


def test_rotate_refuses_a_token_from_an_unknown_key(key, other_key):
    token = SecretBox(other_key).encrypt(PLAINTEXT)
    with pytest.raises(SecretBoxError) as caught:
        SecretBox(key).rotate(token)
    assert token not in str(caught.value)


@pytest.mark.parametrize("bad", ["", None, [], ["", None]])
def test_a_box_needs_a_key(bad):
    with pytest.raises(SecretBoxError):
        SecretBox(bad)


def test_invalid_key_is_refused_without_echoing_it(key):
    bad = "this-is-not-a-fernet-key-at-all"
    with pytest.raises(SecretBoxError) as caught:
        SecretBox([key, bad])
    assert bad not in str(caught.value)
    assert "#2" in str(caught.value)


def test_repr_shows_fingerprints_not_keys(key, other_key):
    text = repr(SecretBox([key, other_key]))
    assert key not in text and other_key not in text
    assert fingerprint(key) in text and fingerprint(other_key) in text


def test_generated_keys_are_valid_and_unique():
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    for generated in keys:
        Fernet(generated.encode())


def test_fingerprint_is_short_stable_and_specific(key, other_key):
    assert fingerprint(key) == hashlib.sha256(key.encode()).hexdigest()[:8]
    assert fingerprint(key.encode()) == fingerprint(key)
    assert fingerprint(key) != fingerprint(other_key)
    assert SecretBox([key, other_key]).fingerprint == fingerprint(key)
    assert fingerprint(key) not in key


# -- load_key ----------------------------------------------------------------------


def test_config_value_wins_over_environment_and_key_file(tmp_path, key, other_key):
    source = load_key(config_value=key, env={secretbox.ENV_VAR: other_key}, data_dir=tmp_path)
    assert source == KeySource((key,), "config")
    assert not (tmp_path / "shipment_visibility").exists()


def test_environment_wins_over_key_file(tmp_path, key):
    source = load_key(env={secretbox.ENV_VAR: key}, data_dir=tmp_path)
    assert source == KeySource((key,), "environment")
    assert not (tmp_path / "shipment_visibility").exists()


def test_blank_config_falls_through_to_environment(tmp_path, key):
    source = load_key(config_value="  ", env={secretbox.ENV_VAR: key}, data_dir=tmp_path)
    assert source.source == "environment"


def test_comma_separated_keys_keep_their_order(key, other_key):
    source = load_key(config_value=f" {key} , {other_key} ", env={})
    assert source.keys == (key, other_key)
    box = SecretBox(source.keys)
    assert box.fingerprint == fingerprint(key)
    assert box.decrypt(SecretBox(other_key).encrypt(PLAINTEXT)) == PLAINTEXT


def test_environment_accepts_several_keys(key, other_key):
    source = load_key(env={secretbox.ENV_VAR: f"{key},{other_key}"})
    assert source.keys == (key, other_key)


@pytest.mark.parametrize("origin", ["config", "environment"])
def test_invalid_configured_key_is_refused_without_echoing_it(key, origin):
    bad = "definitely-not-a-key"
    value = f"{key},{bad}"
    with pytest.raises(SecretBoxError) as caught:
        if origin == "config":
            load_key(config_value=value, env={})
        else:
            load_key(env={secretbox.ENV_VAR: value})
    assert bad not in str(caught.value)
    assert key not in str(caught.value)


def test_without_any_source_loading_fails():
    with pytest.raises(SecretBoxError) as caught:
        load_key(env={})
    assert secretbox.ENV_VAR in str(caught.value)


def test_key_file_is_created_private_on_first_use(tmp_path, umask):
    source = load_key(env={}, data_dir=str(tmp_path))
    path = tmp_path / "shipment_visibility" / "secret.key"
    assert source.source == "key_file"
    assert source.path == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().strip() == source.keys[0]
    Fernet(source.keys[0].encode())
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]


def test_key_file_is_reused(tmp_path):
    first = load_key(env={}, data_dir=tmp_path)
    token = SecretBox(first.keys).encrypt(PLAINTEXT)
    second = load_key(env={}, data_dir=tmp_path)
    assert second.keys == first.keys
    assert SecretBox(second.keys).decrypt(token) == PLAINTEXT


def test_existing_key_file_is_never_overwritten(tmp_path, key, other_key):
    directory = tmp_path / "shipment_visibility"
    directory.mkdir(mode=0o700)
    path = directory / "secret.key"
    path.write_text(f"{key}\n{other_key}\n")
    path.chmod(0o600)
    source = load_key(env={}, data_dir=tmp_path)
    assert source.keys == (key, other_key)
    assert path.read_text() == f"{key}\n{other_key}\n"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path, key, mode):
    directory = tmp_path / "shipment_visibility"
    directory.mkdir(mode=0o700)
    path = directory / "secret.key"
    path.write_text(key)
    path.chmod(mode)
    with pytest.raises(SecretBoxError) as caught:
        load_key(env={}, data_dir=tmp_path)
    assert "chmod 600" in str(caught.value)
    assert key not in str(caught.value)


def test_group_writable_key_directory_is_refused(tmp_path):
    directory = tmp_path / "shipment_visibility"
    directory.mkdir()
    directory.chmod(0o770)
    with pytest.raises(SecretBoxError) as caught:
        load_key(env={}, data_dir=tmp_path)
    assert "chmod 700" in str(caught.value)
    assert not (directory / "secret.key").exists()


def test_corrupt_key_file_is_refused_without_echoing_it(tmp_path):
    directory = tmp_path / "shipment_visibility"
    directory.mkdir(mode=0o700)
    path = directory / "secret.key"
    path.write_text("garbage-key-material")
    path.chmod(0o600)
    with pytest.raises(SecretBoxError) as caught:
        load_key(env={}, data_dir=tmp_path)
    assert "garbage-key-material" not in str(caught.value)


def test_key_source_repr_hides_the_keys(key):
    source = load_key(config_value=key, env={})
    assert key not in repr(source)
    assert fingerprint(key) in repr(source)
