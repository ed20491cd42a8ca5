"""Application drafts: a form the applicant saved to finish later (``Lưu nháp``), found again on
"Hồ sơ của tôi" (issue 14, item 1)."""
