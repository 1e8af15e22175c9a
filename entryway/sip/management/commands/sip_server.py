"""Write the Kamailio configuration for this platform, or run Kamailio with it in the foreground.

    manage.py sip_server --write /etc/kamailio/kamailio.cfg --listen 0.0.0.0 --udp 5060 --tcp 5060 --tls 5061
    manage.py sip_server --run --listen 127.0.0.1 --udp 5060
"""
from __future__ import annotations

import pathlib
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from entryway.sip.kamailio import KamailioConfig, KamailioProcess


class Command(BaseCommand):
    help = "Generate the Kamailio configuration (reads SIP accounts from this database) or run Kamailio."

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="PATH", help="write kamailio.cfg (and tls.cfg beside it)")
        parser.add_argument("--run", action="store_true", help="run Kamailio in the foreground")
        parser.add_argument("--listen", default="127.0.0.1")
        parser.add_argument("--udp", type=int, default=5060)
        parser.add_argument("--tcp", type=int, default=5060)
        parser.add_argument("--tls", type=int, default=5061)
        parser.add_argument("--children", type=int, default=4)
        parser.add_argument("--ctl-socket", default="/run/kamailio/entryway-ctl")

    def handle(self, *args, **options):
        config = KamailioConfig(
            listen=options["listen"], udp_port=options["udp"], tcp_port=options["tcp"], tls_port=options["tls"],
            tls_certificate=settings.SIP_TLS_CERTIFICATE, tls_private_key=settings.SIP_TLS_PRIVATE_KEY,
            children=options["children"], ctl_socket=options["ctl_socket"],
        )
        if options["write"]:
            target = pathlib.Path(options["write"])
            config.run_dir = str(target.parent)
            text, tls_cfg = config.render()
            target.write_text(text)
            if tls_cfg is not None:
                (target.parent / "entryway-tls.cfg").write_text(tls_cfg)
            self.stdout.write(f"Wrote {target}" + (" and entryway-tls.cfg" if tls_cfg else ""))
            return
        if options["run"]:
            process = KamailioProcess(config)
            process.start()
            self.stdout.write(f"Kamailio listening on {config.listen} udp/tcp {config.udp_port}; Ctrl-C stops it.")
            try:
                while process.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
            finally:
                process.stop()
            return
        raise CommandError("Say --write PATH or --run.")
