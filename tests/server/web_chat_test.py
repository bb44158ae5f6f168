#!/usr/bin/env python3
"""The web chat of `r1 serve`, end to end in headless Chromium driven by Selenium.

    web_chat_test.py R1_BINARY                      start `R1_BINARY serve` on a free loopback port
    web_chat_test.py --url URL --api-key KEY        use a server that is already running

With R1_BINARY the test serves the default model and tests/server/approval-agent.yaml (a
calculator whose calls wait for approval) behind an API key, then in the browser:
  1. a wrong key: the page says the server refused it (401);
  2. the right key: models and the agent are listed; the key survives a reload (localStorage);
     a chat request with a revoked key shows the 401 error inside the conversation;
  3. the model, thinking opened with a budget: reasoning streams into an open block that
     collapses once done, the answer streams below it, usage shows the reasoning tokens;
  4. the agent: its calculator call shows as a card with the arguments and Approve / Deny
     buttons; Approve is clicked; the card shows the decision, status ok and the result, and the
     final answer follows; a second question continues the session, and Deny is shown as denied;
  5. a 390 px wide window: nothing overflows sideways and Send is on screen.
Every wait is bounded; the server is stopped at the end. Exit 0 on pass, 1 on failure (with
what was on the page, the browser's console and the server's log), 77 when Chromium or its
driver is not installed.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from serve_helpers import Server  # noqa: E402  (starts and stops `r1 serve`)

AGENT_YAML = os.path.join(HERE, "approval-agent.yaml")
AGENT_NAME = "approval-agent"
API_KEY = "web-chat-test-key"
START_TIMEOUT_S = 120   # the server answers /health
LIST_TIMEOUT_S = 30     # models and agents listed, 401 shown
ANSWER_TIMEOUT_S = 240  # a streamed reply finishes (2 shared cores)


class Failure(Exception):
    pass


def wait_for_health(url):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise Failure(f"{url}/health did not answer within {START_TIMEOUT_S} s")


def server_args(tmp):
    """`r1 serve` arguments: the approval agent (its database in `tmp`) and one API key."""
    with open(AGENT_YAML) as f:
        spec = f.read()
    spec = spec.replace("~/.local/share/r1/web-chat-test.db", os.path.join(tmp, "agents.db"))
    agent = os.path.join(tmp, "approval-agent.yaml")
    with open(agent, "w") as f:
        f.write(spec)
    keys = os.path.join(tmp, "api-keys")
    with open(keys, "w") as f:
        f.write(API_KEY + "\n")
    return ["--host", "127.0.0.1", "--api-keys", keys, "--agent", agent,
            "--embedding-model", "none", "--slots", "2", "-c", "2048", "-t", "2"]


def find_browser():
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    return browser, driver


def open_browser(browser, driver, tmp):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise Failure("Python package selenium is missing: python3 -m pip install selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,900", f"--user-data-dir={os.path.join(tmp, 'profile')}",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=driver, log_output=os.path.join(tmp, "chromedriver.log"))
    d = webdriver.Chrome(service=service, options=options)
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    return d


def wait_until(driver, seconds, what, condition):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    # An element the page replaced while the condition looked at it: look again next poll.
    wait = WebDriverWait(driver, seconds, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,))
    try:
        return wait.until(lambda d: condition(d))
    except TimeoutException:
        raise Failure(f"timed out after {seconds} s waiting for {what}")


def text_of(element):
    return element.get_attribute("textContent") or ""


def option_values(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#target option')].map(o => o.value)")


# Records how the last assistant message grows, to tell a streamed reply from one set at once:
# each change of the answer or the reasoning is logged with the reasoning block's open state.
RECORD_JS = """
window.r1Record = {answer: [], reasoning: []};
const observer = new MutationObserver(() => {
  const turns = document.querySelectorAll('#messages .message.assistant');
  const turn = turns[turns.length - 1];
  if (!turn) return;
  const answer = turn.querySelector('.answer').textContent.length;
  const a = window.r1Record.answer;
  if (a[a.length - 1] !== answer) a.push(answer);
  const details = turn.querySelector('details.reasoning');
  if (details) {
    const n = details.querySelector('.reasoning-text').textContent.length;
    const r = window.r1Record.reasoning;
    if (!r.length || r[r.length - 1].n !== n) r.push({n, open: details.open});
  }
});
observer.observe(document.getElementById('messages'),
                 {subtree: true, childList: true, characterData: true});
