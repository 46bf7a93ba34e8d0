"""Prometheus metrics of the inference server, in a registry of its own (served on GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's metric objects; every name starts with ``kaito_inference_``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "kaito_inference_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=r,
        )
        self.prompt_tokens = Counter("kaito_inference_prompt_tokens", "Prompt tokens prefilled.", registry=r)
        self.generated_tokens = Counter("kaito_inference_generated_tokens", "Tokens generated.", registry=r)
        self.time_to_first_token = Histogram(
            "kaito_inference_time_to_first_token_seconds",
            "From a sequence's submission to its first generated token.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_latency = Histogram(
            "kaito_inference_request_duration_seconds",
            "From a request's arrival to its last byte, by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "kaito_inference_queue_depth", "Sequences waiting to join the running batch.", registry=r
        )
        self.batch_size = Histogram(
            "kaito_inference_batch_size",
            "Rows in the batch at each decode step.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.cancelled = Counter(
            "kaito_inference_cancelled_sequences",
            "Sequences dropped from the batch because their client went away.",
            registry=r,
        )
        self.ready = Gauge("kaito_inference_ready", "1 once the model is loaded and warmed up.", registry=r)
