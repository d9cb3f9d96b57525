"""The stream's rules: settings, backoff, failing and recovery, replay, destinations."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.action_patterns import action_patterns, checked_patterns
from domain.deliveries import (
    DELIVERED,
    EVENTS,
    FAILED,
    PENDING,
    TEST,
    Attempt,
    Delivery,
    batch_ready_at,
    events_delivery,
)
from domain.destinations import address_refusal, checked_url
from domain.errors import ValidationFailed
from domain.sending import BACKOFF_CAP, BELIEVED_AHEAD, FAILING_AFTER, Sending, backoff
from domain.streams import (
    ACTIVE,
    FAILING,
    MAX_BATCH,
    PAUSED,
    WEBHOOK,
    ReplayRefused,
    Stream,
    credential_hint,
    stream_settings,
)
from tests.factories import EventFactory

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def stream(**changes: object) -> Stream:
    made = Stream(id="lst_1", workspace_id="ws_1", name="SIEM", type=WEBHOOK,
                  url="https://siem.example.com/in", credential=b"sealed",
                  credential_hint="…abcd", actions=None, created_at=NOW, updated_at=NOW)
    return replace(made, **changes)


def fields_of(failure: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [error.field for error in failure.value.errors]


@pytest.mark.parametrize(("failures", "low", "high"), [
    (1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (10, 256.0, 512.0), (11, 300.0, 600.0),
    (40, 300.0, 600.0)])
def test_backoff_doubles_to_a_cap_with_half_of_each_step_random(failures: int, low: float,
                                                                high: float) -> None:
    assert backoff(failures, 0.0).total_seconds() == low
    assert backoff(failures, 0.999999).total_seconds() == pytest.approx(high, rel=1e-5)
    assert backoff(failures, 1.0) <= BACKOFF_CAP


def test_a_retry_time_only_while_waiting_out_a_backoff_and_a_lease_end_only_while_leased() -> None:
    with pytest.raises(ValueError, match="backoff"):
        _ = Sending().retry_at
    with pytest.raises(ValueError, match="leased"):
        _ = Sending().lease_ends
    assert Sending().leased(NOW, timedelta(seconds=30)).lease_ends == NOW + timedelta(seconds=30)
    assert Sending().failed(NOW, "HTTP 503", 0.0).retry_at == NOW + backoff(1, 0.0)


def test_a_retry_or_a_lease_further_ahead_than_any_backoff_is_not_believed() -> None:
    """Sending sets neither further than the longest backoff; one written further ahead in
    the database would pause the destination for as long."""
    waiting = Sending(next_attempt_at=NOW + BELIEVED_AHEAD)
    assert not waiting.is_due(NOW) and waiting.is_due(NOW + BELIEVED_AHEAD)
    assert Sending(next_attempt_at=NOW + BELIEVED_AHEAD + timedelta(seconds=1)).is_due(NOW)
    assert Sending(leased_until=NOW + BELIEVED_AHEAD).is_leased(NOW)
    assert not Sending(leased_until=NOW + timedelta(days=365)).is_leased(NOW)
    assert not Sending(leased_until=NOW).is_leased(NOW)


def fail(current: Stream, error: str = "HTTP 503", jitter: float = 0.5) -> Stream:
    return current.with_sending(current.sending.failed(NOW, error, jitter))


def test_a_run_of_failures_makes_a_stream_failing_and_a_success_recovers_it() -> None:
    current = stream()
    for attempt in range(1, FAILING_AFTER + 1):
        current = fail(current)
        sending = current.sending
        assert sending.failures == attempt
        assert sending.next_attempt_at == NOW + backoff(attempt, 0.5)
        assert sending.retry_at == NOW + backoff(attempt, 0.5)
        assert not sending.is_due(NOW) and sending.is_due(sending.retry_at)
        assert current.status == (FAILING if attempt == FAILING_AFTER else ACTIVE)
    assert current.sending.failing_since == NOW and current.sending.last_error == "HTTP 503"
    later = NOW + timedelta(minutes=5)
    recovered = current.with_sending(current.sending.succeeded(later))
    assert recovered.status == ACTIVE and recovered.sending == Sending(last_delivered_at=later)


def test_errors_are_kept_short() -> None:
    assert len(fail(stream(), "x" * 5000).sending.last_error or "") == 500


def test_a_paused_stream_stays_paused_whatever_its_attempts_come_to() -> None:
    paused = stream(status=PAUSED)
    for _ in range(FAILING_AFTER):
        paused = fail(paused)
    assert paused.status == PAUSED and paused.sending.failing
    assert paused.with_sending(paused.sending.succeeded(NOW)).status == PAUSED


def test_setting_active_retries_at_once_and_keeps_the_failure_count() -> None:
    failing = stream(status=FAILING, sending=Sending(
        failures=7, next_attempt_at=NOW + timedelta(minutes=9), failing_since=NOW))
    resumed = failing.with_status(ACTIVE, NOW)
    assert (resumed.status, resumed.sending.next_attempt_at, resumed.sending.failures) == \
        (ACTIVE, None, 7)
    assert fail(resumed, "still down").status == FAILING  # at once, not after 5 more
    backing_off = stream(sending=Sending(failures=2,
                                         next_attempt_at=NOW + timedelta(seconds=3)))
    assert backing_off.with_status(ACTIVE, NOW).sending.is_due(NOW)
    assert stream().with_status(ACTIVE, NOW) == stream()
    assert stream().with_status(PAUSED, NOW).status == PAUSED
    with pytest.raises(ValidationFailed):
        stream().with_status(FAILING, NOW)


def test_replay_moves_back_never_forward_and_not_before_retention() -> None:
    current = stream(position=100)
    assert current.replayed(40, retained_from=1).position == 39
    assert current.replayed(101, retained_from=1).position == 100
    with pytest.raises(ReplayRefused, match="never skips"):
        current.replayed(102, retained_from=1)
    with pytest.raises(ReplayRefused, match="retention; replay from 30"):
        current.replayed(20, retained_from=30)


def test_a_lease_holds_until_it_runs_out() -> None:
    leased = Sending().leased(NOW, timedelta(seconds=30))
    assert leased.is_leased(NOW + timedelta(seconds=29))
    assert not leased.is_leased(NOW + timedelta(seconds=30))
    assert not leased.failed(NOW, "x", 0).is_leased(NOW)
    assert not leased.succeeded(NOW).is_leased(NOW)


def test_a_delivery_of_events_spans_them_and_a_test_delivery_spans_none() -> None:
    events = [EventFactory(sequence=n, prev_hash=f"{n - 1:064}", hash=f"{n:064}")
              for n in (4, 5, 9)]
    delivery = events_delivery("dlv_1", "str_1", "ws_1", 3, events, None, NOW)
    assert delivery.span == (4, 9)
    with pytest.raises(ValueError, match="dlv_2 covers no events"):
        _ = Delivery("dlv_2", "str_1", "ws_1", TEST, NOW).span


def test_deliveries_are_numbered_one_by_one() -> None:
    current, first = stream().numbered()
    current, second = current.numbered()
    assert (first, second, current.deliveries_made) == (1, 2, 2)


def test_hints_show_four_characters_of_a_credential() -> None:
    assert credential_hint("whsec_abcdefghijklmnop") == "…mnop"


def test_settings_of_a_new_webhook_without_secret_are_complete() -> None:
    found = stream_settings({"name": " SIEM ", "config": {"url": "https://x.example.com/h"}},
                            type_=WEBHOOK, allow_private=False, creating=True)
    assert found == {"name": "SIEM", "url": "https://x.example.com/h"}


def test_settings_name_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationFailed) as failure:
        stream_settings({"name": "", "config": {"url": "ftp://x", "secret": "short",
                                                "token": "t" * 20},
                         "filter": {"actions": ["user.*", "bad action", "*"]},
                         "status": "failing"},
                        type_=WEBHOOK, allow_private=False, creating=True)
    assert sorted(fields_of(failure)) == ["config.secret", "config.token", "config.url",
                                          "filter.actions[1]", "filter.actions[2]", "name",
                                          "status"]


@pytest.mark.parametrize(("type_", "field"), [("splunk_hec", "config.token"),
                                              ("datadog", "config.api_key")])
def test_siem_streams_need_their_credential(type_: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        stream_settings({"name": "n", "config": {"url": "https://x.example.com"}},
                        type_=type_, allow_private=False, creating=True)
    assert fields_of(failure) == [field]


S3_CONFIG = {"url": "https://audit.s3.eu-west-1.amazonaws.com/auditrail/",
             "region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
             "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def test_an_s3_stream_takes_its_bucket_region_and_access_key() -> None:
    found = stream_settings({"name": "Archive", "config": S3_CONFIG}, type_="s3",
                            allow_private=False, creating=True)
    assert found == {"name": "Archive", "url": S3_CONFIG["url"],
                     "options": {"region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE"},
                     "credential": S3_CONFIG["secret_access_key"]}


def test_an_s3_stream_names_what_it_lacks_or_cannot_use() -> None:
    with pytest.raises(ValidationFailed) as failure:
        stream_settings({"name": "n", "config": {"url": S3_CONFIG["url"], "region": "eu-west-1\n",
                                                 "bucket": "audit"}},
                        type_="s3", allow_private=False, creating=True)
    assert {error.field: error.message for error in failure.value.errors} == {
        "config.bucket": "An s3 stream takes url, region, access_key_id, "
                         "secret_access_key and compression.",
        "config.region": "The bucket's region, such as eu-west-1 (auto for Cloudflare R2).",
        "config.access_key_id": "Required for an s3 stream.",
        "config.secret_access_key": "Required for an s3 stream."}


def test_a_patch_of_one_option_keeps_the_others() -> None:
    s3 = stream(type="s3", options={"region": "eu-west-1", "access_key_id": "AKIAOLD"})
    found = stream_settings({"config": {"access_key_id": "AKIANEW"}}, type_="s3",
                            allow_private=False, creating=False)
    assert s3.edited(found, NOW).options == {"region": "eu-west-1", "access_key_id": "AKIANEW"}


def test_an_s3_streams_objects_may_be_gzipped_from_creation_or_from_a_patch_on() -> None:
    found = stream_settings({"name": "Archive", "config": {**S3_CONFIG, "compression": "gzip"}},
                            type_="s3", allow_private=False, creating=True)
    assert found["options"] == {"region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                "compression": "gzip"}
    s3 = stream(type="s3", options=found["options"])
    plain = stream_settings({"config": {"compression": "none"}}, type_="s3",
                            allow_private=False, creating=False)
    assert s3.edited(plain, NOW).options["compression"] == "none"
    assert s3.edited(plain, NOW).options["region"] == "eu-west-1"
    for wrong in ("zstd", True, None, "GZIP"):
        with pytest.raises(ValidationFailed) as failure:
            stream_settings({"config": {"compression": wrong}}, type_="s3",
                            allow_private=False, creating=False)
        assert {error.field: error.message for error in failure.value.errors} == {
            "config.compression": "gzip, or none (the default)."}
    with pytest.raises(ValidationFailed) as failure:  # every bad field named at once
        stream_settings({"name": "n", "config": {"url": S3_CONFIG["url"], "compression": "xz"}},
                        type_="s3", allow_private=False, creating=True)
    assert sorted(fields_of(failure)) == ["config.access_key_id", "config.compression",
                                          "config.region", "config.secret_access_key"]
    with pytest.raises(ValidationFailed) as failure:  # a webhook's body is not an object
        stream_settings({"config": {"compression": "gzip"}}, type_=WEBHOOK,
                        allow_private=False, creating=False)
    assert fields_of(failure) == ["config.compression"]


def test_a_patch_checks_only_what_it_changes() -> None:
    assert stream_settings({"filter": None}, type_=WEBHOOK, allow_private=False,
                           creating=False) == {"actions": None}
    assert stream_settings({"config": {"secret": "s" * 32}}, type_=WEBHOOK,
                           allow_private=False, creating=False) == {"credential": "s" * 32}


def test_an_empty_action_list_is_refused_rather_than_read_as_everything() -> None:
    with pytest.raises(ValidationFailed) as failure:
        checked_patterns([], "filter.actions")
    assert fields_of(failure) == ["filter.actions"]
    assert checked_patterns(["a.b", "a.b", "c.*"], "f") == ("a.b", "c.*")


def test_patterns_match_exact_actions_and_prefixes() -> None:
    patterns = action_patterns(["user.login", "admin.*"])
    assert patterns.matches("user.login") and patterns.matches("admin.user.delete")
    assert not patterns.matches("user.login_failed") and not patterns.matches("administrator")
    assert not patterns.matches("admin")
    assert action_patterns([]).matches("anything")


@pytest.mark.parametrize(("address", "refused"), [
    ("8.8.8.8", None), ("2606:4700::1111", None),
    ("127.0.0.1", "a loopback address"), ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"), ("192.168.0.1", "a private address"),
    ("169.254.169.254", "a link-local address (where cloud metadata services live)"),
    ("fd00:ec2::254", "a private address"), ("100.100.100.200", "a reserved address"),
    ("0.0.0.0", "an unspecified address"), ("224.0.0.1", "a multicast address"),  # noqa: S104
    ("::ffff:127.0.0.1", "a loopback address"), ("64:ff9b::7f00:1", "a loopback address"),
    ("2002:7f00:1::", "a loopback address"), ("64:ff9b::808:808", None)])
def test_addresses_are_judged_by_where_they_lead(address: str, refused: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == refused


@pytest.mark.parametrize(("url", "message"), [
    ("http://127.0.0.1:8080/x", "loopback"), ("http://[::1]/", "loopback"),
    ("http://localhost/x", "loopback"), ("https://api.localhost/", "loopback"),
    ("http://169.254.169.254/latest", "link-local"), ("http://10.0.0.5/", "private"),
    ("https://user:pw@siem.example.com/", "credentials"), ("gopher://x.example.com/", "http"),
    ("https://x.example.com/#frag", "fragment"), ("https:///nohost", "host"),
    ("https://x.example.com:99999/", "valid URL"), ("https://x.example.com/a b", "spaces"),
    ("", "required")])
def test_urls_that_cannot_be_sent_to_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        checked_url(url, "config.url", allow_private=False)
    [error] = failure.value.errors
    assert error.field == "config.url" and message in error.message, error.message


def test_private_urls_are_allowed_when_the_operator_says_so() -> None:
    assert checked_url("http://127.0.0.1:9/x", "u", allow_private=True) == \
        "http://127.0.0.1:9/x"


def _delivery(kind: str = EVENTS) -> Delivery:
    return Delivery(id="dlv_1", stream_id="lst_1", workspace_id="ws_1", kind=kind,
                    created_at=NOW, sequence=1)


def test_a_delivery_stays_pending_until_an_attempt_succeeds() -> None:
    failed = _delivery().attempted(NOW, Attempt(False, 503, "HTTP 503"))
    assert (failed.status, failed.attempts, failed.http_status, failed.error) == \
        (PENDING, 1, 503, "HTTP 503")
    done = failed.attempted(NOW + timedelta(seconds=1), Attempt(True, 204))
    assert (done.status, done.attempts, done.error, done.delivered_at) == \
        (DELIVERED, 2, None, NOW + timedelta(seconds=1))
    assert _delivery(TEST).attempted(NOW, Attempt(False, error="x")).status == FAILED


def test_a_batch_goes_when_full_or_once_its_oldest_event_has_lingered() -> None:
    linger = timedelta(seconds=1)
    young = [EventFactory(received_at=NOW), EventFactory(received_at=NOW - timedelta(
        milliseconds=300))]
    assert batch_ready_at(young, linger) == NOW + timedelta(milliseconds=700)
    assert batch_ready_at([EventFactory(received_at=NOW)] * MAX_BATCH, linger) is None
    assert batch_ready_at([], linger) is None
