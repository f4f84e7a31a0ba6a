"""`make run`: one supervisor (honcho) for the web server, a Celery worker, Celery beat and the demo.

    python -m devtools.run

Runs on the embedded defaults (SQLite and a filesystem broker under DRIFTWATCH_VAR_DIR) unless
DATABASE_URL / CELERY_BROKER_URL say otherwise. Unless DRIFTWATCH_DEMO=0 it also starts a local moto
AWS account on loopback and sets up the demo (devtools.demo). Ctrl-C (SIGINT) or SIGTERM stops every
process; one process exiting stops the others.
"""

from __future__ import annotations

import logging
import os
import queue
import shlex
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import django
import honcho.manager
from honcho.manager import Manager
from honcho.printer import Message, Printer

# Seconds between SIGTERM and SIGKILL. An idle prefork Celery worker needs about ten for its warm
# shutdown; honcho's default of five would always end it with SIGKILL.
honcho.manager.KILL_WAIT = 20
DEFAULT_PORT = 8000
DEFAULT_DEMO_AWS_PORT = 5005
# The demo account's credentials live only in the moto server's environment (and encrypted on the
# demo provider), never in the web/worker environment, so nothing can fall back to them by accident.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
}


class ConfigError(Exception):
    """A bad environment value; the message names the variable."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name} must be between 1 and 65535, got {value}")
    return value


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def port_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Supervisor(Manager):
    """honcho's Manager with an ordered stop: SIGTERM to the program (not its group), the demo AWS last.

    Its own loop() mirrors honcho's: one process exiting, SIGINT or SIGTERM stops them all; whatever is
    still running KILL_WAIT seconds later gets SIGKILL (to its whole process group).
    """

    def __init__(self, *args, after_start=None, stop_last=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._after_start = after_start
        # Stopped once everything else has: the worker's in-flight scans need the demo AWS to finish.
        self._stop_last = set(stop_last)
        self._last_signalled = False
        self._killed = False

    def _start(self):
        super()._start()
        # Started after the children are forked, so no fork happens while a thread holds a lock.
        if self._after_start is not None:
            self._after_start()

    def _sigterm(self, names) -> None:
        # The program only, not its process group: a prefork Celery worker must get the signal alone
        # to do a warm shutdown; pool children killed under it leave it hanging.
        for name in names:
            proc = self._processes[name]
            if "returncode" not in proc and proc.get("pid"):
                self._system_print(f"sending SIGTERM to {name} (pid {proc['pid']})\n")
                try:
                    os.kill(proc["pid"], signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def terminate(self):
        """Ask every process but the stop-last ones to stop."""
        if self._terminating:
            return
        self._terminating = True
        self._sigterm([name for name in self._processes if name not in self._stop_last])

    def _others_stopped(self) -> bool:
        return all("returncode" in p for name, p in self._processes.items() if name not in self._stop_last)

    def loop(self):
        """Start the processes, relay their output, and stop them all as described above."""

        def _on_signal(signum, frame):
            self._system_print(f"{honcho.manager.SIGNALS[signum]['name']} received\n")
            self.returncode = honcho.manager.SIGNALS[signum]["rc"]
            self.terminate()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        self._start()
        kill_at = None
        while True:
            try:
                msg = self.events.get(timeout=0.1)
            except queue.Empty:
                if self._all_started() and self._all_stopped():
                    break
                msg = None
            if msg is not None:
                if msg.type == "line":
                    self._printer.write(msg)
                elif msg.type == "start":
                    self._processes[msg.name]["pid"] = msg.data["pid"]
                    self._system_print(f"{msg.name} started (pid={msg.data['pid']})\n")
                elif msg.type == "stop":
                    self._processes[msg.name]["returncode"] = msg.data["returncode"]
                    self._system_print(f"{msg.name} stopped (rc={msg.data['returncode']})\n")
                    if self.returncode is None:
                        self.returncode = msg.data["returncode"]
            if not self._all_started():
                continue
            if not self._terminating and self._any_stopped():
                self.terminate()
            if self._terminating:
                kill_at = kill_at or time.monotonic() + honcho.manager.KILL_WAIT
                if not self._last_signalled and self._others_stopped():
                    self._last_signalled = True
                    self._sigterm(sorted(self._stop_last))
                if not self._killed and time.monotonic() > kill_at:
                    self._killed = True
                    self.kill()

    def say(self, name: str, text: str) -> None:
        """Print a line through honcho's printer, prefixed like a process's output."""
        # honcho's own clock: its printer formats the local, naive time of every line the same way.
        self.events.put(Message(type="line", data=text + "\n", time=self._clock.now(), name=name, colour=None))


def _commands(python: str, port: int, var_dir: str) -> dict[str, str]:
    py = shlex.quote(python)
    return {
        # exec: the supervised pid is the program itself, not a shell around it.
        "web": f"exec {py} manage.py runserver 127.0.0.1:{port} --noreload",
        "worker": f"exec {py} -m celery -A driftwatch worker --concurrency 2 -l info",
        "beat": f"exec {py} -m celery -A driftwatch beat -s {shlex.quote(var_dir + '/celerybeat-schedule')} -l info",
    }


@dataclass(frozen=True)
class RunConfig:
    """What the environment asks for: PORT and the DRIFTWATCH_DEMO* variables."""

    port: int
    demo: bool
    aws_port: int
    scale: int

    @classmethod
    def from_env(cls) -> RunConfig:
        return cls(
            port=_env_int("PORT", DEFAULT_PORT),
            demo=_env_flag("DRIFTWATCH_DEMO", True),
            aws_port=_env_int("DRIFTWATCH_DEMO_AWS_PORT", DEFAULT_DEMO_AWS_PORT),
            scale=_env_int("DRIFTWATCH_DEMO_SCALE", 1),
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"


def _must_start_moto(config: RunConfig) -> bool:
    """Whether the demo AWS account must be started (it may still run from a previous `make run`).

    ConfigError when the web port, or the demo AWS port, is taken by something else. Needs Django set up.
    """
    if not port_free(config.port):
        raise ConfigError(f"port {config.port} is in use on 127.0.0.1; set PORT to a free port")
    if not config.demo:
        return False
    from devtools.demo import is_moto

    if port_free(config.aws_port):
        return True
    if is_moto(config.aws_endpoint):
        return False
    raise ConfigError(
        f"port {config.aws_port} is in use and is not a moto server; set DRIFTWATCH_DEMO_AWS_PORT "
        "to a free port, or DRIFTWATCH_DEMO=0"
    )


class _SayHandler(logging.Handler):
    """A log handler that prints through the supervisor's printer, as the demo's lines."""

    def __init__(self, manager: Supervisor) -> None:
        super().__init__()
        self._manager = manager

    def emit(self, record: logging.LogRecord) -> None:
        self._manager.say("demo", self.format(record))


def _log_through(manager: Supervisor) -> None:
    """The supervisor's own log lines (the demo's scans) go through honcho's printer too."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        replacement = _SayHandler(manager)
        replacement.setFormatter(handler.formatter)
        for log_filter in handler.filters:
            replacement.addFilter(log_filter)
        root.removeHandler(handler)
        root.addHandler(replacement)


