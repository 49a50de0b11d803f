"""`shinshu demo`: a private broker and database, ingest and a live simulated fleet, all in one."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from edge.mqtt import MqttEndpoint
from ingest.service import install_stop_handlers, run_ingest
from ingest.stores.influx import StoreError, make_store
from shinshu.localservices import start_pair
from shinshu.settings import Settings
from simulators.fleet import FleetPlan, device_kind, device_name, run_fleet

log = logging.getLogger(__name__)


def _count(settings: Settings) -> int:
    try:
        return make_store(settings, timeout=5.0).count_points()
    except StoreError:
        return 0


def run_demo(base: Settings, *, duration: float, devices: int) -> int:
    """Run until Ctrl-C (or `duration` seconds), printing what flows where."""
    stop = threading.Event()
    install_stop_handlers(stop)
    folder = base.data_path / "demo"
    print(f"starting mosquitto and influxd with their data in {folder} ...", flush=True)
    broker, influx = start_pair(folder)
    settings = dataclasses.replace(
        base,
        mqtt_url=broker.url,
        influx_url=influx.url,
        influx_db="shinshu_demo",
        influx_token=None,
        influx_user=None,
        influx_password=None,
        ingest_client_id="shinshu-demo-ingest",
        ingest_metrics_port=0,
    )
    ingest_stop = threading.Event()
    ingest = threading.Thread(target=run_ingest, args=(settings, ingest_stop), name="ingest")
    try:
        ingest.start()
        time.sleep(1.0)
        plan = FleetPlan(
            tenant=settings.tenant,
            site=settings.site,
            devices=devices,
            readings=10**9,
            batch_size=5,
            interval_ms=1_000,
            rate=0.2,
            start_ms=int(time.time() * 1000) - 5_000,
        )
        fleet = threading.Thread(
            target=run_fleet, args=(plan, MqttEndpoint.from_url(broker.url), stop), name="fleet"
        )
        fleet.start()
        _explain(settings, plan)
        began = time.monotonic()
        while not stop.wait(5.0):
            print(f"  {_count(settings):>8} readings stored so far", flush=True)
            if duration and time.monotonic() - began >= duration:
                stop.set()
        fleet.join()
        print(f"stopping; {_count(settings)} readings stored in total", flush=True)
    finally:
        stop.set()
        ingest_stop.set()
        if ingest.is_alive():
            ingest.join(30)
        influx.stop()
        broker.stop()
    return 0


def _explain(settings: Settings, plan: FleetPlan) -> None:
    topic = f"shinshu/v1/{plan.tenant}/{plan.site}/<device>/up"
    kinds = ", ".join(f"{device_name(i)}={device_kind(i).value}" for i in range(plan.devices))
    print(
        f"""
  devices   {kinds}
      |  MQTT QoS 1, one JSON batch of {plan.batch_size} readings every {1 / plan.rate:.0f} s
      v
  broker    {settings.mqtt_url}   topic {topic}
      |  ingest (persistent session, acknowledges after the store accepted)
      v
  InfluxDB  {settings.influx_url}   database {settings.influx_db}

  watch the raw messages:  mosquitto_sub -L '{settings.mqtt_url}/shinshu/v1/#' -v
  rejected input:          mosquitto_sub -L '{settings.mqtt_url}/shinshu/deadletter/#' -v
  query the readings:      curl -G '{settings.influx_url}/query' \\
                             --data-urlencode 'db={settings.influx_db}' \\
                             --data-urlencode 'q=SELECT * FROM air_temperature LIMIT 5'
  Ctrl-C stops everything.
""",
        flush=True,
    )
