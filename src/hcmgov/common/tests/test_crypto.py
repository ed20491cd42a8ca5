"""Encryption at rest (hcmgov.common.crypto): the envelope, the keyring, rotation, blind indexes,
the model fields and what they refuse."""

from __future__ import annotations

import base64

import pytest
from django.core import checks
from django.db import connection, models
from django.test import override_settings
from django.test.utils import isolate_apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcmgov.common import crypto
from hcmgov.common.crypto import CryptoError, EncryptedJSONField, EncryptedTextField
from hcmgov.identity.models import PERSONAL_ID_CONTEXT, User, personal_id_index
from hcmgov.identity.tests.factories import UserFactory

CTX = "tests.thing.secret"
K1 = base64.urlsafe_b64encode(b"1" * 32).decode().rstrip("=")
K2 = base64.urlsafe_b64encode(b"2" * 32).decode().rstrip("=")
ONLY_K1 = f"k1:{K1}"
K2_THEN_K1 = f"k2:{K2},k1:{K1}"
ONLY_K2 = f"k2:{K2}"


def raw_personal_id(user: User) -> str | None:
    """The personal ID column as the database holds it (the ciphertext)."""
    with connection.cursor() as cur:
        cur.execute("SELECT personal_id FROM identity_user WHERE id = %s", [user.pk])
        return cur.fetchone()[0]


# --- the envelope ----------------------------------------------------------------------------


def test_a_value_round_trips_and_its_ciphertext_names_its_key():
    token = crypto.encrypt_text("079123456789", context=CTX)
    assert token.startswith("v1:dev:")  # tests run with HCMGOV_DATA_KEYS empty: the derived key
    assert "079123456789" not in token
    assert crypto.key_id_of(token) == "dev"
    assert crypto.decrypt_text(token, context=CTX) == "079123456789"


def test_each_encryption_has_a_fresh_nonce():
    assert crypto.encrypt_text("same", context=CTX) != crypto.encrypt_text("same", context=CTX)


def test_a_ciphertext_does_not_open_in_another_column():
    token = crypto.encrypt_text("079123456789", context=CTX)
    with pytest.raises(CryptoError, match="does not open"):
        crypto.decrypt_text(token, context="tests.other.column")


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # a byte of the tag
        lambda t: t[:12] + ("A" if t[12] != "A" else "B") + t[13:],  # a byte of the nonce
        lambda t: t[:-10],  # truncated
        lambda t: t[: t.rindex(":") + 1] + "AAAA",  # shorter than a nonce
        lambda t: t.replace("v1:dev:", "v1:dev:!!"),  # not base64
    ],
    ids=["tag", "nonce", "truncated", "too-short", "garbage"],
)
def test_an_altered_ciphertext_is_refused(alter):
    token = crypto.encrypt_text("079123456789", context=CTX)
    with pytest.raises(CryptoError):
        crypto.decrypt_text(alter(token), context=CTX)


@pytest.mark.parametrize("token", ["079123456789", "v2:dev:AAAA", "v1:dev", ""])
def test_what_is_not_our_ciphertext_is_refused(token):
    with pytest.raises(CryptoError, match="not a ciphertext"):
        crypto.decrypt_text(token, context=CTX)


def test_the_key_id_is_bound_to_the_ciphertext():
    """Relabelling a ciphertext with another key id of the ring does not open it."""
    with override_settings(HCMGOV_DATA_KEYS=K2_THEN_K1):
        token = crypto.encrypt_text("x", context=CTX)
        assert token.startswith("v1:k2:")
        with pytest.raises(CryptoError, match="does not open"):
            crypto.decrypt_text(token.replace("v1:k2:", "v1:k1:"), context=CTX)


def test_an_unknown_key_is_refused_by_name():
    with override_settings(HCMGOV_DATA_KEYS=ONLY_K1):
        token = crypto.encrypt_text("079123456789", context=CTX)
    with override_settings(HCMGOV_DATA_KEYS=ONLY_K2), pytest.raises(CryptoError) as refused:
        crypto.decrypt_text(token, context=CTX)
    assert str(refused.value) == "key 'k1' is not among HCMGOV_DATA_KEYS"


@given(value=st.text())
@settings(max_examples=200, deadline=None)
def test_any_text_round_trips(value):
    token = crypto.encrypt_text(value, context=CTX)
    assert crypto.decrypt_text(token, context=CTX) == value
    field = EncryptedTextField(context=CTX)
    assert field.from_db_value(field.get_prep_value(value), None, connection) == value


@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda inner: st.lists(inner)))
@settings(max_examples=50, deadline=None)
def test_json_round_trips(value):
    field = EncryptedJSONField(context=CTX)
    assert field.from_db_value(field.get_prep_value(value), None, connection) == value


# --- the keyring -----------------------------------------------------------------------------


