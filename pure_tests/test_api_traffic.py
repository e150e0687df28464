"""The per-process aggregation of API calls and the W3C traceparent parser, without Odoo."""
import importlib.util
import pathlib

TOOLS = pathlib.Path(__file__).resolve().parent.parent / "tools"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_traffic = _load("api_traffic")
trace_context = _load("trace_context")


def test_counts_are_aggregated_per_database_and_handed_over_once():
    clock = [0.0]
    traffic = api_traffic.TrafficAggregator(interval=10, clock=lambda: clock[0])
    for _ in range(3):
        traffic.count("a", "json2", 2)
    traffic.count("b", "jsonrpc", 2)
    traffic.client_call("a", ("client",), "ok", '{"args": [1]}')
    traffic.client_call("a", ("client",), "error", '{"args": [2]}')
    traffic.client_call("a", ("client",), "refused", '{"args": [3]}')
    assert not traffic.due(), "written every interval, not per call"
    clock[0] = 10.0
    assert traffic.due()
    assert traffic.databases() == {"a", "b"}
    usage, clients = traffic.take("a")
    [(key, (count, _last_at, address))] = usage.items()
    assert key[1:] == ("json2", 2, None) and count == 3 and address is None
    first, last, calls, errors, refused, sample = clients[("client",)]
    assert (calls, errors, refused, sample) == (3, 1, 1, '{"args": [3]}') and first <= last
    assert traffic.take("a") == ({}, {}), "handed over once"
    assert traffic.databases() == {"b"}, "the other database's counts stay"


def test_a_batch_that_could_not_be_written_is_put_back_whole():
    traffic = api_traffic.TrafficAggregator()
    traffic.client_call("a", ("client",), "ok", "old")
    traffic.count("a", "xmlrpc", 7, 3, "192.0.2.1")
    usage, clients = traffic.take("a")
    traffic.client_call("a", ("client",), "ok", "new")
    traffic.count("a", "xmlrpc", 7, 3, "192.0.2.2")
    traffic.put_back("a", usage, clients)
    usage, clients = traffic.take("a")
    [(count, _last_at, address)] = usage.values()
    assert count == 2 and address == "192.0.2.2", "the latest call's address wins"
    _first, _last, calls, _errors, _refused, sample = clients[("client",)]
    assert calls == 2 and sample == "new", "the latest arguments win"


def test_a_large_batch_is_due_at_once():
    traffic = api_traffic.TrafficAggregator(interval=3600, max_keys=2)
    traffic.count("a", "json2", 1)
    assert not traffic.due()
    traffic.count("a", "json2", 2)
    assert traffic.due()


def test_auth_kinds_forget_the_least_recently_used():
    kinds = api_traffic.AuthKinds(size=2)
    one, two, three = (api_traffic.credential_digest("db", uid, "secret") for uid in (1, 2, 3))
    kinds.remember(one, "password")
    kinds.remember(two, "apikey", 5)
    assert kinds.get(one) == ("password", None)  # used: two is now the oldest
    kinds.remember(three, "password")
    assert kinds.get(two) is None and kinds.get(three) == ("password", None)


def test_traceparent():
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert trace_context.parse(header) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
    assert trace_context.parse("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    trace_id, span_id = trace_context.new_trace_id(), trace_context.new_span_id()
    assert trace_context.parse(trace_context.traceparent(trace_id, span_id)) == (trace_id, span_id, "01")
    assert trace_context.current({"integration_trace": [trace_id, "00", "incoming", "r1"]}, None) == (
        trace_id, "00", "incoming", "r1")
    assert trace_context.current({}, None)[2] == "other"