"""


def last_turn(driver):
    from selenium.webdriver.common.by import By
    turns = driver.find_elements(By.CSS_SELECTOR, "#messages .message.assistant")
    return turns[-1] if turns else None


def turn_finished(driver):
    turn = last_turn(driver)
    return turn is not None and "streaming" not in (turn.get_attribute("class") or "")


def turn_errors(turn):
    from selenium.webdriver.common.by import By
    return [text_of(e) for e in turn.find_elements(By.CSS_SELECTOR, ".error")]


def send_prompt(driver, text):
    from selenium.webdriver.common.by import By
    prompt = driver.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys(text)
    driver.find_element(By.ID, "send").click()


def pick_target(driver, value):
    from selenium.webdriver.support.ui import Select
    from selenium.webdriver.common.by import By
    Select(driver.find_element(By.ID, "target")).select_by_value(value)


def check_wrong_key_and_listing(driver, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    driver.get(url + "/")
    wait_until(driver, LIST_TIMEOUT_S, "the page to load its script",
               lambda d: d.execute_script("return document.readyState") == "complete")
    key = driver.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys("not-the-key", Keys.TAB)
    status = driver.find_element(By.ID, "status")
    wait_until(driver, LIST_TIMEOUT_S, "the page to report the refused key (401)",
               lambda d: "401" in text_of(status) and status.is_displayed())
    print("wrong key:", text_of(status)[:120])

    key.clear()
    key.send_keys(API_KEY, Keys.TAB)
    wait_until(driver, LIST_TIMEOUT_S, "the model and the agent to be listed",
               lambda d: any(v.startswith("model:") for v in option_values(d)) and
               f"agent:{AGENT_NAME}" in option_values(d))
    if status.is_displayed():
        raise Failure("the 401 message stayed after the right key was entered: " + text_of(status))

    driver.refresh()
    key = driver.find_element(By.ID, "api-key")
    wait_until(driver, LIST_TIMEOUT_S, "the key to come back from localStorage after a reload",
               lambda d: key.get_attribute("value") == API_KEY)
    wait_until(driver, LIST_TIMEOUT_S, "the targets to be listed again after the reload",
               lambda d: f"agent:{AGENT_NAME}" in option_values(d))
    models = [v for v in option_values(driver) if v.startswith("model:")]
    print("targets:", option_values(driver))
    return models[0]


def check_inline_error(driver, model_value):
    """A request the server refuses shows its error inside the conversation."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    pick_target(driver, model_value)
    key = driver.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys("revoked-key", Keys.TAB)
    wait_until(driver, LIST_TIMEOUT_S, "the page to report the refused key again",
               lambda d: "401" in text_of(d.find_element(By.ID, "status")))
    if driver.find_element(By.ID, "target").get_attribute("value") != model_value:
        raise Failure("a failed listing dropped the models that were listed before")
    send_prompt(driver, "Hello?")
    wait_until(driver, LIST_TIMEOUT_S, "the refused request to finish", turn_finished)
    errors = turn_errors(last_turn(driver))
    if not errors or "401" not in errors[0]:
        raise Failure(f"the refused chat request shows no 401 error in the conversation: {errors}")
    print("inline error:", errors[0][:100])
    key.clear()
    key.send_keys(API_KEY, Keys.TAB)
    wait_until(driver, LIST_TIMEOUT_S, "the status to clear with the right key",
               lambda d: not d.find_element(By.ID, "status").is_displayed())
    driver.find_element(By.ID, "new-chat").click()