def test_the_first_key_encrypts_and_all_decrypt():
    with override_settings(HCMGOV_DATA_KEYS=f" k2:{K2} , k1:{K1}= ,"):  # spaces, padding, a trailing comma
        ring = crypto.keyring()
    assert ring.current == "k2"
    assert ring.keys == {"k2": b"2" * 32, "k1": b"1" * 32}


def test_standard_base64_is_taken_too():
    key = b"\xfb\xff" * 16  # encodes with + and / in the standard alphabet
    with override_settings(HCMGOV_DATA_KEYS=f"std:{base64.b64encode(key).decode()}"):
        assert crypto.keyring().keys["std"] == key


def test_an_empty_setting_derives_one_development_key_from_the_secret_key():
    with override_settings(HCMGOV_DATA_KEYS="  "):
        ring = crypto.keyring()
    assert ring.current == "dev"
    assert len(ring.keys["dev"]) == 32
    with override_settings(HCMGOV_DATA_KEYS="", SECRET_KEY="another secret key, long enough for the tests"):
        assert crypto.keyring().keys["dev"] != ring.keys["dev"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (K1, "an item without 'id:' is not 'id:base64key'"),  # a bare key: never echoed
        (f"bad id:{K1}", "'bad id' is not 'id:base64key'"),
        (f"{'a' * 17}:{K1}", "is not 'id:base64key'"),
        (f":{K1}", "'' is not 'id:base64key'"),
        ("k1:", "key 'k1' is not base64"),  # empty
        ("k1:c2hvcnQ", "key 'k1' is 5 bytes, not 32"),
        ("k1:not base64!", "key 'k1' is not base64"),
        ("k1:A", "key 'k1' is not base64"),  # one character: a broken quantum
        (f"k1:{K1},k1:{K2}", "key 'k1' given twice"),
        (",", "names no key"),
    ],
)
def test_a_malformed_setting_is_refused_with_a_clear_error(spec, message):
    with override_settings(HCMGOV_DATA_KEYS=spec), pytest.raises(CryptoError, match="HCMGOV_DATA_KEYS") as refused:
        crypto.encrypt_text("x", context=CTX)
    assert message in str(refused.value)
    assert K1 not in str(refused.value)
    assert K2 not in str(refused.value)


def test_a_new_key_is_32_random_bytes():
    one, two = crypto.key_new(), crypto.key_new()
    assert one != two
    with override_settings(HCMGOV_DATA_KEYS=f"n:{one}"):
        assert len(crypto.keyring().keys["n"]) == 32


# --- blind indexes and masks -----------------------------------------------------------------


def test_a_blind_index_is_equal_for_equal_values_within_one_context():
    assert crypto.blind_index("079123456789", context=CTX) == crypto.blind_index(" 079123456789 ", context=CTX)
    assert crypto.blind_index("079123456789", context=CTX) != crypto.blind_index("079123456788", context=CTX)
    assert crypto.blind_index("079123456789", context=CTX) != crypto.blind_index("079123456789", context="x.y.z")
    assert len(crypto.blind_index("079123456789", context=CTX)) == 64


def test_a_blind_index_depends_on_the_index_key():
    default = crypto.blind_index("079123456789", context=CTX)
    with override_settings(HCMGOV_INDEX_KEY="another index key"):
        assert crypto.blind_index("079123456789", context=CTX) != default


@pytest.mark.parametrize(
    ("value", "keep", "masked"),
    [
        ("079123456789", 3, "*********789"),
        ("079123456789", 4, "********6789"),
        ("079123456789", 0, "************"),
        ("123", 3, "***"),  # no longer than what would be kept: hidden whole
        ("12", 3, "**"),
        ("", 3, ""),
        (None, 3, ""),
    ],
)
def test_mask(value, keep, masked):
    assert crypto.mask(value, keep=keep) == masked


# --- the fields ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("lookup", ["personal_id", "personal_id__iexact", "personal_id__in", "personal_id__contains"])
def test_only_isnull_can_be_looked_up_on_an_encrypted_field(lookup):
    value = ["079123456789"] if lookup.endswith("__in") else "079123456789"
    with pytest.raises(CryptoError, match="look it up by its blind index"):
        User.objects.filter(**{lookup: value}).exists()
    assert not User.objects.filter(personal_id__isnull=False).exists()


@pytest.mark.django_db
def test_the_database_holds_ciphertext_and_the_model_the_plain_value():
    user = UserFactory(personal_id="079123456789")
    token = raw_personal_id(user)
    assert token.startswith("v1:dev:")
    assert "079123456789" not in token
    assert crypto.decrypt_text(token, context=PERSONAL_ID_CONTEXT) == "079123456789"
    user.refresh_from_db()
    assert user.personal_id == "079123456789"
    assert user.personal_id_index == personal_id_index("079123456789")
    assert User.objects.get(personal_id_index=personal_id_index("079123456789")) == user
    assert User.objects.values_list("personal_id", flat=True).get(pk=user.pk) == "079123456789"


