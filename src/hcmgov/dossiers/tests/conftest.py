"""Shared test data of the dossiers app (the fixtures themselves live in the root conftest)."""

VALID_FORM = {
    "full_name": "Nguyễn Văn An",
    "personal_id": "079123456789",
    "purpose": "work",
    "mother": {"full_name": "Trần Thị Bình"},
}
