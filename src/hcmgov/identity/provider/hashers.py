"""The hasher of OAuth client secrets.

Passwords are stretched (PBKDF2, a million rounds) because people choose guessable ones; a client
secret is 128 random characters (DOT's generator, about 760 bits), which no stretching makes
harder to guess. Stretching it would only make every token request cost a third of a second of
CPU: machine clients ask for tokens often (target ≥ 1,000 tokens/s). So secrets are kept as a
salted PBKDF2 with few rounds, under their own algorithm name (``PASSWORD_HASHERS`` lists it after
the password hasher, which stays the default for people's passwords).
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_client_secret"
    iterations = 1_000
