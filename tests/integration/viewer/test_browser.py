"""The viewer in headless Chromium against a real ``auditrail serve``: a reader searches,
pages, opens an event and sees it verified in their browser; a tampered proof, a revoked
link and a widened filter each show their message."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adapters.security.signing import Ed25519Signer, Ed25519Verifier, new_seed, seed_from
from domain.signed_notes import (
    parse_note,
    parse_verifier_key,
    rotation_text,
    signature_by,
    signature_line,
    verifier_key,
)
from tests.geo_db import LONDON_V4
from tests.integration.processes import environment, start_server, stop
from tests.integration.stacks import admin_key_in
from tests.integration.viewer.pages import (
    call,
    free_port,
    needs_chromium,
    recording_workspace_link,
    rows,
    shoot,
    tampering_proxy,
    text,
    viewer_link,
    wait,
)

pytestmark = needs_chromium


def test_a_reader_searches_pages_opens_and_sees_an_event_verified(server, browser) -> None:
    link = viewer_link(server, filters={"action": "user.*"}, title="Acme: user activity")
    browser.get(link["url"])
    wait(browser, lambda d: len(rows(d)) == 40)  # 80 events, half of them user.*
    assert browser.title == "Acme: user activity"
    assert "Showing 40 of 40" in text(browser, "status")
    assert all(row.text.split("\n")[0] for row in rows(browser))
    time = rows(browser)[0].find_element("tag name", "time")
    zone = browser.execute_script(  # as the reader's browser names its zone: "UTC", "CET"…
        "return new Intl.DateTimeFormat(undefined, {timeZoneName: 'short'})"
        ".formatToParts(new Date(arguments[0])).find((p) => p.type === 'timeZoneName').value",
        time.get_attribute("datetime"))
    assert time.text.endswith(f" {zone}") and time.get_attribute("title").endswith("(UTC)")
    assert {row.find_elements("tag name", "td")[4].text for row in rows(browser)} == {
        "203.0.113.7", f"{LONDON_V4} (London, GB)"}  # documentation addresses stay unplaced
    assert {row.find_elements("tag name", "td")[1].text for row in rows(browser)} == {
        "user.login", "user.logout"}
    shoot(browser, "desktop-list")
    search = browser.find_element("name", "actor_id")
    search.send_keys("usr_0")
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "Showing" in text(d, "status") and all(
        "User 0" in row.text for row in rows(d)))
    rows(browser)[0].click()
    wait(browser, lambda d: "Verified in signed log of" in text(d, "verification"))
    assert "ok" in browser.find_element("id", "verification").get_attribute("class")
    assert "sequence" in text(browser, "fields") and "hash" in text(browser, "fields")
    # the checkpoint it was verified in, for the reader to keep or hand to an auditor
    browser.find_element("css selector", "#signed-note summary").click()
    kept = browser.find_element("id", "note").text + "\n"
    note = parse_note(kept)
    signer = parse_verifier_key(parse_qs(urlsplit(link["url"]).fragment)["key"][0])
    assert Ed25519Verifier().verify(signer.public_key, note.text.encode(),
                                    signature_by(note, signer))
    shoot(browser, "desktop-verified")
    browser.set_window_size(390, 844)
    browser.execute_script("document.getElementById('detail').scrollIntoView()")
    shoot(browser, "phone-verified")
    browser.execute_script("window.scrollTo(0, 0)")
    shoot(browser, "phone-list")


def test_a_reader_exports_what_they_searched_when_the_link_allows_it(
        server, browser, tmp_path: Path) -> None:
    browser.get(viewer_link(server, filters={})["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    assert not browser.find_element("id", "export").is_displayed()  # not offered
    link = viewer_link(server, filters={"action": "user.*"}, allow_export=True)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {
        "behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get("about:blank")
    browser.get(link["url"])
    wait(browser, lambda d: len(rows(d)) == 40)
    browser.find_element("name", "actor_id").send_keys("usr_1")
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "Showing" in text(d, "status") and rows(d)
         and all("User 1" in row.text for row in rows(d)))  # not the emptied table
    expected = len(rows(browser))
    browser.find_element("css selector", "#export select option[value=ndjson]").click()
    browser.find_element("css selector", "#export button").click()
    wait(browser, lambda d: "Exported" in text(d, "export-status"), timeout=40)
    assert f"Exported {expected} events" in text(browser, "export-status")
    shoot(browser, "desktop-exported")
    files = wait(browser, lambda _: [p for p in tmp_path.glob("exp_*.ndjson")] or None)
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(lines) == expected and {line["actor"]["id"] for line in lines} == {"usr_1"}
    assert {line["action"] for line in lines} <= {"user.login", "user.logout"}


def test_pages_load_more_by_cursor_and_an_event_opens_and_closes_by_keyboard(server,
                                                                             browser) -> None:
    browser.get(viewer_link(server, filters={})["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    assert "Showing 50 of 80" in text(browser, "status")
    browser.find_element("id", "more").click()
    wait(browser, lambda d: len(rows(d)) == 80)
    assert not browser.find_element("id", "more").is_displayed()
    ids = [row.get_attribute("data-id") for row in rows(browser)]
    assert len(set(ids)) == 80
    from selenium.webdriver.common.keys import Keys
    rows(browser)[60].send_keys(Keys.ENTER)  # by keyboard: rows take focus and Enter
    wait(browser, lambda d: d.find_element("id", "detail").is_displayed()
         and ids[60] in text(d, "fields"))
    assert browser.switch_to.active_element.get_attribute("id") == "detail"
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)  # closed, back to the row
    wait(browser, lambda d: not d.find_element("id", "detail").is_displayed())
    assert browser.switch_to.active_element.get_attribute("data-id") == ids[60]
    rows(browser)[10].click()
    wait(browser, lambda d: ids[10] in text(d, "fields"))
    browser.find_element("id", "close").click()
    assert not browser.find_element("id", "detail").is_displayed()
    assert browser.switch_to.active_element.get_attribute("data-id") == ids[10]


def test_an_event_leads_to_its_actors_whole_trail(server, browser) -> None:
    browser.get(viewer_link(server, filters={})["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    browser.find_element("name", "action").send_keys("user.login")  # cleared by the jump
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "Showing 20 of 20" in text(d, "status"))
    rows(browser)[0].click()
    button = browser.find_element("id", "by-actor")
    wait(browser, lambda d: button.is_displayed() and "All events by User" in button.text)
    name = button.text.removeprefix("All events by ")
    button.click()
    wait(browser, lambda d: "Showing 16 of 16" in text(d, "status"))  # 80 events, 5 actors
    assert {row.find_elements("tag name", "td")[2].text for row in rows(browser)} == {name}
    assert len({row.find_elements("tag name", "td")[1].text for row in rows(browser)}) == 4
    assert browser.find_element("name", "actor_id").get_attribute("value") == \
        f"usr_{name.removeprefix('User ')}"
    assert not browser.find_element("id", "detail").is_displayed()
    assert browser.switch_to.active_element.get_attribute("name") == "actor_id"  # not lost


def test_a_host_that_changes_only_the_fragment_gets_the_new_links_page(server,
                                                                      browser) -> None:
    """An application that swaps the frame's link for another (the next customer's, another
    language) changes only the URL's fragment, which browsers navigate to without loading
    the page again: the page must not go on showing the first link's events."""
    first = viewer_link(server, filters={"actor_id": "usr_1"})
    browser.get(first["url"])
    wait(browser, lambda d: "Showing 16 of 16" in text(d, "status"))
    rows(browser)[0].click()
    wait(browser, lambda d: "Verified in signed log of" in text(d, "verification"))
    second = viewer_link(server, filters={"actor_id": "usr_2"}, title="Another customer")
    browser.get(second["url"] + "&lang=de")
    wait(browser, lambda d: text(d, "title") == "Another customer"
         and text(d, "status") == "16 von 16 Ereignissen angezeigt.")
    assert {row.find_elements("tag name", "td")[2].text for row in rows(browser)} == {
        "User 2"}
    assert not browser.find_element("id", "detail").is_displayed()


