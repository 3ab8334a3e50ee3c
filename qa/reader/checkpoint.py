"""A training run's state on disk, so that a run stopped anywhere (the session ends, the machine
is handed back, ``--stop-after``) goes on from where it was with the same command.

The work folder (``--work``) holds ``checkpoint.pt`` — the model's, the optimiser's and the
schedule's state, the random generators' states, the step reached, the plan's length and the time
spent; tensors and plain values only, loaded with ``weights_only=True`` (nothing is unpickled) —
written to a temporary file and renamed, so a run killed while saving leaves the previous one
whole; and ``log.jsonl``, the held-out scores, a line per point. Used by both reader trainers
(:mod:`qa.reader.training`, :mod:`qa.reader.sentence_training`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class Checkpoint:
    """The state of one training run in ``work``; ``steps`` is the length of its plan."""

    def __init__(self, work: Path, steps: int, restart: bool = False):
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.file = self.work / "checkpoint.pt"
        self.log_file = self.work / "log.jsonl"
        self.steps = steps
        self.restart = restart
        self.elapsed = 0.0  #: seconds spent by earlier runs
        self._t0 = time.time()

    def resume(self, model, optimiser, schedule, device, say=lambda m: print(m, file=sys.stderr)) -> int:
        """Load the saved state into the model, optimiser and schedule; the step to start from (0
        when there is nothing to resume, ``restart`` was asked, or the checkpoint is of a plan that
        this one does not extend). A plan of the same seed that is longer shares the saved run's
        first steps, so a longer run goes on from a shorter one."""
        import torch

        if self.restart:
            self.log_file.unlink(missing_ok=True)
        if not self.file.exists() or self.restart:
            return 0
        state = torch.load(self.file, map_location=device, weights_only=True)
        if state.get("steps") != self.steps and int(state["step"]) >= self.steps:
            say("checkpoint is of another plan: starting afresh (use --restart to silence this)")
            self.log_file.unlink(missing_ok=True)
            return 0
        if state.get("steps") != self.steps:  # plans of one seed share their first steps
            say(f"the checkpoint's plan had {state.get('steps')} steps; going on with {self.steps}")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        if "rng" in state:
            torch.set_rng_state(state["rng"].cpu())
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        self.elapsed = float(state["elapsed"])
        start = int(state["step"])
        say(f"resumed at step {start} of {self.steps}")
        return start

    def save(self, model, optimiser, schedule, step: int) -> None:
        """Write the state reached after ``step`` steps (atomically: a temporary file, then a rename)."""
        import torch

        state = {"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                 "schedule": schedule.state_dict(), "step": step, "steps": self.steps,
                 "elapsed": self.minutes() * 60, "rng": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state()
        tmp = self.file.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.file)

    def minutes(self) -> float:
        """Training time so far, this run and the earlier ones together."""
        return (self.elapsed + time.time() - self._t0) / 60

    def log(self, point: dict) -> None:
        """Append one held-out score to ``log.jsonl``."""
        with open(self.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(point) + "\n")

    def curve(self) -> list[dict]:
        """Every point logged, earlier runs' included."""
        if not self.log_file.exists():
            return []
        return [json.loads(line) for line in self.log_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def stopped(result: dict) -> bool:
    """Whether a trainer's run stopped before the end of its plan (``--stop-after``); says so."""
    if result.get("done", True):
        return False
    print(f"stopped at step {result['reached']} of {result['steps']}, saved in the work folder: the same command "
          "goes on from there", file=sys.stderr)
    return True
