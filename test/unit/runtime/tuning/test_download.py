"""Input download: schemes, retries with backoff, size limit, sha256, redirects, file names."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tuning_helpers import HttpServer

from kaito_runtime.tuning.download import DownloadPolicy, download_inputs, parse_input_url
from kaito_runtime.tuning.errors import DownloadError

HTTP = DownloadPolicy(allow_http=True, attempts=3, backoff_s=0.01)


def test_downloads_a_file_and_strips_the_query_from_its_name(http_server: HttpServer, tmp_path: Path) -> None:
    [path] = download_inputs([http_server.url("train.parquet?download=true")], tmp_path, HTTP)
    assert path == tmp_path / "train.parquet"
    assert path.read_bytes() == (http_server.root / "train.parquet").read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_transient_errors_are_retried_with_backoff(
    http_server: HttpServer, tmp_path: Path, captured_logs: object
) -> None:
    [path] = download_inputs([http_server.url("flaky/train.parquet")], tmp_path, HTTP)
    assert path.stat().st_size > 0
    assert http_server.hits("flaky/train.parquet") == 3
    assert captured_logs.getvalue().count("download failed; retrying") == 2  # type: ignore[attr-defined]


def test_retries_give_up_after_the_configured_attempts(http_server: HttpServer, tmp_path: Path) -> None:
    policy = DownloadPolicy(allow_http=True, attempts=2, backoff_s=0.01)
    with pytest.raises(DownloadError, match="failed after 2 attempts: HTTP 503"):
        download_inputs([http_server.url("flaky/other.parquet?x=1")], tmp_path, policy)


def test_not_found_fails_at_once_naming_the_url(http_server: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"input URL http://127\.0\.0\.1:\d+/missing\.parquet: HTTP 404"):
        download_inputs([http_server.url("missing.parquet")], tmp_path, HTTP)
    assert http_server.hits("missing.parquet") == 1


def test_http_is_refused_unless_allowed(http_server: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="scheme 'http' is not allowed; allowed: https"):
        download_inputs([http_server.url("train.parquet")], tmp_path, DownloadPolicy())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.csv", "/etc/passwd"])
def test_other_schemes_are_never_fetched(url: str) -> None:
    with pytest.raises(DownloadError, match="is not allowed"):
        parse_input_url(url, DownloadPolicy(allow_http=True))


def test_a_redirect_to_file_scheme_is_refused(http_server: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="scheme 'file' is not allowed"):
        download_inputs([http_server.url("redirect-file/x.parquet")], tmp_path, HTTP)


def test_same_scheme_redirects_are_followed(http_server: HttpServer, tmp_path: Path) -> None:
    [path] = download_inputs([http_server.url("redirect/train.parquet")], tmp_path, HTTP)
    assert path.read_bytes() == (http_server.root / "train.parquet").read_bytes()


def test_files_over_the_size_limit_are_refused(http_server: HttpServer, tmp_path: Path) -> None:
    policy = DownloadPolicy(allow_http=True, max_bytes=100)
    with pytest.raises(DownloadError, match="exceeds the limit of 100 bytes"):
        download_inputs([http_server.url("train.parquet")], tmp_path, policy)
    assert not list(tmp_path.iterdir())


def test_sha256_is_checked_when_given(http_server: HttpServer, tmp_path: Path) -> None:
    good = hashlib.sha256((http_server.root / "train.parquet").read_bytes()).hexdigest()
    [path] = download_inputs([http_server.url(f"train.parquet#sha256={good}")], tmp_path, HTTP)
    assert path.exists()
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_inputs([http_server.url("train.parquet#sha256=" + "0" * 64)], tmp_path / "b", HTTP)
    assert not (tmp_path / "b" / "train.parquet").exists()


def test_a_malformed_fragment_is_an_error() -> None:
    with pytest.raises(DownloadError, match="fragment must be 'sha256=<64 hex digits>'"):
        parse_input_url("https://example.com/a.parquet#md5=abc", DownloadPolicy())


def test_same_file_names_from_two_urls_do_not_overwrite(http_server: HttpServer, tmp_path: Path) -> None:
    urls = [http_server.url("train.parquet"), http_server.url("redirect/train.parquet")]
    paths = download_inputs(urls, tmp_path, HTTP)
    assert [p.name for p in paths] == ["train.parquet", "1-train.parquet"]


def test_query_strings_never_reach_errors_or_logs(http_server: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as e:
        download_inputs([http_server.url("missing.parquet?sig=TOPSECRETSIG")], tmp_path, HTTP)
    assert "TOPSECRETSIG" not in str(e.value)


class _DripHandler(BaseHTTPRequestHandler):
    """``/steady/X`` sends 10 pieces 0.15 s apart; ``/stall/X`` sends one piece and then nothing."""

    release = threading.Event()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        piece = b'{"prompt": "p", "completion": "c"}\n'
        self.send_response(200)
        self.send_header("Content-Length", str(10 * len(piece)))
        self.end_headers()
        for _ in range(10):
            self.wfile.write(piece)
            self.wfile.flush()
            if self.path.startswith("/stall/"):
                self.release.wait(10)
                return
            time.sleep(0.15)


@pytest.fixture
def drip_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DripHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _DripHandler.release.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _DripHandler.release.set()
        server.shutdown()
        server.server_close()


def test_a_slow_but_steady_body_may_take_longer_than_any_single_timeout(
    drip_server: str, tmp_path: Path
) -> None:
    policy = DownloadPolicy(allow_http=True, attempts=1, connect_timeout_s=0.6, read_timeout_s=0.6)
    started = time.monotonic()
    [path] = download_inputs([f"{drip_server}/steady/train.jsonl"], tmp_path, policy)
    assert time.monotonic() - started > 2 * policy.read_timeout_s
    assert path.read_bytes().count(b"\n") == 10


def test_a_stalled_body_times_out_per_read_and_leaves_no_part_file(drip_server: str, tmp_path: Path) -> None:
    policy = DownloadPolicy(allow_http=True, attempts=2, backoff_s=0.01, read_timeout_s=0.6)
    started = time.monotonic()
    expected = r"stall/train\.jsonl: failed after 2 attempts: no data for 0\.6 s \(read timeout\)"
    with pytest.raises(DownloadError, match=expected):
        download_inputs([f"{drip_server}/stall/train.jsonl"], tmp_path, policy)
    assert time.monotonic() - started < 5
    assert not list(tmp_path.iterdir())
