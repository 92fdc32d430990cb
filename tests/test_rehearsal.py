"""The cluster rehearsal (tests/support/rehearsal.py), one test per phase over one shared set of services: the
published 1.3B config at a tiny size, every Airflow pod and the TrainJob's node pods in real containers, the KFP
retraining pass on DockerRunner. A failure names its phase; the phases after it that need it are skipped, saying
which one failed. `make rehearsal PHASE=name` runs one phase and those it needs.

Why it is slow (about 8 minutes): every pod is a real container that starts the CLI, and the TrainJob trains, is
killed and resumes in containers; this is the only test of the images, pod specs and Secrets working together."""
import pytest

from tests.support.containers import engine_available
from tests.support.rehearsal import PhaseFailed, Rehearsal

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    why = engine_available()
    if why:
        pytest.skip(why)
    r = Rehearsal(tmp_path_factory.mktemp("rehearsal"))
    yield r
    r.close()


@pytest.mark.parametrize("phase", Rehearsal.PHASES)
def test_phase(rehearsal, phase):
    for need in Rehearsal.NEEDS[phase]:
        try:
            rehearsal.phase(need)
        except PhaseFailed as e:
            pytest.skip(f"needs phase {need}, which failed: {str(e)[:300]}")
    try:
        rehearsal.phase(phase)
    except PhaseFailed as e:
        pytest.fail(str(e), pytrace=False)