def test_records_of_changes_to_the_workspace_are_labelled(server, browser) -> None:
    browser.get(recording_workspace_link(server)["url"])
    wait(browser, lambda d: "Showing 4 of 4" in text(d, "status"))
    labelled = {}
    for found in rows(browser):
        cell = found.find_elements("tag name", "td")[1]
        labels = cell.find_elements("css selector", ".record")
        labelled[cell.text.split()[0]] = [label.text for label in labels]
        if labels:
            assert "not an event sent by an application" in labels[0].get_attribute("title")
    assert labelled == {"auditrail.workspace.created": ["Workspace change"],
                        "auditrail.api_key.created": ["Workspace change"],
                        "user.login": [],
                        "auditrail.viewer_link.created": ["Workspace change"]}
    shoot(browser, "desktop-records")
    rows(browser)[0].click()  # the newest: the link's own creation
    wait(browser, lambda d: "Verified in signed log of" in text(d, "verification"))
    assert text(browser, "detail-title") == "auditrail.viewer_link.created Workspace change"


def test_a_widened_search_a_revoked_link_and_a_link_without_token_say_so(server,
                                                                         browser) -> None:
    link = viewer_link(server, filters={"action": "user.*"})
    browser.get(link["url"])
    wait(browser, lambda d: len(rows(d)) == 40)
    browser.find_element("name", "action").send_keys("admin.*")
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "cannot be made with this link" in text(d, "status"))
    assert rows(browser) == []
    call(server["base"], "DELETE", f"/api/v1/viewer-links/{link['id']}", server["admin"])
    browser.get("about:blank")
    browser.get(link["url"])
    wait(browser, lambda d: "expired or was revoked" in text(d, "status"))
    shoot(browser, "desktop-revoked")
    browser.get(link["url"].split("#")[0])
    wait(browser, lambda d: "incomplete" in text(d, "status"))


