"""`make drills` (`python -m tests.support.run_drills`): every failure drill against real servers on loopback, and
the table."""
import sys
import tempfile
from pathlib import Path

from . import drills
from .services import ACCESS_KEY, SECRET_KEY, SeaweedS3


def main() -> int:
    import os
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        s3 = SeaweedS3(work / "s3").start()
        s3.client().create_bucket(Bucket="artifacts")
        os.environ.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                          AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=s3.endpoint)
        try:
            expected = drills.baseline(work)
            results = [drills.s3_outage_mid_stage(work, s3, expected), drills.s3_stays_down(work, s3, expected),
                       drills.worker_killed_mid_shard(work, expected), drills.concurrent_runs(work, expected),
                       drills.disk_full(work)]
            weights = drills.training_baseline(work)
            results += [drills.s3_outage_during_checkpoint_upload(work, s3, weights),
                        drills.killed_mid_checkpoint(work, weights),
                        drills.mlflow_restart_during_training(work, weights)]
        finally:
            s3.stop()
    print(drills.table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
