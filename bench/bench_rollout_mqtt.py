"""The rollout of ``bench_rollout`` with MQTT push and results over MQTT (target: all final within 30 s).

    python -m bench.bench_rollout_mqtt

Runs a Mosquitto of its own with the limits of deploy/mosquitto/mosquitto.conf and the report consumer
(``manage.py mqtt_reports``) beside the web workers; everything else as ``bench_rollout``.
"""
import os

os.environ.setdefault("BENCH_ROLLOUT_MQTT", "1")

from bench import bench_rollout  # noqa: E402 - reads the settings above

if __name__ == "__main__":
    bench_rollout.main()
