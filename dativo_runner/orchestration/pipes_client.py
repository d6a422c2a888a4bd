"""Running one job from Dagster: ``dativo run --config F`` as a Dagster Pipes subprocess.

The CLI is the only runner: Dagster launches it with Pipes' bootstrap environment, it reports its
log lines, materialization, check and outcome back (``dativo_runner.pipes_report``). When Dagster
stops the run (UI terminate, SIGTERM/SIGINT to the run worker), the interrupt is forwarded as
SIGTERM: the runner stops the target first, so nothing is committed that its state does not cover.
Unlike Dagster's stock ``PipesSubprocessClient``, exit code 1 (partial success) is not a failure:
its materialization and failed WARN check are kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import (
    DagsterExecutionInterruptedError,
    PipesClient,
    PipesTempFileContextInjector,
    PipesTempFileMessageReader,
    open_pipes_session,
)

from dativo_runner.errors import EXIT_OK, EXIT_PARTIAL
from dativo_runner.pipes_report import OUTCOME_MESSAGE

STOP_TIMEOUT_SECONDS = 60.0


@dataclass
class DativoRunOutcome:
    """How one `dativo run` ended, as its Pipes messages and exit code tell."""

    exit_code: int
    results: list[Any] = field(default_factory=list)
    status: str = "failed"
    error: str | None = None

    @property
    def landed(self) -> bool:
        """Exit 0 or 1: the run's data is in the table."""
        return self.exit_code in (EXIT_OK, EXIT_PARTIAL)


class DativoPipesClient(PipesClient):
    """Launches `dativo run` for one job file under a Dagster Pipes session."""

    def __init__(
        self,
        home: Path,
        *,
        state_dir: Path | None = None,
        secrets_dir: Path | None = None,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self.home = home
        self.state_dir = state_dir
        self.secrets_dir = secrets_dir
        self.stop_timeout = stop_timeout

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    def command(self, job_file: Path, partition: str | None = None) -> list[str]:
        """``dativo run --config F --home H [--partition K] [--state-dir S] [--secrets-dir D]``."""
        cmd = [
            sys.executable,
            "-m",
            "dativo_runner",
            "run",
            "--config",
            str(job_file),
            "--home",
            str(self.home),
        ]
        if partition is not None:
            cmd += ["--partition", partition]
        if self.state_dir is not None:
            cmd += ["--state-dir", str(self.state_dir)]
        if self.secrets_dir is not None:
            cmd += ["--secrets-dir", str(self.secrets_dir)]
        return cmd

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        job_file: Path,
        partition: str | None = None,
        extras: dict[str, Any] | None = None,
    ) -> DativoRunOutcome:
        """Run the job (or one partition of it) to its end and return its outcome (never raises
        for exit 1 or 2)."""
        return self.run_command(context=context, command=self.command(job_file, partition), extras=extras)

    def run_command(
        self,
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        command: Sequence[str],
        extras: dict[str, Any] | None = None,
    ) -> DativoRunOutcome:
        """Run ``command`` (a `dativo run`) under a Pipes session."""
        with open_pipes_session(
            context=context,
            context_injector=PipesTempFileContextInjector(),
            message_reader=PipesTempFileMessageReader(),
            extras=extras,
        ) as session:
            env = {**os.environ, "DATIVO_HOME": str(self.home), **session.get_bootstrap_env_vars()}
            process = subprocess.Popen(list(command), cwd=self.home, env=env)
            try:
                process.wait()
            except (DagsterExecutionInterruptedError, KeyboardInterrupt):
                context.log.warning("run stopped: sending SIGTERM to dativo run (it stops the target first)")
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                raise
        outcome = DativoRunOutcome(exit_code=process.returncode, results=list(session.get_results()))
        for message in session.get_custom_messages():
            if isinstance(message, dict) and message.get("kind") == OUTCOME_MESSAGE:
                outcome.status = str(message.get("status") or outcome.status)
                outcome.error = message.get("error")
        if outcome.error is None and not outcome.landed:
            outcome.error = f"dativo: error: dativo run exited with code {process.returncode}"
        return outcome
