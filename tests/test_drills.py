"""The failure drills (tests/drills.py) as tests: each must end with nothing lost or a clear failure."""
import pytest

from tests.support import drills

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def expected(_s3_server, tmp_path_factory):
    """The undisturbed run's corpus digests, the drills' reference."""
    from tests.support.services import s3_env

    with s3_env(_s3_server):
        return drills.baseline(tmp_path_factory.mktemp("drills"))


def _check(d: drills.Drill) -> None:
    print(drills.table([d]))
    if not d.ran:
        pytest.skip(f"{d.name}: {d.outcome}")
    assert d.ok, d


def test_s3_outage_in_the_middle_of_a_corpus_stage(s3, expected, tmp_path):
    # 8 s: past the first retries of every request in flight (`make drills` takes 15 s for the README's table)
    _check(drills.s3_outage_mid_stage(tmp_path, s3, expected, outage_s=8))


def test_s3_staying_down_fails_clearly_and_a_rerun_completes(s3, expected, tmp_path):
    _check(drills.s3_stays_down(tmp_path, s3, expected))


def test_a_run_killed_mid_stage_reruns_to_the_same_bytes(s3, expected, tmp_path):
    _check(drills.worker_killed_mid_shard(tmp_path, expected))


def test_two_runs_of_the_same_config_at_once_converge(s3, expected, tmp_path):
    _check(drills.concurrent_runs(tmp_path, expected))


def test_disk_full_fails_clearly_and_publishes_nothing(tmp_path):
    _check(drills.disk_full(tmp_path))


def test_a_drill_that_cannot_make_its_fault_does_not_pass(tmp_path):
    d = drills.disk_full(tmp_path, size="not-a-size")     # the mount itself fails
    assert not d.ran and not d.ok and d.outcome.startswith("not run")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, training_reference):
    return tmp_path_factory.mktemp("train-drills"), training_reference.weights


def test_training_killed_mid_checkpoint_resumes_from_the_previous_one(trained):
    work, weights = trained
    _check(drills.killed_mid_checkpoint(work, weights))


def test_mlflow_restart_during_training_loses_and_duplicates_no_metric(trained):
    work, weights = trained
    _check(drills.mlflow_restart_during_training(work, weights))


def test_s3_outage_during_checkpoint_uploads(s3, trained):
    work, weights = trained
    _check(drills.s3_outage_during_checkpoint_upload(work, s3, weights, outage_s=8))
