"""The research client on its own, against ``responses``: the client token, errors, pages."""

from __future__ import annotations

import json

import pytest
import responses

from tiktok_official_api import TikTokAuthError, TikTokResponseError
from tiktok_research_api import ResearchClient, TikTokQuotaError, is_expired_search

API = "https://research.example.test"
TOKEN = f"{API}/v2/oauth/token/"
QUERY = f"{API}/v2/research/video/query/"


def _client(clock=lambda: 1000.0):
    return ResearchClient(client_key="rk", client_secret="rs", base_url=API, clock=clock)


def _page(videos, **extra):
    return {"data": {"videos": videos, "cursor": len(videos), "has_more": False, "search_id": "42", **extra},
            "error": {"code": "ok", "message": "", "log_id": "L1"}}


@responses.activate
def test_the_client_token_is_fetched_once_and_sent_as_bearer():
    responses.post(TOKEN, json={"access_token": "clt.one", "expires_in": 7200, "token_type": "Bearer"})
    responses.post(QUERY, json=_page([{"id": 7300000000000000001}]))
    client = _client()

    first = client.query_videos({"query": {}}, ["id"])
    client.query_videos({"query": {}}, ["id"])

    assert [c.request.url for c in responses.calls].count(TOKEN) == 1
    form = responses.calls[0].request.body
    assert "grant_type=client_credentials" in form and "client_secret=rs" in form
    assert responses.calls[1].request.headers["Authorization"] == "Bearer clt.one"
    assert "rs" not in responses.calls[1].request.url and "fields=id" in responses.calls[1].request.url
    assert first.items == [{"id": 7300000000000000001}] and first.search_id == "42"


@responses.activate
def test_a_refused_client_token_is_renewed_once_then_the_error_stands():
    responses.post(TOKEN, json={"access_token": "clt.a", "expires_in": 7200})
    refused = {"data": {}, "error": {"code": "access_token_invalid", "message": "bad", "log_id": "L2"}}
    responses.post(QUERY, json=refused, status=401)
    client = _client()

    with pytest.raises(TikTokAuthError):
        client.query_videos({"query": {}}, ["id"])

    urls = [c.request.url.split("?")[0] for c in responses.calls]
    assert urls == [TOKEN, QUERY, TOKEN, QUERY]


@responses.activate
def test_an_expiring_client_token_is_renewed_before_use():
    now = [1000.0]
    responses.post(TOKEN, json={"access_token": "clt.a", "expires_in": 100})
    responses.post(QUERY, json=_page([]))
    client = _client(lambda: now[0])
    client.query_videos({}, ["id"])
    now[0] += 50  # within a minute of its end

    client.query_videos({}, ["id"])

    assert [c.request.url for c in responses.calls].count(TOKEN) == 2


@responses.activate
def test_daily_quota_limit_exceeded_is_its_own_error_with_the_log_id():
    responses.post(TOKEN, json={"access_token": "clt.a", "expires_in": 7200})
    responses.post(QUERY, status=429, json={"data": {}, "error": {
        "code": "daily_quota_limit_exceeded", "message": "quota", "log_id": "L3"}})

    with pytest.raises(TikTokQuotaError) as caught:
        _client().query_videos({}, ["id"])

    assert caught.value.log_id == "L3" and caught.value.http_status == 429
    assert len(responses.calls) == 2  # never retried: every attempt costs quota


@pytest.mark.parametrize("data", [
    {"videos": "x", "has_more": False},
    {"videos": [1, 2], "has_more": False},
    {"videos": [], "has_more": "yes"},
    {"videos": [], "has_more": True},  # more, but no cursor to ask from
    {"videos": [], "has_more": True, "cursor": "10"},
])
@responses.activate
def test_a_malformed_page_is_a_response_error(data):
    responses.post(TOKEN, json={"access_token": "clt.a", "expires_in": 7200})
    responses.post(QUERY, body=json.dumps({"data": data, "error": {"code": "ok", "log_id": "L4"}}))

    with pytest.raises(TikTokResponseError):
        _client().query_videos({}, ["id"])


def test_an_expired_search_is_told_from_other_invalid_params():
    from tiktok_official_api import TikTokAPIError

    assert is_expired_search(TikTokAPIError("Search Id 123 is invalid or expired", code="invalid_params"))
    assert not is_expired_search(TikTokAPIError("Invalid count or cursor", code="invalid_params"))
    assert not is_expired_search(TikTokAPIError("Search Id 1 is invalid or expired", code="internal_error"))


def test_the_research_client_secret_never_reaches_a_log_line():
    from dashboard.logging_filters import install_redaction, redact

    install_redaction({"RESEARCH_CLIENT_SECRET": "research-secret-value-123"})

    line = redact("token form client_secret=research-secret-value-123 sent; got clt.abcdefghijkl")
    assert "research-secret-value-123" not in line and "clt.abcdefghijkl" not in line
