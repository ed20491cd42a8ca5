"""The electronic office: official documents, their registers, and work records (issue 12)."""
