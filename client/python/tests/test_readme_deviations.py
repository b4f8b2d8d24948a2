"""client/python/README.md documents every deliberate difference from
upstream SkyPilot, in its "Where skyutil differs from upstream" table."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                      'README.md')


def _rows():
    with open(README, encoding='utf-8') as f:
        text = f.read()
    table = text.split('### Where skyutil differs from upstream', 1)[1]
    rows = {}
    for line in table.splitlines()[1:]:
        if line.startswith('| `'):
            helper, upstream, ours = [c.strip() for c in line.strip('|').split(' | ')]
            rows.setdefault(helper, []).append(upstream + ' || ' + ours)
        elif rows and not line.startswith('|'):
            break
    return {k: '\n'.join(v) for k, v in rows.items()}


ROWS = _rows()


@pytest.mark.parametrize('helper,phrases', [
    ('`base36_encode`', ['loops forever', '`ValueError`']),
    ('`get_cpu_count`', ['0.5 CPU gives 1', '1.5 gives 1', '2.5 gives 2',
                         'cpu_count_floor', 'rounds **up**', 'raw quota/period']),
    ('`get_cpu_count` with `SKYPILOT_POD_CPU_CORE_LIMIT`', ['at least 1']),
    ('`get_parallel_threads`', ['cgroup-aware', 'SKYPILOT_POD_CPU_CORE_LIMIT']),
    ('`get_max_workers_for_file_mounts`', ['unlimited', 'returns 1',
                                           'without a warning']),
    ('`find_free_port`', ['port 0', '`ValueError` for `start_port < 1`']),
    ('`kill_children_processes`', ['`None`', 'PermissionError',
                                   'psutil.AccessDenied', 'thread id',
                                   'SIGCONT']),
    ('`kill_children_processes` arguments', ['negative → `ValueError`',
                                             'pid_t', '`TypeError`']),
    ('`is_process_alive`, `are_processes_alive`, `wait_for_exit`',
     ['zombies are dead', 'thread id', 'leader thread exited']),
])
def test_deviation_is_documented(helper, phrases):
    assert helper in ROWS, sorted(ROWS)
    for phrase in phrases:
        assert phrase in ROWS[helper], (helper, phrase)


def test_socket_resolution_is_documented():
    with open(README, encoding='utf-8') as f:
        text = re.sub(r'\s+', ' ', f.read())
    assert 'a relative one is invalid per the XDG spec and ignored' in text