def check_model_chat(driver, model_value):
    from selenium.webdriver.common.by import By
    pick_target(driver, model_value)
    driver.find_element(By.CSS_SELECTOR, "details.options summary").click()
    driver.find_element(By.ID, "enable-thinking").click()
    budget = driver.find_element(By.ID, "thinking-budget")
    budget.clear()
    budget.send_keys("32")
    max_tokens = driver.find_element(By.ID, "max-tokens")
    max_tokens.clear()
    max_tokens.send_keys("96")
    driver.execute_script(RECORD_JS)
    send_prompt(driver, "What is 12 plus 30?")
    wait_until(driver, ANSWER_TIMEOUT_S, "the model's streamed reply to finish", turn_finished)
    turn = last_turn(driver)
    errors = turn_errors(turn)
    if errors:
        raise Failure("the model's reply shows an error: " + " | ".join(errors))
    answer = text_of(turn.find_element(By.CSS_SELECTOR, ".answer")).strip()
    if not answer:
        raise Failure("the model's answer is empty")
    blocks = turn.find_elements(By.CSS_SELECTOR, "details.reasoning")
    if len(blocks) != 1:
        raise Failure(f"expected one reasoning block with thinking opened, found {len(blocks)}")
    reasoning = text_of(blocks[0].find_element(By.CSS_SELECTOR, ".reasoning-text")).strip()
    if not reasoning:
        raise Failure("the reasoning block is empty")
    if blocks[0].get_attribute("open") is not None:
        raise Failure("the reasoning block is still open after the reply finished")
    record = driver.execute_script("return window.r1Record")
    if len(record["answer"]) < 3:
        raise Failure(f"the answer did not stream: its length changed only {record['answer']}")
    if len(record["reasoning"]) < 2 or not record["reasoning"][0]["open"]:
        raise Failure(f"the reasoning did not stream into an open block: {record['reasoning']}")
    usage = text_of(turn.find_element(By.CSS_SELECTOR, ".usage"))
    if "reasoning" not in usage:
        raise Failure(f"usage does not show reasoning tokens: {usage!r}")
    print(f"model: {len(record['reasoning'])} reasoning updates, {len(record['answer'])} answer "
          f"updates; usage: {usage}")
    print("  reasoning:", reasoning[:100].replace("\n", " "))
    print("  answer:", answer[:100].replace("\n", " "))


def check_agent_approval(driver):
    from selenium.webdriver.common.by import By
    pick_target(driver, f"agent:{AGENT_NAME}")
    if driver.find_elements(By.CSS_SELECTOR, "#messages .message"):
        raise Failure("switching to the agent did not start a new conversation")
    send_prompt(driver, "What is 1234 * 5678?")
    wait_until(driver, ANSWER_TIMEOUT_S, "the approval card's Approve button",
               lambda d: any(b.is_displayed() for b in d.find_elements(By.CSS_SELECTOR, ".tool-card .approve")))
    card = driver.find_element(By.CSS_SELECTOR, ".tool-card")
    name = text_of(card.find_element(By.CSS_SELECTOR, ".tool-name"))
    args = text_of(card.find_element(By.CSS_SELECTOR, ".tool-args"))
    if name != "calculator":
        raise Failure(f"the tool card names {name!r}, not the calculator")
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError:
        raise Failure(f"the card's arguments are not the call's JSON: {args!r}")
    if not isinstance(parsed.get("expression"), str):
        raise Failure(f"the calculator call has no expression: {args!r}")
    if card.get_attribute("data-status") != "waiting" or not card.find_elements(By.CSS_SELECTOR, ".deny"):
        raise Failure("the card does not show a waiting call with a Deny button")
    if turn_finished(driver):
        raise Failure("the run ended before the call was approved")
    print("approval card:", name, args.replace("\n", " "))

    card.find_element(By.CSS_SELECTOR, ".approve").click()
    wait_until(driver, ANSWER_TIMEOUT_S, "the agent's run to finish after the approval", turn_finished)
    turn = last_turn(driver)
    errors = turn_errors(turn)
    if errors:
        raise Failure("the agent's reply shows an error: " + " | ".join(errors))
    decision = card.find_elements(By.CSS_SELECTOR, ".decision")
    if not decision or "approved" not in text_of(decision[0]):
        raise Failure("the card does not show that the call was approved")
    if card.get_attribute("data-status") != "ok":
        raise Failure(f"the tool card's status is {card.get_attribute('data-status')!r}, not ok")
    result = text_of(card.find_element(By.CSS_SELECTOR, ".tool-result-text")).strip()
    if not result:
        raise Failure("the tool card shows no result")
    answer = text_of(turn.find_element(By.CSS_SELECTOR, ".answer")).strip()
    if not answer:
        raise Failure("the agent's final answer is empty")
    if not turn.get_attribute("data-session-id"):
        raise Failure("the final event's session_id was not kept")
    session = turn.get_attribute("data-session-id")
    print(f"agent: result {result[:60]!r}; answer {answer[:80]!r}; session {session}")
    return session


