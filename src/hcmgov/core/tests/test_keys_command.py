"""``hcmgov keys``: new, status, rotate, reindex."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from hcmgov.common import crypto
from hcmgov.identity.models import User, personal_id_index
from hcmgov.identity.tests.factories import UserFactory

K1 = base64.urlsafe_b64encode(b"1" * 32).decode()
K2 = base64.urlsafe_b64encode(b"2" * 32).decode()


def keys(*args: str) -> str:
    out = StringIO()
    call_command("keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_new_prints_a_key_the_setting_takes():
    line = keys("new", "k2026").strip()
    key_id, _, key = line.partition(":")
    assert key_id == "k2026"
    with override_settings(HCMGOV_DATA_KEYS=line):
        assert crypto.keyring().keys == {"k2026": base64.urlsafe_b64decode(key + "=")}


def test_new_refuses_a_bad_id():
    with pytest.raises(CommandError, match="invalid key id"):
        keys("new", "not:an id")


@pytest.mark.django_db
def test_status_rotate_status():
    with override_settings(HCMGOV_DATA_KEYS=f"k1:{K1}"):
        UserFactory.create_batch(2)
    with override_settings(HCMGOV_DATA_KEYS=f"k2:{K2},k1:{K1}"):
        UserFactory()
        status = keys("status")
        assert "newest key: k2" in status
        assert "identity.User.personal_id: k2 1, k1 2" in status
        assert "2 values under an older key" in status

        rotated = keys("rotate")
        assert "identity.User.personal_id: 2" in rotated
        assert "re-encrypted 2 values under key k2" in rotated
        assert "identity.User.personal_id: k2 3" in keys("status")
        assert "re-encrypted 0 values" in keys("rotate")  # a rerun does nothing
        assert "the older keys can be dropped" in keys("status")


@pytest.mark.django_db
def test_a_value_under_a_key_no_longer_given_is_reported():
    with override_settings(HCMGOV_DATA_KEYS=f"k1:{K1}"):
        UserFactory()
    with override_settings(HCMGOV_DATA_KEYS=f"k2:{K2}"):
        assert "k1 1 (không có khóa / key missing)" in keys("status")
        with pytest.raises(CommandError, match="key 'k1' is not among HCMGOV_DATA_KEYS"):
            keys("rotate")


def test_a_malformed_setting_is_a_command_error():
    with override_settings(HCMGOV_DATA_KEYS="k1:short"), pytest.raises(CommandError, match="key error"):
        keys("status")


@pytest.mark.django_db
def test_reindex_after_the_index_key_changed():
    user = UserFactory(personal_id="079000000001")
    with override_settings(HCMGOV_INDEX_KEY="a new index key"):
        assert "identity.User.personal_id → personal_id_index: 1" in keys("reindex")
        assert User.objects.get(personal_id_index=personal_id_index("079000000001")) == user
        assert "recomputed 0 indexes" in keys("reindex")
