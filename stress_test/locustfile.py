"""Locust stress test of the image classifier, the way users of the original Flask ML API used it.

One kind of user: opens the upload page, posts images to /predict (three times as often), and now
and then reports a wrong prediction through /feedback; between actions it thinks 1 to 5 seconds.

    python3 -m locust -f stress_test/locustfile.py --headless -u 5 -r 5 -t 10s --host http://127.0.0.1:8080

Images come from the folder in STRESS_IMAGES (default: tests/fixtures/images; its deliberately broken
corrupt.jpg and truncated.jpg are skipped). Works with Debian's python3-locust (2.12) and newer.
Note: every /feedback task stores a report unless an identical one is stored already; point the
service's FEEDBACK_DIR at a throwaway folder when the reports matter.
"""

import os
import random
from pathlib import Path

from locust import HttpUser, between, task

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = Path(os.environ.get("STRESS_IMAGES") or ROOT / "tests" / "fixtures" / "images")
# Fixtures that are broken on purpose: they test the error paths, not the load.
SKIP = {"corrupt.jpg", "truncated.jpg"}
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def load_images():
    """Reads every usable image once, so the users only send bytes already in memory."""
    if not IMAGES_DIR.is_dir():
        raise SystemExit(f"locustfile: image folder {IMAGES_DIR} does not exist (set STRESS_IMAGES)")
    images = []
    for path in sorted(IMAGES_DIR.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None or path.name in SKIP:
            continue
        images.append((path.name, path.read_bytes(), content_type))
    if not images:
        raise SystemExit(f"locustfile: no png/jpg/jpeg/gif/webp image in {IMAGES_DIR}")
    return images


IMAGES = load_images()


def error_code(response):
    """The service's error code (QUEUE_FULL, DEADLINE_EXCEEDED...) when the body carries one."""
    try:
        return ((response.json() or {}).get("error") or {}).get("code")
    except ValueError:
        return None


class ClassifierUser(HttpUser):
    """A person using the upload page and the /predict API of the original service."""

    wait_time = between(1, 5)

    def on_start(self):
        # The last prediction this user saw: what its feedback reports, as the original page did.
        self.last = None

    @task(1)
    def index(self):
        self.client.get("/", name="GET /")

    @task(3)
    def predict(self):
        name, data, content_type = random.choice(IMAGES)
        with self.client.post(
            "/predict",
            files={"file": (name, data, content_type)},
            name="POST /predict",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                code = error_code(response)
                response.failure(f"HTTP {response.status_code}" + (f" {code}" if code else ""))
                return
            try:
                body = response.json()
            except ValueError:
                response.failure("answer is not JSON")
                return
            if body.get("success") is not True:
                response.failure("success is not true")
                return
            self.last = (name, body.get("prediction"), body.get("score"))
            response.success()

    @task(1)
    def feedback(self):
        if self.last is None:
            # A report names a prediction the user saw: one made up would be stored as a real report.
            self.predict()
            return
        name, prediction, score = self.last
        # The original page's hidden report: a Python-dict-looking line, parsed by reviewers' scripts.
        report = "{'filename': '%s', 'prediction': '%s', 'score': %s }" % (name, prediction, score)
        self.client.post("/feedback", data={"report": report}, name="POST /feedback")
