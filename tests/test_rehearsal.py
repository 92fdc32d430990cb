"""The cluster rehearsal (tests/support/rehearsal.py), one test per phase: the published 1.3B config at a tiny
size, every Airflow pod and the TrainJob's node pods in real containers, the KFP retraining pass on DockerRunner,
against S3, PostgreSQL and an MLflow container on loopback. The rehearsal runs as a process of its own, started
when the test session starts (`rehearsal` in conftest.py), so its containers run while the other tests do; each
test here waits for its phase's result. A failure names its phase; a phase that needs a failed one is skipped,
saying which. `make rehearsal PHASE=name` runs one phase (and those it needs) in the foreground.

Why it is slow (about 8 minutes, most of it beside the other tests): every pod is a container that starts the CLI,
and the TrainJob trains, is killed and resumes in containers; it is the one test of the image, the rendered pod
specs, the Secrets and the services working together."""
import pytest

from tests.support.rehearsal import Rehearsal

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("phase", Rehearsal.PHASES)
def test_phase(rehearsal, phase):
    result = rehearsal.result(phase)
    print(f"phase {phase}: {result['status']} in {result['seconds']:.0f} s")
    if result["status"] == "skipped":
        pytest.skip(result["detail"])
    if result["status"] != "passed":
        pytest.fail(f"rehearsal phase {phase} failed: {result['detail']}", pytrace=False)


@pytest.fixture
def rehearsal(rehearsal):
    """The background rehearsal conftest.py started (None where containers cannot run here)."""
    from tests.support.containers import engine_available

    if rehearsal is None:
        pytest.skip(engine_available() or "no .venv-airflow (`make test` creates it)")
    return rehearsal
