"""A folder a tool writes results into, checked before any work starts.

A tool may overwrite only what it wrote itself, in this run or an earlier run of the same tool:

- The folder must be a writable directory, or one that can be created (it is, by the first
  write): checked before the model loads, so a typo costs a second, not a model load and a
  first image.
- It must not be the folder the inputs are read from: results written among the label maps
  would replace some (``a.png`` -> ``a.png``) and be read as label maps by the next run.
- Every planned file name is unique (two inputs that differ only in their suffix, ``a.png`` and
  ``a.tif``, are told apart as ``a_png.png`` and ``a_tif.png``), and none is an input.
- A planned file that exists already must be listed in the folder's record of what this tool
  wrote (``.clade-mm-<tool>-outputs``, one name per line, appended after each file); any other
  is a user's file, and the run stops before writing anything, naming them.

Each file is written atomically (:func:`~clade_mm.engine.checkpoint_integrity.atomic_write`), so
a killed run leaves whole files, and its partial temporary files are removed by the next run.
"""
import os
import os.path as osp
import tempfile
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Sequence

from ..engine.checkpoint_integrity import atomic_write, remove_interrupted_writes


class OutputFolderError(ValueError):
    """An output folder that cannot receive the results without loss; names folder and fix."""


def output_names(input_names: Sequence[str], per_input: int = 1,
                 suffix: str = '.png') -> Dict[str, List[str]]:
    """``{input name: [output names]}``: ``stem.png``, or ``stem_k.png`` for ``per_input``
    results, where ``stem`` is the name without its suffix, or ``stem_<suffix>`` when two
    inputs share a stem."""
    stems = {name: osp.splitext(name)[0] for name in input_names}
    shared = Counter(stems.values())
    planned = {}
    for name, stem in stems.items():
        if shared[stem] > 1:
            stem = f'{stem}_{osp.splitext(name)[1].lstrip(".").lower() or "noext"}'
        planned[name] = ([f'{stem}{suffix}'] if per_input == 1 else
                         [f'{stem}_{k}{suffix}' for k in range(per_input)])
    owners = defaultdict(list)
    for name, outputs in planned.items():
        for output in outputs:
            owners[output].append(name)
    clashes = {out: names for out, names in owners.items() if len(names) > 1}
    if clashes:
        out, names = next(iter(clashes.items()))
        raise OutputFolderError(f'the inputs {", ".join(names)} would all be written as {out}: '
                                'rename one of them.')
    return planned


class OutputFolder:
    """The folder ``path`` that ``tool`` writes results into; see the module's rules.

    Args:
        path: the folder (created if absent).
        tool: the writing tool's name, which names its record file.
    """

    def __init__(self, path: str, tool: str):
        self.path = path
        self.record = osp.join(path, f'.clade-mm-{tool}-outputs')
        self.recorded = set()

    def written_before(self) -> set:
        """The names this tool wrote into the folder in earlier runs."""
        try:
            with open(self.record) as lines:
                return {line.rstrip('\n') for line in lines if line.strip()}
        except FileNotFoundError:
            return set()

    def prepare(self, outputs: Iterable[str], inputs: Iterable[str]) -> None:
        """Check the folder (created by the first write) for the file names ``outputs``, the
        input files being ``inputs`` (paths); raises :class:`OutputFolderError` naming the
        problem and the fix."""
        path = self.path
        if osp.exists(path) and not osp.isdir(path):
            raise OutputFolderError(f'the output {path} is a file, not a folder: give a folder '
                                    '(it is created if absent).')
        inputs = [osp.abspath(p) for p in inputs]
        input_files = {osp.realpath(p) for p in inputs}  # the files, links resolved
        if osp.realpath(path) in {osp.realpath(osp.dirname(p)) for p in inputs}:
            raise OutputFolderError(
                f'the output folder {path} holds the input label maps: the images would '
                'replace or mix with them. Give another folder, e.g. '
                f'{osp.join(path, "synthesized")}.')
        # Writable here, or where it will be created: nothing is made before the first write,
        # so a run that stops (the model does not load) leaves no empty folder behind.
        existing = path
        while not osp.isdir(existing or '.'):
            if osp.lexists(existing):
                raise OutputFolderError(f'cannot create the output folder {path}: {existing} '
                                        'is a file. Give a folder path.')
            existing = osp.dirname(existing)
        try:
            with tempfile.TemporaryFile(dir=existing or '.'):  # os.access misses read-only mounts
                pass
        except OSError as err:
            raise OutputFolderError(f'cannot write into the output folder {path} '
                                    f'({err.strerror}): give a writable folder.') from None
        remove_interrupted_writes(path)
        ours = self.recorded = self.written_before()
        foreign = []
        for name in outputs:
            target = osp.join(path, name)
            if not osp.lexists(target):
                continue
            if osp.realpath(target) in input_files:
                raise OutputFolderError(f'{target} is both an input and an output: give another '
                                        'output folder.')
            if name not in ours:
                foreign.append(name)
        if foreign:
            shown = ', '.join(foreign[:5]) + (f' and {len(foreign) - 5} more'
                                              if len(foreign) > 5 else '')
            raise OutputFolderError(
                f'{len(foreign)} file(s) in {path} would be overwritten but were not written '
                f'by this tool: {shown}. Nothing was written: give an empty or new folder, or '
                'move those files away.')

    def write(self, name: str, data: bytes) -> str:
        """Write ``data`` as ``name`` atomically and record it; returns the path."""
        target = osp.join(self.path, name)
        atomic_write(target, data)
        if name not in self.recorded:
            with open(self.record, 'a') as record:
                record.write(name + '\n')
            self.recorded.add(name)
        return target
