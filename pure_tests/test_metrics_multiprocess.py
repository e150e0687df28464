"""The per-process histograms add up over the processes of a server (prometheus_client's multiprocess mode)."""
import pathlib
import subprocess
import sys

API_METRICS = pathlib.Path(__file__).resolve().parent.parent / "tools" / "api_metrics.py"
LOAD = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("api_metrics", {str(API_METRICS)!r})
api_metrics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(api_metrics)
"""


def run(code, directory):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", LOAD + code], env=env, capture_output=True, text=True,
                          check=True).stdout


def test_workers_values_add_up(tmp_path):
    for calls in (2, 3):  # two worker processes
        run(f"""
assert api_metrics.multiprocess()
for _ in range({calls}):
    api_metrics.observe_api("db", "json2", "res.partner", "read", 200, 0.02)
api_metrics.observe_incoming("db", "rule", 202, 0.5)
""", tmp_path)
    scraped = run("""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
registry = CollectorRegistry()
MultiProcessCollector(registry)
print(generate_latest(registry).decode())
""", tmp_path)
    assert ('integration_api_call_duration_seconds_count{db="db",door="json2",method="read",model="res.partner",'
            'status="200"} 5.0') in scraped
    assert 'integration_webhook_incoming_duration_seconds_count{db="db",rule="rule",status="202"} 2.0' in scraped
