"""The servers the tests start (tests/support/services.py), tested themselves: free ports held by nobody else, a
health check before use, one retry on a start that fails, the end of the server's log when it cannot start, and
a restart that keeps the address and the data."""
import socket

import pytest

from tests.support import services
from tests.support.services import MlflowServer, PostgresServer, SeaweedS3

pytestmark = pytest.mark.slow


def _occupy(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port, as another program's server would hold it."""
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice():
    floor = services._ephemeral_floor()
    ports = [services.free_port() for _ in range(50)] + [services.free_port(offset=10_000) for _ in range(20)]
    assert len(set(ports)) == len(ports)
    assert all(p < floor for p in ports) and all(p + 10_000 < floor for p in ports[50:])


def test_two_s3_servers_at_once_and_a_restart_keeps_address_and_data(tmp_path):
    a, b = SeaweedS3(tmp_path / "a").start(), SeaweedS3(tmp_path / "b").start()
    try:
        assert a.endpoint != b.endpoint
        a.client().create_bucket(Bucket="kept")
        a.client().put_object(Bucket="kept", Key="k", Body=b"kept")
        assert [x["Name"] for x in b.client().list_buckets()["Buckets"]] == []
        endpoint = a.endpoint
        a.stop()
        a.start()
        assert a.endpoint == endpoint
        assert a.client().get_object(Bucket="kept", Key="k")["Body"].read() == b"kept"
    finally:
        a.stop()
        b.stop()


def test_a_port_taken_before_the_server_binds_it_is_retried_on_fresh_ports(tmp_path):
    s3 = SeaweedS3(tmp_path / "s3")
    held = _occupy(s3.port)           # someone else took the S3 port after it was chosen
    try:
        s3.start()
        assert s3.port != held.getsockname()[1]
        assert s3.client().list_buckets()["Buckets"] == []
    finally:
        s3.stop()
        held.close()
    mlflow = MlflowServer(tmp_path / "mlflow")
    held = _occupy(mlflow.port)
    try:
        mlflow.start()
        assert mlflow.port != held.getsockname()[1]
    finally:
        mlflow.stop()
        held.close()
    pg = PostgresServer(tmp_path / "pg")
    if pg.bindir is not None:
        held = _occupy(pg.port)
        try:
            pg.start()
            assert pg.port != held.getsockname()[1]
        finally:
            pg.stop()
            held.close()


def test_a_server_that_cannot_start_says_why_from_its_log(tmp_path, monkeypatch):
    held = _occupy(services.free_port())
    taken = held.getsockname()[1]
    try:
        # every attempt gets the same taken port: the retries run out, and the error quotes weed's own log
        monkeypatch.setattr(services, "free_port", lambda offset=0: taken if not offset else taken)
        s3 = SeaweedS3(tmp_path / "s3")
        with pytest.raises(RuntimeError, match=r"weed \(the S3 server\) did not start: .*; the end of .*weed\.log:\n"
                                               r"(.|\n)*Port allocation failed"):
            s3.start(timeout=30)
        mlflow = MlflowServer(tmp_path / "mlflow", port=taken)
        with pytest.raises(RuntimeError, match=r"the MLflow server did not start: .*the end of .*server\.log:\n"
                                               r"(.|\n)*\S"):
            mlflow.start(timeout=60)
    finally:
        held.close()


def test_mlflow_and_postgresql_restart_with_their_data(tmp_path):
    from mlflow import MlflowClient

    pg = PostgresServer(tmp_path / "pg")
    if pg.bindir is None:
        pytest.skip("PostgreSQL is not installed (`make test` installs it)")
    pg.start()
    server = MlflowServer(tmp_path / "mlflow", backend=pg.uri).start()
    try:
        exp = MlflowClient(server.uri).create_experiment("kept")
        port = server.port
        server.stop()
        server.start()
        assert server.port == port
        assert MlflowClient(server.uri).get_experiment(exp).name == "kept"
    finally:
        server.stop()
        pg.stop()
