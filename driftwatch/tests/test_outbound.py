"""The outbound-URL guard, attacked the way the security review did: each test is one way around it."""

import socket

import boto3
import pytest
from botocore.exceptions import HTTPClientError

from devtools.receivers import receiver
from driftwatch import outbound
from driftwatch.outbound import OutboundError, ResponseTooLarge, URLNotAllowed
from providers.collectors.base import client_config


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://169.254.169.254\\@127.0.0.1/latest/meta-data/", "backslash"),
        ("http://127.0.0.1:8414\\@localhost:9/", "backslash"),
        ("http://svc:PASSWORD@127.0.0.1/", "user name or password"),
        ("http://user@127.0.0.1/", "user name or password"),
        ("http://127.0.0.1:99999/", "port"),
        ("http://127.0.0.1:0/", "port"),
        ("http://127.0.0.1:+80/", "port"),
        ("http://exämple.com/", "ASCII"),
        ("http://127.0.0.1/\x00x", "ASCII"),
        ("http://127.0.0.1/ x", "ASCII"),
        ("http://2130706433/", "dotted IPv4"),
        ("http://0x7f.0.0.1/", "dotted IPv4"),
        ("http://127.1/", "dotted IPv4"),
        ("http://017700000001/", "dotted IPv4"),
        ("ftp://127.0.0.1/", "must use"),
        ("file:///etc/passwd", "must use"),
        ("http:///nohost", "no host"),
        ("http://[::1/", "IPv6"),
        ("http://a..b/", "host name"),
        ("http://127.0.0.1/#frag", "fragment"),
    ],
)
def test_what_two_parsers_could_read_differently_is_refused(url, why):
    with pytest.raises(URLNotAllowed, match=why):
        outbound.normalize_url(url)


def test_the_stored_form_is_scheme_host_port_path():
    assert outbound.normalize_url("HTTP://LocalHost") == "http://localhost:80/"
    assert outbound.normalize_url("https://sts.amazonaws.com./x?y=1") == "https://sts.amazonaws.com:443/x?y=1"
    assert outbound.normalize_url("http://[::1]:4566") == "http://[::1]:4566/"


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "fe80::1", "::ffff:169.254.169.254", "0.0.0.0"],
)
def test_metadata_and_link_local_are_never_allowed_even_when_listed(settings, address):
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = ["0.0.0.0/0", "::/0", address]
    with pytest.raises(URLNotAllowed, match="metadata"):
        outbound.check_address("x", address)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "224.0.0.1"])
def test_private_addresses_need_an_operator_to_list_them(settings, address):
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = []
    with pytest.raises(URLNotAllowed, match="DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS"):
        outbound.check_address("x", address)
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = ["10.0.0.0/8", "127.0.0.1", "::1", "192.168.0.1", "172.16.0.0/12"]
    if address != "224.0.0.1":
        outbound.check_address("x", address)
    outbound.check_address("x", "93.184.216.34")  # public: always fine


def test_plain_http_only_where_the_setting_says(settings):
    settings.DRIFTWATCH_OUTBOUND_ALLOW_HTTP = False
    with pytest.raises(URLNotAllowed, match="must use https"):
        outbound.normalize_url("http://hooks.example.com/")
    assert outbound.normalize_url("https://hooks.example.com/") == "https://hooks.example.com:443/"


def _answer_ok(got):
    return 200, {"Content-Type": "text/plain"}, b"hello " + got.body


def test_request_reaches_a_listed_loopback_receiver_and_reads_the_answer():
    with receiver(_answer_ok) as rx:
        response = outbound.request("POST", rx.url + "/hook", body=b"ping", headers={"X-A": "1"})
    assert response.status == 200 and response.body == b"hello ping"
    assert response.headers["content-type"] == "text/plain"
    assert rx.requests[0].path == "/hook" and rx.requests[0].headers["x-a"] == "1"


def test_request_to_loopback_is_refused_at_connect_when_not_listed(settings):
    with receiver(_answer_ok) as rx:
        settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = []
        with pytest.raises(URLNotAllowed, match="loopback"):
            outbound.request("GET", rx.url)
    assert rx.requests == []  # nothing was sent


def test_redirects_are_never_followed():
    with receiver(lambda got: (302, {"Location": "http://169.254.169.254/latest/"}, b"")) as rx:
        response = outbound.request("GET", rx.url)
    assert response.status == 302 and len(rx.requests) == 1


def test_an_answer_larger_than_allowed_is_cut_off():
    with receiver(lambda got: (200, {}, b"x" * 5000)) as rx:
        with pytest.raises(ResponseTooLarge):
            outbound.request("GET", rx.url, max_bytes=1000)
        assert outbound.request("GET", rx.url, max_bytes=5000).body == b"x" * 5000


def test_a_closed_port_is_an_outbound_error_in_our_words():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(OutboundError, match="^The connection failed.$"):
        outbound.request("GET", f"http://127.0.0.1:{port}/")


def test_dns_rebinding_between_check_and_connect_gets_nowhere(monkeypatch, settings):
    """The name resolves to a public address when checked and to loopback when connecting."""
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = []
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with receiver(_answer_ok) as rx:
        assert outbound.check_url(f"http://rebind.example:{rx.port}/") == f"http://rebind.example:{rx.port}/"
        with pytest.raises(URLNotAllowed, match="loopback"):
            outbound.request("GET", f"http://rebind.example:{rx.port}/")
    assert rx.requests == []


def test_aws_clients_connect_only_through_the_guard(settings, moto_server):
    """A botocore client built the way the collectors build it is checked at connect time too."""
    from providers.collectors.base import AwsClients

    clients = AwsClients(boto3.Session(region_name="us-east-1"), endpoint_url=moto_server, max_workers=1)
    assert clients.client("sts").get_caller_identity()["Account"]
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = []
    fresh = AwsClients(boto3.Session(region_name="us-east-1"), endpoint_url=moto_server, max_workers=1)
    with pytest.raises(HTTPClientError) as caught:
        fresh.client("sts").get_caller_identity()
    assert isinstance(caught.value.kwargs["error"], URLNotAllowed)


def test_aws_clients_reach_only_allowed_endpoint_hosts_even_without_an_endpoint_url(settings, monkeypatch):
    """botocore's own endpoint (sts.us-east-1.amazonaws.com for a provider without endpoint_url) is held to
    DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS too, before any DNS lookup."""
    import socket

    from providers.collectors.base import AwsClients

    looked_up = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(host) or [])
    settings.DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS = ["127.0.0.1", "localhost"]
    clients = AwsClients(boto3.Session(region_name="us-east-1"), max_workers=1, max_attempts=0)
    with pytest.raises(HTTPClientError) as caught:
        clients.client("sts").get_caller_identity()
    assert isinstance(caught.value.kwargs["error"], URLNotAllowed)
    assert "sts.us-east-1.amazonaws.com" in str(caught.value.kwargs["error"])
    assert looked_up == []


def test_an_unguarded_boto_client_would_have_connected(moto_server, settings):
    """The control for the test above: the refusal comes from the guard, not from the endpoint."""
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = []
    plain = boto3.Session(region_name="us-east-1").client(
        "sts", endpoint_url=moto_server, config=client_config(max_workers=1)
    )
    assert plain.get_caller_identity()["Account"]
