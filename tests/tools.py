"""Run a tool of ``tools/`` in the test process: its ``main()`` with ``sys.argv`` set, which
spares the seconds of imports a subprocess pays (the tools' own tests keep a subprocess run)."""
import os
import runpy
import sys
from types import SimpleNamespace
from typing import Callable, Dict, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tool(name: str, *args, monkeypatch, capsys,
             replace: Optional[Dict[str, Callable]] = None) -> SimpleNamespace:
    """``tools/<name>.py *args`` -> ``returncode``, ``stdout`` and ``stderr`` as a subprocess
    would give them (``sys.exit('error: ...')`` prints the message and returns 1).
    ``replace`` swaps names of the tool's module (a loader that records its calls)."""
    path = os.path.join(ROOT, 'tools', f'{name}.py')
    tool = runpy.run_path(path, run_name=name)
    tool['main'].__globals__.update(replace or {})
    monkeypatch.setattr(sys, 'argv', [path, *map(str, args)])
    code = 0
    try:
        returned = tool['main']()  # a tool run as sys.exit(main()) returns its code
        code = returned if isinstance(returned, int) else 0
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
            code = 1
        else:
            code = stop.code or 0
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)