@pytest.mark.django_db
def test_every_save_keeps_the_index_in_step():
    user = UserFactory(personal_id="079123456789")
    user.personal_id = "079000000001"
    user.save(update_fields=["personal_id"])  # the index is added to the fields saved
    user.refresh_from_db()
    assert user.personal_id_index == personal_id_index("079000000001")
    user.personal_id = ""
    user.save()
    user.refresh_from_db()
    assert user.personal_id is None
    assert user.personal_id_index is None
    assert raw_personal_id(user) is None


@pytest.mark.django_db(transaction=True)
def test_two_accounts_cannot_hold_the_same_personal_id():
    from django.db import IntegrityError

    UserFactory(personal_id="079123456789")
    with pytest.raises(IntegrityError):
        UserFactory(personal_id="079123456789")


def test_the_encrypted_columns_are_found_once():
    columns = [(m._meta.label, f.name, f.index) for m, f in crypto.encrypted_columns()]
    assert len(columns) == len(set(columns))
    assert [c for c in columns if c[0] == "identity.User"] == [("identity.User", "personal_id", "personal_id_index")]


def test_a_field_deconstructs_with_its_context_and_index():
    _, path, _, kwargs = User._meta.get_field("personal_id").deconstruct()
    assert path == "hcmgov.common.crypto.EncryptedTextField"
    assert kwargs == {"null": True, "blank": True, "context": PERSONAL_ID_CONTEXT, "index": "personal_id_index"}


@isolate_apps("hcmgov.common")
def test_an_encrypted_field_cannot_be_unique_and_its_index_must_exist():
    class Thing(models.Model):  # noqa: DJ008 - a model of this test only
        secret = EncryptedTextField(context=CTX, unique=True, index="nowhere")

        class Meta:
            app_label = "common"

    errors = Thing._meta.get_field("secret").check()
    assert {e.id for e in errors if isinstance(e, checks.Error)} >= {"hcmgov.E001", "hcmgov.E002"}


# --- rotation --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_keeps_old_values_readable_writes_new_ones_under_the_new_key_and_moves_the_rest():
    field = User._meta.get_field("personal_id")
    with override_settings(HCMGOV_DATA_KEYS=ONLY_K1):
        old = UserFactory(personal_id="079000000001")
        UserFactory(personal_id=None)  # none: nothing to count or move
    assert crypto.key_id_of(raw_personal_id(old)) == "k1"

    with override_settings(HCMGOV_DATA_KEYS=K2_THEN_K1):
        old.refresh_from_db()
        assert old.personal_id == "079000000001"  # still readable
        new = UserFactory(personal_id="079000000002")
        assert crypto.key_id_of(raw_personal_id(new)) == "k2"
        assert crypto.key_usage(User, field) == {"k1": 1, "k2": 1}

        assert crypto.reencrypt(User, field, batch=1) == 1
        assert crypto.key_usage(User, field) == {"k2": 2}
        assert crypto.reencrypt(User, field) == 0  # a rerun has nothing left to do

    with override_settings(HCMGOV_DATA_KEYS=ONLY_K2):  # the old key dropped: all still open
        assert sorted(User.objects.exclude(personal_id__isnull=True).values_list("personal_id", flat=True)) == [
            "079000000001",
            "079000000002",
        ]
        assert User.objects.get(personal_id_index=personal_id_index("079000000001")) == old


@pytest.mark.django_db
def test_key_usage_counts_what_is_not_a_ciphertext_apart_and_reencrypt_stops_on_it():
    field = User._meta.get_field("personal_id")
    user = UserFactory(personal_id="079000000001")
    User.objects.filter(pk=user.pk).update(personal_id=None)
    with connection.cursor() as cur:
        cur.execute("UPDATE identity_user SET personal_id = %s WHERE id = %s", ["079000000001", user.pk])
    assert crypto.key_usage(User, field) == {"?": 1}
    with pytest.raises(CryptoError, match=rf"identity.User.personal_id pk={user.pk}: not a ciphertext"):
        crypto.reencrypt(User, field)


@pytest.mark.django_db
def test_reindex_recomputes_the_indexes_after_the_index_key_changed():
    field = User._meta.get_field("personal_id")
    user = UserFactory(personal_id="079000000001")
    UserFactory(personal_id=None)
    with override_settings(HCMGOV_INDEX_KEY="a new index key"):
        assert User.objects.filter(personal_id_index=personal_id_index("079000000001")).count() == 0
        assert crypto.reindex(User, field) == 1
        assert User.objects.get(personal_id_index=personal_id_index("079000000001")) == user
        assert crypto.reindex(User, field) == 0


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(personal_id=st.from_regex(r"\A[0-9]{12}\Z"))
def test_any_personal_id_is_found_by_its_index(personal_id):
    user = UserFactory(personal_id=personal_id)
    found = User.objects.get(personal_id_index=personal_id_index(personal_id))
    assert found == user
    assert found.personal_id == personal_id
    user.delete()
