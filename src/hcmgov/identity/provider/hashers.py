"""The hasher of OAuth client secrets.

Passwords are stretched (PBKDF2, a million rounds) because people choose guessable ones: the
stretching multiplies the cost of every guess of an offline attacker holding the hashes. A client
secret is not chosen by anyone: it is 128 characters drawn at random from 62 (DOT's generator,
about 760 bits), so there is no guess worth making, stretched or not. NIST SP 800-63B §5.1.2.2
(look-up secrets) draws that line: a secret of at least 112 bits of entropy "SHALL be hashed with
an approved one-way function"; salting and a key derivation function with a cost are asked for
secrets below it. Stretching a client secret would only make every token request pay the cost:
machine clients ask for tokens often (target ≥ 1,000 tokens/s, ``bench/oidc.py``).

So a secret is stored as PBKDF2-HMAC-SHA256 with **one** round under its own algorithm name
(``PASSWORD_HASHERS`` lists it after the password hasher, which stays the default for people's
passwords): with one round PBKDF2 is a single HMAC-SHA-256 keyed by the secret over a random
22-character salt (RFC 8018 §5.2: T₁ = HMAC(secret, salt ‖ INT(1))), an approved one-way function.
The stored form keeps its round count, ``pbkdf2_client_secret$<rounds>$<salt>$<hash>``, so secrets
hashed before with 1,000 rounds still verify, at their own cost, until they are reset (the
verification of a DOT client never rehashes: it passes no setter to ``check_password``).
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_client_secret"
    iterations = 1  # was 1,000 (0.25 ms a token request); see above
