"""The viewer in the languages a link's host may ask for (``lang=`` in the URL's fragment):
every word of the page in that language, times and numbers written its way, and English
where nothing, or a language the page does not speak, was asked for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.integration.processes import call
from tests.integration.stacks import admin_key_in
from tests.integration.viewer.pages import needs_chromium, rows, text, viewer_link, wait

pytestmark = needs_chromium

VIEWER = Path(__file__).resolve().parents[3] / "src" / "entrypoints" / "http" / "viewer"
SAMPLES: dict[str, list[list[Any]]] = {
    "tooMany": [[0], [7]], "refused": [["a reason"]], "failed": [[None], ["req_1"]],
    "showing": [[1, 1], [50, 1234]], "allBy": [["Jane Roe"]], "unverifiable": [["a reason"]],
    "verified": [["7 Dec 2026", 5, []], [None, 5, ["witness.example/w1"]]],
    "notVerified": [["a reason"]], "uncosigned": [["Verified", "a reason"]],
    "shrunk": [[5, 1234, "7 Dec 2026"]], "diverged": [["7 Dec 2026"]],
    "exportEnded": [["failed", None], ["failed", "disk full"]],
    "exported": [[1, 1], [1234, 56]]}
"""Values each message that takes them is tried with."""


def catalogues(browser: Any) -> dict[str, dict[str, Any]]:
    """Each language's messages as the page's own module gives them: strings as they are,
    functions called with each of their samples."""
    return browser.execute_async_script("""
        const [samples, done] = arguments;
        const base = document.querySelector('script[type=module]').src.replace(/[^/]*$/, '');
        const {CATALOGUES, translator} = await import(base + 'messages.js');
        const result = {};
        for (const language of Object.keys(CATALOGUES)) {
          const t = translator({language, locale: language});
          result[language] = Object.fromEntries(Object.entries(CATALOGUES[language](String)).map(
            ([key, message]) => [key, typeof message === 'function'
              ? (samples[key] || [[]]).map((values) => t(key, ...values)) : message]));
        }
        done(result);
    """, SAMPLES)


def keys_the_page_uses() -> set[str]:
    page = (VIEWER / "index.html").read_text()
    script = (VIEWER / "viewer.js").read_text()
    return (set(re.findall(r'data-(?:text|label|placeholder)="(\w+)"', page))
            | set(re.findall(r'\bt\("(\w+)"', script))
            | set(re.findall(r'"(awaiting\w+)"', script)))  # chosen by a condition


def shown(browser: Any) -> dict[str, Any]:
    return browser.execute_script("""
        const texts = (selector) => [...document.querySelectorAll(selector)]
          .map((e) => e.textContent.trim());
        return {lang: document.documentElement.lang, title: document.title,
          heading: texts('h1')[0], labels: texts('#search label > span'),
          columns: texts('#events th'), button: texts('#search button')[0],
          placeholder: document.querySelector('[name=action]').placeholder,
          searchName: document.getElementById('search').getAttribute('aria-label'),
          translating: 'translating' in document.documentElement.dataset,
          visibility: getComputedStyle(document.body).visibility};
    """)


def test_every_language_says_everything_the_page_says(server, browser) -> None:
    browser.get(viewer_link(server, filters={})["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    said = catalogues(browser)
    for language, messages in said.items():
        for key, message in messages.items():
            for line in message if isinstance(message, list) else [message]:
                assert line and not re.search(r"undefined|null|NaN|\[object", line), \
                    (language, key, line)
    english = said.pop("en")
    assert set(said) == {"de", "fr", "es"}
    assert keys_the_page_uses() <= set(english), keys_the_page_uses() - set(english)
    for language, messages in said.items():
        assert set(messages) == set(english), (language, set(messages) ^ set(english))
        for key, message in messages.items():
            assert type(message) is type(english[key]), (language, key)
        assert "Jane Roe" in messages["allBy"][0] and "req_1" in messages["failed"][1]
        assert "disk full" in messages["exportEnded"][1]
        assert "witness.example/w1" in messages["verified"][1]
        # what differs from English is translated (a few words are the same in both, and
        # the example of a metadata detail is code)
        same = {key for key in english if messages[key] == english[key]}
        assert same <= {"action", "actor", "format", "details", "detailsExample"}, \
            (language, same)
    # numbers written each language's way
    assert "1,234" in english["showing"][1] and "1.234" in said["de"]["showing"][1]
    assert "1\u202f234" in said["fr"]["showing"][1]
    assert english["showing"] == ["Showing 1 of 1 event.", "Showing 50 of 1,234 events."]
    assert said["de"]["exported"][0].startswith("1 Ereignis exportiert")
    assert said["de"]["allBy"] == ["Alle Ereignisse von Jane Roe"]


def test_a_link_asking_for_german_shows_the_page_in_german(server, browser) -> None:
    link = viewer_link(server, filters={"action": "user.*"})
    browser.get(f"{link['url']}&lang=de")
    wait(browser, lambda d: len(rows(d)) == 40)
    page = shown(browser)
    assert page == {
        "lang": "de", "title": "Prüfprotokoll", "heading": "Prüfprotokoll",
        "labels": ["Aktion", "Akteur", "Ziel", "Von", "Bis", "Details"],
        "columns": ["Zeit", "Aktion", "Akteur", "Ziel", "Ort"], "button": "Suchen",
        "placeholder": "user.* oder user.login", "searchName": "Ereignisse durchsuchen",
        "translating": False, "visibility": "visible"}
    assert text(browser, "status") == "40 von 40 Ereignissen angezeigt."
    time = rows(browser)[0].find_element("tag name", "time")
    written = browser.execute_script(
        "return [new Date(arguments[0]).toLocaleString('de', {timeZoneName: 'short'}),"
        " new Date(arguments[0]).toLocaleString('en-US', {timeZoneName: 'short'})]",
        time.get_attribute("datetime"))
    assert time.text == written[0] != written[1]  # German dates, whatever the browser's
    rows(browser)[0].click()
    wait(browser, lambda d: "Geprüft im signierten Protokoll vom" in text(d, "verification"))
    assert text(browser, "by-actor").startswith("Alle Ereignisse von User ")
    assert text(browser, "close") == "Schließen"
    browser.find_element("name", "action").clear()
    browser.find_element("name", "action").send_keys("admin.*")  # wider than the link
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: text(d, "status").startswith(
        "Diese Suche ist mit diesem Link nicht möglich: "))  # the server's reason after it


def test_auto_follows_the_readers_languages_and_anything_else_stays_english(
        server, browser) -> None:
    url = viewer_link(server, filters={})["url"]

    def speaks(languages: str) -> None:
        agent = browser.execute_script("return navigator.userAgent")
        browser.execute_cdp_cmd("Network.setUserAgentOverride", {
            "userAgent": agent, "acceptLanguage": languages})

    def visit(fragment: str) -> dict[str, Any]:
        browser.get("about:blank")
        browser.get(url + fragment)
        wait(browser, lambda d: len(rows(d)) == 50)
        return shown(browser)

    speaks("pt-BR,fr-CA,en")
    page = visit("&lang=auto")  # the first language of the reader's that the page speaks
    assert (page["lang"], page["heading"], page["button"]) == ("fr", "Journal d'audit",
                                                                "Rechercher")
    time = rows(browser)[0].find_element("tag name", "time")
    assert time.text == browser.execute_script(
        "return new Date(arguments[0]).toLocaleString('fr-CA', {timeZoneName: 'short'})",
        time.get_attribute("datetime"))
    assert visit("&lang=es-MX")["heading"] == "Registro de auditoría"  # a regional tag
    for fragment in ("", "&lang=xx", "&lang=" + "de" * 40):  # none, unknown, nonsense
        page = visit(fragment)
        assert (page["lang"], page["heading"], page["translating"], page["visibility"]) \
            == ("en", "Audit log", False, "visible"), fragment
    speaks("pt-BR,ja")
    assert visit("&lang=auto")["heading"] == "Audit log"  # none of them spoken here


def test_a_page_whose_translation_never_comes_is_shown_after_a_second(server,
                                                                    browser) -> None:
    """The page hides until it is translated; should its script never run (here, its
    messages blocked), the reader still sees the page rather than a blank frame."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*messages.js"]})
    browser.get(viewer_link(server, filters={})["url"] + "&lang=de")
    assert browser.execute_script(  # hidden, for a second at most (by the clock, not here)
        "const style = getComputedStyle(document.body);"
        "return [style.animationName, style.animationDelay]") == ["reveal", "1s"]
    wait(browser, lambda d: shown(d)["visibility"] == "visible", timeout=3)
    page = shown(browser)
    assert page["translating"] and page["heading"] == "Audit log" and not rows(browser)


def test_counts_are_written_the_languages_way(server, browser) -> None:
    """A workspace of its own, so that the other tests' counts stay as seeded."""
    admin = admin_key_in(Path(server["data_dir"]))
    for action, count in (("user.login", 1_000), ("user.login", 200), ("user.logout", 5)):
        call(server["base"], "POST", "/api/v1/events/batch", admin, {"events": [
            {"action": action, "actor": {"id": "usr_1", "type": "user"}}] * count})
    link = call(server["base"], "POST", "/api/v1/viewer-links", admin,
                {"expires_in_seconds": 900, "filters": {}})
    browser.get(f"{link['url']}&lang=de")
    wait(browser, lambda d: len(rows(d)) == 50 and d.find_element("id", "summary")
         .is_displayed())
    assert text(browser, "status") == "50 von 1.205 Ereignissen angezeigt."
    assert [facet.text for facet in browser.find_elements(
        "css selector", "#top-actions .facet")] == ["user.login 1.200", "user.logout 5"]
