"""Set up before any test module is imported, for every test directory."""

import os

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# Tests run as development: services accept tokens signed with the development key.
os.environ["BW_ENVIRONMENT"] = "development"

# One tracer provider for the whole run, recording spans in memory so tests can follow a trace.
# (OpenTelemetry allows setting the global provider once per process, before any service does.)
_spans = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(_spans))
trace.set_tracer_provider(_provider)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The spans finished during the test."""
    _spans.clear()
    return _spans
