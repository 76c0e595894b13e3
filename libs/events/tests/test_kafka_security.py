"""How clients are told to authenticate, without a broker."""

import ssl

import pytest
from betterwork_events.kafka import KafkaSecurity


def test_local_development_connects_in_plaintext() -> None:
    assert KafkaSecurity().client_options() == {"security_protocol": "PLAINTEXT"}


def test_the_cluster_listener_gets_tls_and_scram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("BW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("BW_KAFKA_SASL_USERNAME", "assessment")
    monkeypatch.setenv("BW_KAFKA_SASL_PASSWORD", "from-the-kafkauser-secret")

    options = KafkaSecurity().client_options()

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "assessment",
        "from-the-kafkauser-secret",
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sasl_without_credentials_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValueError, match="needs BW_KAFKA_SASL_MECHANISM"):
        KafkaSecurity().client_options()
