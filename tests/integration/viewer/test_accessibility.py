"""The viewer's states against WCAG 2.2 AA, as axe-core checks them in Chromium, in each
theme a link's host may ask for, at phone width, and translated.

Its readers are the host application's customers, some on screen readers, keyboards or
high contrast; a page embedded in the host's product is one its accessibility review
inherits. So every state a reader can reach is checked, not only the first: the list with
its summary and export form, an event opened and verified with its signed note shown, a
warning, an error, a search with nothing found, records of changes to the workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.viewer.pages import (
    call,
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

STANDARD = {"runOnly": {"type": "tag", "values": [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
THEMES = {"light": "rgb(255, 255, 255)", "dark": "rgb(21, 25, 34)"}
"""Each theme's page background, as the browser computes it."""


def violations(browser: Any) -> list[str]:
    """What axe-core finds on the page as it stands, a line a rule broken."""
    from selenium_axe_python import Axe

    Axe(browser).inject()
    found = browser.execute_async_script(
        "const [options, done] = arguments; axe.run(document, options).then(done);",
        STANDARD)["violations"]
    return [f"{rule['id']} ({rule['impact']}): {rule['help']}, at "
            + "; ".join(" ".join(node["target"]) for node in rule["nodes"][:5])
            for rule in found]


class Audit:
    """Checks each state the test leads the page to and keeps what fails, so that one
    failure lists every state's violations rather than the first."""

    def __init__(self, browser: Any, theme: str) -> None:
        self.browser, self.theme = browser, theme
        self.found: dict[str, list[str]] = {}

    def check(self, state: str) -> None:
        assert self.browser.execute_script(
            "return getComputedStyle(document.body).backgroundColor") == THEMES[self.theme]
        shoot(self.browser, f"a11y-{self.theme}-{state}")
        if problems := violations(self.browser):
            self.found[state] = problems

    def report(self) -> str:
        return "\n".join(f"{state}:\n  " + "\n  ".join(problems)
                         for state, problems in self.found.items())


def themed(url: str, theme: str) -> str:
    return f"{url}&theme={theme}"


def opened(browser: Any, row: int, until: Callable[[Any], bool]) -> None:
    rows(browser)[row].click()
    wait(browser, until)


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_every_state_of_the_page_passes_axe_for_wcag_2_2_aa(server, browser,
                                                           theme: str) -> None:
    audit = Audit(browser, theme)
    link = viewer_link(server, filters={"action": "user.*"}, allow_export=True,
                       title="Acme: user activity")
    browser.get(themed(link["url"], theme))
    wait(browser, lambda d: len(rows(d)) == 40 and d.find_element("id", "summary")
         .is_displayed())
    audit.check("list")

    opened(browser, 0, lambda d: "Verified in signed log of" in text(d, "verification"))
    browser.find_element("css selector", "#signed-note summary").click()
    audit.check("verified")

    browser.set_window_size(390, 844)
    audit.check("phone-verified")
    browser.find_element("id", "close").click()
    audit.check("phone-list")
    browser.set_window_size(1280, 900)

    browser.find_element("name", "actor_id").send_keys("usr_nobody")
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "No events" in text(d, "status"))
    audit.check("nothing-found")

    browser.find_element("name", "actor_id").clear()
    browser.find_element("name", "action").send_keys("admin.*")  # wider than the link
    browser.find_element("css selector", "#search button").click()
    wait(browser, lambda d: "cannot be made with this link" in text(d, "status"))
    audit.check("refused-search")

    with tampering_proxy(server["base"]) as proxy:
        browser.get(themed(proxy + link["url"].split(server["base"], 1)[1], theme))
        wait(browser, lambda d: len(rows(d)) == 40)
        opened(browser, 0, lambda d: "could not be verified" in text(d, "verification"))
        audit.check("tampered")

    recorded = recording_workspace_link(server)
    browser.get(themed(recorded["url"], theme))
    wait(browser, lambda d: d.find_elements("css selector", "#events .record"))
    audit.check("workspace-changes")

    call(server["base"], "DELETE", f"/api/v1/viewer-links/{link['id']}", server["admin"])
    browser.get("about:blank")
    browser.get(themed(link["url"], theme))
    wait(browser, lambda d: "expired or was revoked" in text(d, "status"))
    audit.check("revoked")
    assert not audit.found, audit.report()


def test_the_axe_check_finds_what_it_is_there_to_find(server, browser) -> None:
    """Text too faint to read, and a control with no name: the check above is only as good
    as axe's seeing them on this page."""
    browser.get(viewer_link(server, filters={})["url"])
    wait(browser, lambda d: len(rows(d)) == 50)
    browser.execute_script(
        "document.documentElement.style.setProperty('--muted', '#d0d4dc');"
        "document.getElementById('more').textContent = '';")
    found = "\n".join(violations(browser))
    assert "color-contrast (serious)" in found and 'span[data-text="actor"]' in found
    assert "button-name (critical): Buttons must have discernible text, at #more" in found


def test_auto_follows_the_readers_setting_and_the_default_stays_light(server,
                                                                     browser) -> None:
    url = viewer_link(server, filters={})["url"]

    def prefers(scheme: str) -> None:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def shown() -> tuple[str, str]:
        return browser.execute_script(
            "return [document.documentElement.dataset.theme,"
            " getComputedStyle(document.body).backgroundColor]")

    prefers("dark")
    browser.get(themed(url, "auto"))
    wait(browser, lambda d: len(rows(d)) == 50)
    assert shown() == ["dark", THEMES["dark"]]
    prefers("light")  # the reader changes their setting with the page open
    wait(browser, lambda _: shown() == ["light", THEMES["light"]])
    prefers("dark")
    browser.get("about:blank")
    browser.get(url)  # no theme asked for: a host's light page stays light
    wait(browser, lambda d: len(rows(d)) == 50)
    assert shown() == ["light", THEMES["light"]]
    browser.get("about:blank")
    browser.get(themed(url, "purple"))  # not a theme: the default, not a broken page
    wait(browser, lambda d: len(rows(d)) == 50)
    assert shown() == ["light", THEMES["light"]]


def test_a_page_in_another_language_passes_axe_too(server, browser) -> None:
    """Translated, the page still declares its language and names every control: longer
    German words in the same layout, the search's and export's names, the verification."""
    audit = Audit(browser, "light")
    link = viewer_link(server, filters={"action": "user.*"}, allow_export=True)
    browser.get(f"{link['url']}&lang=de")
    wait(browser, lambda d: len(rows(d)) == 40 and d.find_element("id", "summary")
         .is_displayed())
    audit.check("german-list")
    opened(browser, 0, lambda d: "Geprüft im signierten Protokoll" in text(d, "verification"))
    browser.set_window_size(390, 844)
    audit.check("german-phone-verified")
    assert not audit.found, audit.report()
