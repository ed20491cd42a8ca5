import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
django_application = get_wsgi_application()

# sensors' NGSI-LD updates (decision 0033), the public status lookup (decision 0038) and its page
# (decision 0039) are answered before Django's request cycle; every other request passes through to
# Django untouched
from hcmgov.dossiers.fastpath import FastTrack  # noqa: E402 - needs the apps loaded above
from hcmgov.ngsi.fastpath import FastPatch  # noqa: E402
from hcmgov.web.fastpath import FastTrackPage  # noqa: E402

application = FastPatch(FastTrack(FastTrackPage(django_application)))
