"""Every shared facts fixture through the pure-Python fallback.

tests/facts/fixtures holds fake sysroots with the answers the C gathering
must give (run by the C suite through facts-dump and the daemon).  The
fallback must give the same answers: each case is checked against its
expectations, and, when facts-dump is built, the whole map against the C
code's (generation aside), warnings included.
"""

import pytest

import facts_oracle
from skyutil import _facts_py, errors

CASES = facts_oracle.fixtures()


def _python_facts(root, pid):
    try:
        return _facts_py.compute_facts(str(root), pid=pid)
    except errors.NoSuchProcess as exc:
        return {'error': exc.name}


@pytest.fixture(params=CASES, ids=[case['name'] for case in CASES])
def case_root(request, tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    facts_oracle.fixture.materialize(request.param, str(root))
    return request.param, root


def test_fixture_set_is_complete():
    assert len(CASES) >= 45
    assert {'20-cpuset-narrower', '24-huge-values'} <= {c['name'] for c in CASES}


def test_fixture_expectations(case_root):
    case, root = case_root
    facts = _python_facts(root, case['pid'])
    assert facts_oracle.fixture.check(case, facts) == []


def test_fixture_equals_the_c_gathering(case_root):
    case, root = case_root
    c_map = facts_oracle.c_facts(str(root), case['pid'])
    if c_map is None:
        pytest.skip(f'facts-dump not built ({facts_oracle.FACTS_DUMP})')
    assert facts_oracle.differences(c_map, _python_facts(root, case['pid'])) \
        == []


def test_quota_is_reported_raw_not_clamped(tmp_path):
    """Fixtures 20 and 24: cpu_quota is quota/period, cpu_count is clamped."""
    by_name = {c['name']: c for c in CASES}
    for name, quota, count in (('20-cpuset-narrower', 8.0, 2),
                               ('24-huge-values', (2**63 - 1) / 100000, 16)):
        root = tmp_path / name
        root.mkdir()
        facts_oracle.fixture.materialize(by_name[name], str(root))
        facts = _python_facts(root, 100)
        assert facts['cpu_quota'] == pytest.approx(quota, rel=1e-12)
        assert facts['cpu_count'] == count


def test_missing_process_is_no_such_process(tmp_path):
    with pytest.raises(errors.NoSuchProcess):
        _facts_py.compute_facts(str(tmp_path), pid=4242)
    with pytest.raises(errors.NoSuchProcess):
        _facts_py.compute_facts(str(tmp_path), pid=0)


# Usage figures move between two reads; everything else must be equal.
_MOVING = ('mem_used_bytes', 'mem_working_set_bytes', 'pids_current')


def test_real_host_equals_the_daemon(real_daemon):
    import skyutil  # pylint: disable=import-outside-toplevel
    with skyutil.Client(real_daemon.path) as client:
        daemon_map = client.facts()
    local = _facts_py.compute_facts()
    for key in _MOVING:
        assert (daemon_map[key] is None) == (local[key] is None), key
        daemon_map.pop(key), local.pop(key)
    assert facts_oracle.differences(daemon_map, local) == []