def _demo_thread(manager: Supervisor, config: RunConfig, stop: threading.Event) -> None:
    """Run the demo; a failure is printed and leaves the services running."""
    from django.db import connections

    from devtools.demo import DemoError, run_demo

    try:
        run_demo(
            config.aws_endpoint,
            base_url=config.base_url,
            say=lambda text: manager.say("demo", text),
            stop=stop,
            scale=config.scale,
        )
    except DemoError as exc:
        if not stop.is_set():
            manager.say("demo", f"demo failed: {exc}")
    except Exception:  # the services keep running; the reason is printed for the person at the terminal
        if not stop.is_set():
            manager.say("demo", "demo failed:\n" + traceback.format_exc())
    finally:
        connections.close_all()


def _supervisor(config: RunConfig, start_moto: bool, stop: threading.Event, base_dir: str, var_dir: str) -> Supervisor:
    """web, worker, beat and, when start_moto, the demo AWS account under one Supervisor.

    With the demo on, its thread starts once the processes are forked.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1", PORT=str(config.port), DRIFTWATCH_VAR_DIR=var_dir)

    def start_demo() -> None:
        threading.Thread(target=_demo_thread, args=(manager, config, stop), name="demo", daemon=True).start()

    manager = Supervisor(Printer(sys.stdout), after_start=start_demo if config.demo else None, stop_last=["aws"])
    _log_through(manager)
    for name, command in _commands(sys.executable, config.port, var_dir).items():
        manager.add_process(name, command, env=env, cwd=base_dir)
    if start_moto:
        moto_env = {k: v for k, v in env.items() if not k.startswith("AWS_")} | MOTO_ENV
        command = f"exec {shlex.quote(sys.executable)} -m devtools.run moto {config.aws_port}"
        manager.add_process("aws", command, env=moto_env)
    if not config.demo:
        manager.say("system", f"DriftWatch on {config.base_url}/admin/ (demo off)")
    return manager


def main() -> int:
    """Migrate, start every process under one supervisor, run the demo, and wait for Ctrl-C."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftwatch.settings")
    try:
        config = RunConfig.from_env()
        django.setup()
        start_moto = _must_start_moto(config)
    except ConfigError as exc:
        print(f"devtools.run: {exc}", file=sys.stderr)
        return 2

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    # A second run finds everything migrated; this costs a few hundred milliseconds.
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()  # no connection may be shared with the forked children

    stop = threading.Event()
    manager = _supervisor(config, start_moto, stop, base_dir=str(settings.BASE_DIR), var_dir=str(settings.VAR_DIR))
    try:
        manager.loop()
    finally:
        stop.set()
    # Stopped by Ctrl-C or SIGTERM is a clean stop; otherwise the code of the process that exited first.
    return 0 if manager.returncode in (130, 143) else (manager.returncode or 0)


def serve_moto(port: int) -> None:
    """The demo AWS account: moto in server mode on loopback, without one log line per request."""
    import logging

    from moto.server import main as moto_main

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"demo AWS account (moto) on http://127.0.0.1:{port}", flush=True)
    moto_main(["-H", "127.0.0.1", "-p", str(port)])


if __name__ == "__main__":
    if sys.argv[1:2] == ["moto"]:
        serve_moto(int(sys.argv[2]))
    else:
        sys.exit(main())
