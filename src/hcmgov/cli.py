"""``hcmgov``: the platform's command line (Django's management commands, under one name)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["hcmgov", *sys.argv[1:]])


if __name__ == "__main__":
    main()
