"""tools/demo_norms.py (the first step of ``make demo``) runs every registered family on its
scene, each with the inputs it reads, and tells the families from plain batch norm."""
from tests.families import FAMILIES
from tests.tools import run_tool


def test_every_family_keeps_the_class_and_batch_norm_washes_it_away(tmp_path, monkeypatch,
                                                                     capsys):
    result = run_tool('demo_norms', '--work-dir', tmp_path, monkeypatch=monkeypatch,
                      capsys=capsys)
    assert result.returncode == 0, result.stderr
    lines = {line.split(':')[0].strip(): line for line in result.stdout.splitlines()
             if 'parameters;' in line}
    assert 'washes the class away' in lines['BatchNorm2d (plain)']
    for family in FAMILIES:
        assert 'keeps the class' in lines[family], lines.get(family)
    assert (tmp_path / 'instance_edges.png').is_file()
