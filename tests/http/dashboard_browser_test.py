"""Browser test of the registry's live dashboard, in headless Chromium.

Three replicas show, with the heartbeats received counting up; a SIGTERMed
one leaves the page within 2 s without a reload, its deregistration's reason
in the events; a SIGKILLed one leaves when its lease expires, and the events section
gives the reason. Saves two screenshots for the README: SCREENSHOT_PATH with three replicas,
and SCREENSHOT_PATH without ".png" plus "-departures.png" at the end.
Exit 77 (skipped) only when Chromium or its driver cannot start.

usage: dashboard_browser_test.py BUILD_DIR SCREENSHOT_PATH
"""
import os
import signal
import sys
import time

from beacon_processes import Cluster, wait_until

SKIP = 77
# Long enough that heartbeats (every ttl/3) survive a loaded 2-core machine.
TTL_MS = 5000


def start_browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        print(f"SKIP: python3-selenium is not installed ({e})")
        sys.exit(SKIP)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,860", "--no-first-run"):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    except Exception as e:  # the driver's errors vary: missing binary, crash...
        print(f"SKIP: Chromium cannot start: {e}")
        sys.exit(SKIP)


def rows(driver, service):
    return driver.execute_script(
        "return [...document.querySelectorAll('#instances tr.instance')]"
        ".filter(r => r.dataset.service === arguments[0]).map(r => r.dataset.id).sort();",
        service)


def heartbeats(driver):
    """The heartbeats column of every live instance row, as numbers."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#instances tr.instance td.heartbeats')]"
        ".map(td => Number(td.textContent));")


def event(driver, kind, instance):
    """The text of the newest event of `kind` for `instance`, or None."""
    return driver.execute_script(
        "const e = [...document.querySelectorAll('#events li.event')].find(li =>"
        " li.dataset.kind === arguments[0] && li.dataset.instance === arguments[1]);"
        "return e ? e.textContent : null;", kind, instance)


def main():
    build_dir, screenshot = sys.argv[1], sys.argv[2]
    driver = start_browser()
    try:
        with Cluster(build_dir) as cluster:
            _, registry_port, http_port = cluster.start_registry(ttl_ms=TTL_MS)
            replicas = {}
            for name in ("replica-1", "replica-2", "replica-3"):
                replicas[name] = cluster.start_replica(name, registry_port)[0]

            driver.get(f"http://127.0.0.1:{http_port}/")
            wait_until(lambda: rows(driver, "prime") == sorted(replicas), 10,
                       what="three replicas on the page")
            assert rows(driver, "voting") == sorted(replicas)
            # Self-contained: everything the page loaded came from the registry.
            origin = f"http://127.0.0.1:{http_port}/"
            loaded = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name);")
            assert loaded and all(u.startswith(origin) for u in loaded), loaded
            assert driver.find_element("css selector", "#events h2").text == "Recent events"
            # Heartbeats received show, and move, without a reload (every ttl/3).
            driver.execute_script("window.beaconMarker = 42;")
            wait_until(lambda: min(heartbeats(driver)) >= 1, TTL_MS / 1000 + 2,
                       what="a heartbeat counted on every instance row")
            assert driver.execute_script("return window.beaconMarker;") == 42, "reloaded"
            os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
            assert driver.save_screenshot(screenshot), "screenshot not saved"
            print(f"screenshot: {screenshot}")
            # window.beaconMarker was set on this page load; a reload would lose it.

            # SIGTERM: the replica deregisters; the page shows two within 2 s.
            replicas["replica-3"].signal(signal.SIGTERM)
            start = time.monotonic()
            wait_until(lambda: rows(driver, "prime") == ["replica-1", "replica-2"], 2.0,
                       step_s=0.02, what="two replicas within 2 s of SIGTERM")
            took = time.monotonic() - start
            print(f"SIGTERM: replica-3 left the page after {took:.2f} s")
            deregistered = wait_until(lambda: event(driver, "deregistered", "replica-3"), 2.0,
                                      what="the deregistration in the events")
            assert "deregistered by its lease holder" in deregistered, deregistered
            assert replicas["replica-3"].wait(10) == 0

            # SIGKILL: no deregistration; it leaves when its lease expires.
            replicas["replica-2"].signal(signal.SIGKILL)
            start = time.monotonic()
            wait_until(lambda: "replica-2" not in rows(driver, "prime"), TTL_MS / 1000 + 3,
                       what="replica-2 to leave when its lease expires")
            took = time.monotonic() - start
            print(f"SIGKILL: replica-2 left the page after {took:.2f} s (lease {TTL_MS} ms)")
            # Its last heartbeat was at most ttl/3 before the kill.
            assert took >= TTL_MS / 1000 * 2 / 3 - 0.3, f"left after only {took:.2f} s"
            expired = wait_until(lambda: event(driver, "expired", "replica-2"), 2.0,
                                 what="the expiry in the events")
            print(f"event: {expired}")
            assert "no heartbeat for" in expired, expired
            # The departure stays readable in the events, apart from the table.
            assert event(driver, "deregistered", "replica-3")
            assert driver.execute_script("return window.beaconMarker;") == 42, "page reloaded"

            # The lease countdown moves by itself.
            first = driver.find_element("css selector", "#instances td.lease-left").text
            wait_until(lambda: driver.find_element(
                "css selector", "#instances td.lease-left").text != first, 2.0,
                what="the lease countdown to move")

            after = screenshot.replace(".png", "-departures.png")
            assert driver.save_screenshot(after), "screenshot not saved"
            print(f"screenshot: {after}")
    finally:
        driver.quit()
    print("PASS")


if __name__ == "__main__":
    main()
