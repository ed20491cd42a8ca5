"""Exit 0 if the PostgreSQL server of the URL answers (used by `make test`)."""

import sys

import psycopg

url = sys.argv[1].replace("postgres://", "postgresql://", 1)
base = url.rsplit("/", 1)[0] + "/postgres"
try:
    with psycopg.connect(base, connect_timeout=3) as conn:
        conn.execute("SELECT 1")
except Exception as exc:
    print(f"PostgreSQL not available: {exc}", file=sys.stderr)
    sys.exit(1)