def test_a_search_over_the_servers_time_limit_asks_the_reader_to_narrow_it(
        tmp_path: Path, browser: Any) -> None:
    admin = admin_key_in(tmp_path / "var")
    # A microsecond: a search that counts thousands of events is stopped, as one counting
    # tens of millions would be at the default limit.
    process, base = start_server(environment(data_dir=str(tmp_path / "var"),
                                             query_timeout_seconds="0.000001"),
                                 tmp_path / "serve.log")
    try:
        for _ in range(5):
            call(base, "POST", "/api/v1/events/batch", admin, {"events": [
                {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}] * 1000})
        link = call(base, "POST", "/api/v1/viewer-links", admin, {"expires_in_seconds": 900})
        browser.get(link["url"])
        wait(browser, lambda d: len(rows(d)) == 50)  # all events: their count is the chain's
        browser.find_element("name", "actor_id").send_keys("usr_1")
        browser.find_element("css selector", "#search button").click()
        wait(browser, lambda d: "too many events to answer in time" in text(d, "status"))
        assert "Narrow it with From and Until" in text(browser, "status")
        assert "Please try again" not in text(browser, "status")  # it would only fail again
        assert rows(browser) == []
        shoot(browser, "desktop-query-timeout")
    finally:
        stop(process)


def test_a_link_made_before_a_rotation_verifies_once_the_old_key_is_gone(
        tmp_path: Path, browser: Any) -> None:
    """The link's URL pins the key of its day; the operator rotated, countersigned and
    dropped that key. The reader's browser follows its rotation note to the new key."""
    from tests.integration.processes import AUDITRAIL, wait_for
    admin = admin_key_in(tmp_path / "var")
    settings = {"data_dir": str(tmp_path / "var"), "checkpoint_seconds": "1"}

    def serve(name: str, **keys: str) -> tuple[Any, str]:
        return start_server(environment(**settings, **keys), tmp_path / f"{name}.log")

    def events(base: str, count: int) -> None:
        call(base, "POST", "/api/v1/events/batch", admin, {"events": [
            {"action": "user.login", "actor": {"id": f"usr_{n}", "type": "user"}}
            for n in range(count)]})

    process, base = serve("before")
    try:
        events(base, 3)
        link = call(base, "POST", "/api/v1/viewer-links", admin, {"expires_in_seconds": 900})
        assert wait_for(lambda: call(base, "GET", "/api/v1/events/verify", admin)
                        ["checked"] == 3, 10)
    finally:
        stop(process)
    old, new = (tmp_path / "var" / "signing_key").read_text().strip(), new_seed()
    countersigned = subprocess.run(
        [AUDITRAIL, "signing-key", "countersign"], capture_output=True, text=True, env=environment(
            **settings, signing_key=new, previous_signing_keys=old), check=False)
    assert "kept 1 rotation note(s)" in countersigned.stdout, countersigned.stderr
    process, base = serve("after", signing_key=new)  # the old key in no setting any more
    try:
        events(base, 2)  # signed by the new key alone
        assert wait_for(lambda: call(base, "GET", "/api/v1/events/verify", admin)
                        ["checked"] == 5, 10)
        parts = urlsplit(link["url"])  # the link's own, on the restarted server's port
        browser.get(f"{base}{parts.path}#{parts.fragment}")
        wait(browser, lambda d: len(rows(d)) == 5)
        rows(browser)[0].click()
        wait(browser, lambda d: "Verified in signed log of" in text(d, "verification"))
        assert "ok" in browser.find_element("id", "verification").get_attribute("class")
    finally:
        stop(process)


