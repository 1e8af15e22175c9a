"""The User form's lists: what they cost a web process."""
import os
import subprocess
import sys

from django.conf import settings


def test_country_list_does_not_load_the_geocoding_table():
    """Country / Region names come from phonenumbers' region names alone: importing the
    ``phonenumbers.geodata`` package loads its geocoding table, about 100 MB in every web process
    that renders Add User once (found by bench/bench_soak.py)."""
    code = (
        "import sys, django; django.setup()\n"
        "from django.utils import translation\n"
        "from entryway.residents.forms import country_choices\n"
        "translation.activate('fr')\n"
        "names = dict(country_choices())\n"
        "assert names['AT'] == 'Autriche (+43)', names['AT']\n"
        "assert names['XK'] == 'Kosovo (+383)', names['XK']\n"
        "print('phonenumbers.geodata' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, cwd=settings.BASE_DIR,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