def check_agent_session_and_deny(driver, session):
    """A second question continues the session; a denied call is shown as denied."""
    from selenium.webdriver.common.by import By
    send_prompt(driver, "And what is 7006652 + 1?")
    wait_until(driver, ANSWER_TIMEOUT_S, "the second run to start", lambda d: len(
        d.find_elements(By.CSS_SELECTOR, "#messages .message.assistant")) == 2)

    def deny_until_done(d):
        # The model may call again after a denial; every call of this run is denied.
        for button in d.find_elements(By.CSS_SELECTOR, ".message.streaming .tool-card .deny"):
            if button.is_displayed() and button.is_enabled():
                button.click()
        return turn_finished(d)

    wait_until(driver, ANSWER_TIMEOUT_S, "the second run to finish with its calls denied", deny_until_done)
    turn = last_turn(driver)
    if turn.get_attribute("data-session-id") != session:
        raise Failure(f"the second run did not continue session {session}: "
                      f"{turn.get_attribute('data-session-id')}")
    cards = turn.find_elements(By.CSS_SELECTOR, ".tool-card")
    if not cards:
        raise Failure("the second run made no tool call to deny")
    for card in cards:
        decision = card.find_elements(By.CSS_SELECTOR, ".decision")
        if card.get_attribute("data-status") != "denied" or not decision or \
                "denied" not in text_of(decision[0]):
            raise Failure(f"a denied call's card shows status {card.get_attribute('data-status')!r}")
    print(f"agent, second question: session kept, {len(cards)} call(s) denied")


def check_narrow_window(driver):
    from selenium.webdriver.common.by import By
    driver.set_window_size(390, 844)
    wait_until(driver, 10, "the window to narrow", lambda d: d.execute_script("return window.innerWidth") <= 400)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        raise Failure(f"at 390 px the page is {overflow} px wider than the window")
    send = driver.find_element(By.ID, "send")
    right = driver.execute_script("return arguments[0].getBoundingClientRect().right", send)
    if not send.is_displayed() or right > driver.execute_script("return window.innerWidth"):
        raise Failure("at 390 px the Send button is off screen")
    print("narrow window: no sideways overflow, Send on screen")


def dump_page(driver):
    try:
        text = driver.execute_script("return document.body.innerText")
        print("---- page text ----\n" + text[-3000:], file=sys.stderr)
        for entry in driver.get_log("browser")[-20:]:
            print("console:", entry.get("level"), entry.get("message"), file=sys.stderr)
    except Exception as err:  # the browser may be gone
        print(f"(could not read the page: {err})", file=sys.stderr)


def main():
    global API_KEY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("r1", nargs="?", help="the r1 binary to start as `r1 serve`")
    parser.add_argument("--url", help="a running server instead (http://127.0.0.1:PORT)")
    parser.add_argument("--api-key", default=API_KEY, help="its API key (with --url)")
    args = parser.parse_args()
    if not args.r1 and not args.url:
        parser.error("give the r1 binary or --url")

    browser, driver_path = find_browser()
    if not browser or not driver_path:
        print("SKIP: Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
        return 77

    API_KEY = args.api_key
    server, driver = None, None
    tmp = tempfile.mkdtemp(prefix="r1-web-chat-")
    try:
        if args.url:
            url = args.url.rstrip("/")
        else:
            # An empty R1_API_KEYS adds no key: only the test's key opens the server.
            server = Server(os.path.abspath(args.r1), server_args(tmp), env={"R1_API_KEYS": ""},
                            timeout=START_TIMEOUT_S)
            try:
                server.__enter__()
            except RuntimeError as err:  # it exited or never listened; the message has its log
                raise Failure(str(err))
            url = server.url
        wait_for_health(url)
        driver = open_browser(browser, driver_path, tmp)
        model = check_wrong_key_and_listing(driver, url)
        check_inline_error(driver, model)
        check_model_chat(driver, model)
        session = check_agent_approval(driver)
        check_agent_session_and_deny(driver, session)
        check_narrow_window(driver)
    except Exception as err:  # a Failure, or the browser or its driver giving up
        message = str(err) if isinstance(err, Failure) else f"{type(err).__name__}: {err}"
        print(f"FAIL: {message}", file=sys.stderr)
        if driver is not None:
            dump_page(driver)
        if server is not None and server.port is not None:
            print("---- server log ----\n" + "".join(server.log().splitlines(True)[-40:]), file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                pass
        if server is not None:
            server.stop()
            if server.log_path:
                os.remove(server.log_path)
        shutil.rmtree(tmp, ignore_errors=True)
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