def test_the_browser_keeps_the_log_it_verified_and_names_a_rewrite(
        tmp_path: Path, browser: Any) -> None:
    """A reader's later visit demands that the log extend the largest checkpoint their
    browser verified: grown, it is checked and kept; rewritten or shrunk, it is named."""
    from tests.integration.processes import wait_for
    admin = admin_key_in(tmp_path / "var")
    process, base = start_server(environment(data_dir=str(tmp_path / "var"),
                                             checkpoint_seconds="1"), tmp_path / "serve.log")

    def grow_to(size: int, sent: int) -> None:
        call(base, "POST", "/api/v1/events/batch", admin, {"events": [
            {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}] * sent})
        assert wait_for(lambda: [c["tree_size"] for c in call(  # processed, and signed
            base, "GET", "/api/v1/log/checkpoints", admin)["data"]][:1] == [size], 10)

    def check_newest() -> str:
        browser.get(link["url"])
        wait(browser, lambda d: len(rows(d)) > 0)
        rows(browser)[0].click()
        wait(browser, lambda d: "erif" in text(d, "verification"))  # Verified / verified
        return text(browser, "verification")

    def kept() -> Any:
        return browser.execute_script(
            "return JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]))")

    def keep(seen: dict[str, Any]) -> None:
        """As if this browser had verified ``seen`` earlier."""
        browser.execute_script("localStorage.setItem(Object.keys(localStorage)[0], "
                               "JSON.stringify(arguments[0]))", seen)

    try:
        grow_to(3, 3)
        link = call(base, "POST", "/api/v1/viewer-links", admin, {"expires_in_seconds": 900})
        assert check_newest().startswith("Verified")
        first = kept()
        assert first["size"] == 3
        grow_to(5, 2)
        assert check_newest().startswith("Verified")  # 5 extends 3: proved, and kept
        assert kept()["size"] == 5 and kept()["root"] != first["root"]
        keep({**first, "root": base64.b64encode(b"x" * 32).decode()})  # another history
        assert "its history was rewritten" in check_newest()
        assert "warn" in browser.find_element("id", "verification").get_attribute("class")
        keep({**first, "size": 9})  # ... or a larger log than the one now served
        assert "holds 5 events where this browser verified 9" in check_newest()
    finally:
        stop(process)


def test_a_tampered_proof_shows_the_warning(server, browser) -> None:
    link = viewer_link(server, filters={})
    with tampering_proxy(server["base"]) as proxy:
        browser.get(proxy + link["url"].split(server["base"], 1)[1])
        wait(browser, lambda d: len(rows(d)) == 50)
        rows(browser)[0].click()
        wait(browser, lambda d: "could not be verified" in text(d, "verification"))
        assert "warn" in browser.find_element("id", "verification").get_attribute("class")
        assert not browser.find_element("id", "signed-note").is_displayed()  # nothing to keep
        shoot(browser, "desktop-tampered")


