"""MLflow's UI in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, which `make test`
installs) driven through Selenium, on an MLflow server started on a pipeline's tracking store.

    python -m tests.support.browser --workdir workdir --out docs/screenshots

takes the README's screenshots of the four pages a user opens first (the experiment, the pretrain run's charts,
the registered model, a version) from the demo's store.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    for path in (CHROMIUM, DRIVER):
        if not shutil.which(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver; `make test` does)"
    import importlib.util
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


class Browser:
    def __init__(self, width: int = 1500, height: int = 1000):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--window-size={width},{height}", "--lang=en-US", "--no-first-run"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=options)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.driver.quit()

    def open(self, url: str, until_text: str, timeout: float = 60.0, until_css: str | None = None) -> str:
        """Load `url` and wait until the rendered page shows `until_text` (and an element matching `until_css`);
        returns the page's text."""
        self.driver.get(url)
        deadline = time.time() + timeout
        text = ""
        while time.time() < deadline:
            text = self.text()
            if until_text in text and (until_css is None or self.count(until_css)):
                time.sleep(1.0)          # let the rest of the page's requests land
                return self.text()
            time.sleep(0.5)
        raise AssertionError(f"{url} never showed {until_text!r}; it shows:\n{text[:3000]}")

    def text(self) -> str:
        from selenium.common.exceptions import WebDriverException
        try:
            return self.driver.find_element("tag name", "body").text
        except WebDriverException:
            return ""

    def count(self, css: str) -> int:
        return len(self.driver.find_elements("css selector", css))

    def elements_text(self, css: str) -> list[str]:
        return [e.text for e in self.driver.find_elements("css selector", css)]

    def close_assistant(self) -> None:
        """MLflow 3.17 opens its Assistant side panel on first visit; close it so the page has the width."""
        for b in self.driver.find_elements("css selector", "button[aria-label='Close'], button[aria-label='close']"):
            try:
                if b.is_displayed():
                    b.click()
            except Exception:
                pass

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path


def pages(tracking_uri: str, experiment: str, model: str, version: str | None = None) -> dict[str, str]:
    """The UI routes of the four pages: the experiment, the latest pipeline run's pretrain charts, the
    registered model, and a version (default: the latest)."""
    from mlflow import MlflowClient

    from components.contract.pages import TRAINING_VIEW

    client = MlflowClient(tracking_uri, tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    pretrain = client.search_runs([exp.experiment_id], "attributes.run_name = 'pretrain' and "
                                  "tags.cache_hit = 'false'", order_by=["attributes.start_time DESC"],
                                  max_results=1)[0]
    version = version or max(int(v.version) for v in client.search_model_versions(f"name='{model}'"))
    return {"experiment": f"#/experiments/{exp.experiment_id}?{TRAINING_VIEW}",
            "pretrain": f"#/experiments/{exp.experiment_id}/runs/{pretrain.info.run_id}/model-metrics?{TRAINING_VIEW}",
            "model": f"#/models/{model}?{TRAINING_VIEW}",
            "version": f"#/models/{model}/versions/{version}?{TRAINING_VIEW}"}


WAIT_FOR = {"experiment": "pipeline-", "pretrain": "Add chart", "model": "Promotion", "version": "KoBEST macro-F1"}
# a metric page's chart sections (train, eval, forward_time, ...)
SECTIONS = "[data-testid='experiment-view-compare-runs-section-header']"


def main(argv: list[str] | None = None) -> int:
    from .services import MlflowServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("workdir"))
    ap.add_argument("--experiment", default="polyglot-ko-demo")
    ap.add_argument("--model", default="polyglot-ko-demo")
    ap.add_argument("--version")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    a = ap.parse_args(argv)
    if (why := missing()):
        print(why, file=sys.stderr)
        return 2
    db = (a.workdir / "mlflow.db").resolve()
    server = MlflowServer(a.workdir.resolve() / "ui-server", backend=f"sqlite:///{db}").start()
    try:
        routes = pages(f"sqlite:///{db}", a.experiment, a.model, a.version)
        with Browser(1400, 1000) as b:
            for name, route in routes.items():
                b.open(f"{server.uri}/{route}", WAIT_FOR[name], until_css=SECTIONS if name == "pretrain" else None)
                b.close_assistant()
                time.sleep(2.0)
                print(b.screenshot(a.out / f"{name}.png"))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
