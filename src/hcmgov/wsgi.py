import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
django_application = get_wsgi_application()

# sensors' NGSI-LD updates are answered before Django's request cycle (decision 0033); every other
# request passes through to Django untouched
from hcmgov.ngsi.fastpath import FastPatch  # noqa: E402 - needs the apps loaded above

application = FastPatch(django_application)