def test_the_pages_own_logic_passes_its_checks_in_the_browser(server, browser) -> None:
    """proofs.js and query.js, imported by the page's own URLs, against proofs the server
    made (and checked by our Python code and Go's elsewhere)."""
    link = viewer_link(server, filters={})
    browser.get(link["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    event_id = rows(browser)[3].get_attribute("data-id")
    proof = call(server["base"], "GET", f"/api/v1/events/{event_id}/proof", server["admin"])
    key = parse_qs(urlsplit(link["url"]).fragment)["key"][0]
    broken = dict(proof, leaf_index=proof["leaf_index"] ^ 1)
    # after a rotation of the log's key: the new key's signature first, the link's after
    text, _, signatures = proof["checkpoint"].rpartition("\n\n")
    origin = text.split("\n", 1)[0]
    own = Ed25519Signer(seed_from(server["signing_key"].read_text()))
    successor, later = (Ed25519Signer(seed_from(new_seed())) for _ in range(2))

    def signed_by(signer: Ed25519Signer) -> dict[str, Any]:
        return dict(proof, checkpoint=f"{text}\n\n" + signature_line(
            origin, signer.public_key(), signer.sign(f"{text}\n".encode())))

    def hand_over(signer: Ed25519Signer, to: Ed25519Signer) -> str:
        note = rotation_text(origin, verifier_key(origin, to.public_key()))
        return f"{note}\n" + signature_line(origin, signer.public_key(),
                                            signer.sign(note.encode()))

    cosigned = dict(proof, checkpoint=signed_by(successor)["checkpoint"] + signatures)
    # ... and once the link's key is gone: the successor's signature alone, which the
    # link's key handed the log over to in a rotation note (kept, served by /log/key)
    rotated, rotation = signed_by(successor), hand_over(own, successor)
    forged = hand_over(successor, successor)  # not by the link's key
    twice = [signed_by(later), [hand_over(successor, later), rotation]]  # rotated again
    flipped = bytearray(base64.b64decode(proof["root_hash"]))
    flipped[0] ^= 1
    grown = [call(server["base"], "GET", f"/api/v1/log/consistency?from_size={size}",
                  server["admin"]) for size in (1, 4, 7, 80)]  # powers of two and not
    results = browser.execute_async_script("""
        const [proof, broken, cosigned, rotated, rotation, forged, twice, grown, key, done] =
          arguments;
        const base = document.querySelector('script[type=module]').src.replace(/[^/]*$/, '');
        const {verifyProof, parseVerifierKey, verifyConsistency, fromBase64} =
          await import(base + 'proofs.js');
        const consistent = (p, alter = (r) => r) => verifyConsistency(p.from_size, p.to_size,
          alter(fromBase64(p.from_root)), fromBase64(p.to_root), p.proof.map(fromBase64));
        const flip = (root) => root.map((byte, i) => i === 0 ? byte ^ 1 : byte);
        const {searchParams, searchFilters} = await import(base + 'query.js');
        const outcome = async (f) => {
          try { await f(); return 'ok'; } catch (e) { return e.message; }
        };
        done({
          good: await outcome(() => verifyProof(proof, key)),
          broken: await outcome(() => verifyProof(broken, key)),
          cosigned: await outcome(() => verifyProof(cosigned, key)),
          rotated: await outcome(() => verifyProof(rotated, key, [rotation])),
          unfollowed: await outcome(() => verifyProof(rotated, key)),
          forged: await outcome(() => verifyProof(rotated, key, [forged])),
          twice: await outcome(() => verifyProof(twice[0], key, twice[1])),
          grown: await Promise.all(grown.map((p) => consistent(p))),
          rewritten: await Promise.all(grown.map((p) => consistent(p, flip))),
          badKey: await outcome(() => parseVerifierKey(
            key.replace(/\\+[0-9a-f]{8}\\+/, '+00000000+'))),
          query: searchParams({action: 'user.', actor_id: ' usr_1 ', since: '',
                               metadata: ' order = a=b '}, 'abc').toString(),
          days: searchFilters({since: '2026-12-31', until: '2026-12-31'}),
          midnights: [new Date(2026, 11, 31), new Date(2027, 0, 1)].map((d) => d.toISOString()),
        });
    """, proof, broken, cosigned, rotated, rotation, forged, twice, grown, key)
    assert results["good"] == "ok" and results["cosigned"] == "ok"
    assert results["rotated"] == results["twice"] == "ok"
    assert results["grown"] == [True] * 4 and results["rewritten"] == [False] * 4
    assert results["unfollowed"].startswith("no signature by")
    assert results["forged"].startswith("no signature by")  # not the link's key's note
    assert "not in the signed tree" in results["broken"]
    assert "does not match" in results["badKey"]
    assert results["query"] == ("limit=50&order=desc&action=user.*&actor_id=usr_1"
                                "&metadata.order=a%3Db&cursor=abc")
    # From and Until a day: the whole of it, from its midnight to the next (the year's end)
    assert [results["days"]["since"], results["days"]["until"]] == results["midnights"]


class _Host(BaseHTTPRequestHandler):
    """A host application's page that embeds the viewer in an iframe."""

    frame_url: str

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = (f'<!doctype html><title>host</title><iframe id="audit" src="{self.frame_url}" '
                f'style="width:1000px;height:600px"></iframe>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def framed(browser: Any, frame_url: str, port: int) -> str:
    """What the viewer shows inside a host page served from another origin."""
    handler = type("Host", (_Host,), {"frame_url": frame_url})
    host = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        browser.switch_to.frame(browser.find_element("id", "audit"))
        try:
            wait(browser, lambda d: d.execute_script("return location.href").startswith(
                "chrome-error") or rows(d), timeout=15)
            return browser.execute_script("return location.href")
        finally:
            browser.switch_to.default_content()
    finally:
        host.shutdown()
        host.server_close()


def test_only_the_listed_origins_may_frame_the_viewer(server, browser,
                                                     tmp_path: Path) -> None:
    link = viewer_link(server, filters={})
    refused = framed(browser, link["url"], free_port())
    assert refused.startswith("chrome-error")  # frame-ancestors 'none' by default
    port = free_port()
    admin = admin_key_in(tmp_path / "var")
    process, base = start_server(environment(
        data_dir=str(tmp_path / "var"),
        viewer_frame_ancestors=f"http://127.0.0.1:{port}"), tmp_path / "serve.log")
    try:
        listed = call(base, "POST", "/api/v1/viewer-links", admin, {"filters": {}})
        call(base, "POST", "/api/v1/events", admin,
             {"action": "user.login", "actor": {"id": "u", "type": "user"}})
        shown = framed(browser, listed["url"], port)
        assert shown.startswith(f"{base}/viewer/")
    finally:
        stop(process)


def test_a_link_made_with_witnesses_demands_their_cosignature(browser, tmp_path: Path) -> None:
    """The link pins the witnesses' keys: the page checks the event in the tree they
    cosigned and names them; once none cosigns, it says the event is not cosigned."""
    from tests.integration.test_witness import NAME, run_witness

    admin = admin_key_in(tmp_path / "var")
    process, base = start_server(environment(data_dir=str(tmp_path / "var"),
                                             checkpoint_seconds="1",
                                             allow_private_destinations="1"),
                                 tmp_path / "serve.log")
    witness = run_witness(tmp_path, call(base, "GET", "/api/v1/log/key", admin)["verifier_key"])
    try:
        added = call(base, "POST", "/api/v1/log/witnesses", admin,
                     {"url": witness.url, "verifier_key": witness.key})
        call(base, "POST", "/api/v1/events/batch", admin, {"events": [
            {"action": "user.login", "actor": {"id": "usr_1", "type": "user"}}] * 5})
        link = call(base, "POST", "/api/v1/viewer-links", admin,
                    {"expires_in_seconds": 900, "filters": {}})
        assert parse_qs(urlsplit(link["url"]).fragment)["witness"] == [witness.key]
        browser.get(link["url"])
        wait(browser, lambda d: len(rows(d)) == 5)
        rows(browser)[0].click()
        wait(browser, lambda d: f"cosigned by {NAME}" in text(d, "verification"), timeout=30)
        assert "ok" in browser.find_element("id", "verification").get_attribute("class")
        browser.find_element("css selector", "#signed-note summary").click()
        assert f"\u2014 {NAME} " in browser.find_element("id", "note").text
        shoot(browser, "desktop-cosigned")

        note = call(base, "GET", f"/api/v1/events/{rows(browser)[0].get_attribute('data-id')}"
                    "/proof?witnesses=1", admin)["checkpoint"]
        checks = browser.execute_async_script("""
            const [note, key, done] = arguments;
            const base = document.querySelector('script[type=module]').src
              .replace(/[^/]*$/, '');
            const {checkCosignature, parseVerifierKey} = await import(base + 'proofs.js');
            const outcome = async (f) => {
              try { await f(); return 'ok'; } catch (e) { return e.message; } };
            const witness = await parseVerifierKey(key, 4);
            done({
              good: await outcome(() => checkCosignature(note, witness)),
              altered: await outcome(() => checkCosignature(note.replace('\\n', '\\n\\n'),
                                                            witness)),
              logKeyType: await outcome(() => parseVerifierKey(key)),
              stranger: await outcome(() => checkCosignature(note,
                {...witness, id: new Uint8Array(4)})),
            });
        """, note, witness.key)
        assert checks["good"] == "ok"
        assert checks["altered"] != "ok" and checks["stranger"].startswith("no cosignature by")
        assert checks["logKeyType"] == "not an Ed25519 key"  # a cosigner key is not a log's

        request = urllib.request.Request(f"{base}/api/v1/log/witnesses/{added['id']}",
                                         method="DELETE",
                                         headers={"Authorization": f"Bearer {admin}"})
        urllib.request.urlopen(request, timeout=10).close()
        browser.refresh()
        wait(browser, lambda d: len(rows(d)) == 5)
        rows(browser)[1].click()
        wait(browser, lambda d: "not cosigned by the log's witnesses" in text(d, "verification"))
        assert "warn" in browser.find_element("id", "verification").get_attribute("class")
        assert "Verified in signed log of" in text(browser, "verification")
    finally:
        stop(witness.process)
        stop(process)


def test_the_actions_a_search_holds_most_lead_to_their_events(server, browser) -> None:
    link = viewer_link(server, filters={"actor_id": "usr_1"})
    browser.get(link["url"])
    wait(browser, lambda d: len(rows(d)) == 16 and d.find_element("id", "summary")
         .is_displayed())  # usr_1: 16 of the 80, 4 actions alike
    facets = browser.find_elements("css selector", "#top-actions .facet")
    assert [facet.text for facet in facets] == [  # a tie: by name
        "admin.user.delete 4", "document.update 4", "user.login 4", "user.logout 4"]
    facets[-1].click()  # user.logout
    wait(browser, lambda d: len(rows(d)) == 4)
    assert browser.find_element("name", "action").get_attribute("value") == "user.logout"
    assert browser.switch_to.active_element.get_attribute("name") == "action"
    assert {row.find_elements("tag name", "td")[1].text for row in rows(browser)} == {
        "user.logout"}
    assert not browser.find_element("id", "summary").is_displayed()  # one action alone


def test_a_reader_finds_events_by_a_detail_of_their_metadata(server, browser) -> None:
    browser.get(viewer_link(server, filters={})["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    details = browser.find_element("name", "metadata")
    assert details.get_attribute("placeholder") == "order_id=ord_7"
    details.send_keys(" n = 13 ")
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: len(rows(d)) == 1 and "Showing 1 of 1" in text(d, "status"))
    assert rows(browser)[0].find_elements("tag name", "td")[1].text == "user.logout"  # 13
    details.clear()
    details.send_keys("n")  # no value: the API's answer says how to write one
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "metadata.<key>" in text(d, "status"))
