"""What the tests share: real services on loopback, stand-ins for the APIs that cannot run here, containers, the
drills, the rehearsal's phases and the helpers that run stages. Imported as `tests.support.<module>`."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
