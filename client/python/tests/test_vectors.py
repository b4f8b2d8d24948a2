"""Every shared vector in tests/vectors/helpers.json holds for skyutil."""

import json

import pytest

import gen_vectors
import skyutil
from skyutil import helpers

with open(gen_vectors.VECTORS_PATH, encoding='utf-8') as _f:
    VECTORS = json.load(_f)


def _ids(key):
    return [str(i) for i in range(len(VECTORS[key]))]


def test_file_is_generated_from_upstream_code():
    with open(gen_vectors.VECTORS_PATH, encoding='utf-8') as f:
        assert f.read() == gen_vectors.render(), (
            'helpers.json is stale: run tests/gen_vectors.py')


def test_every_section_is_present():
    assert set(VECTORS) == {
        'base36_encode', 'format_float', 'truncate_long_string',
        'read_last_n_lines', 'hash_file', 'parallel_threads',
        'max_workers_for_file_mounts'}


@pytest.mark.parametrize('case', VECTORS['base36_encode'],
                         ids=_ids('base36_encode'))
def test_base36_encode(case):
    if 'error' in case:
        assert case['error'] == 'EINVAL'
        with pytest.raises(ValueError):
            skyutil.base36_encode(case['in'])
    else:
        assert skyutil.base36_encode(case['in']) == case['out']


@pytest.mark.parametrize('case', VECTORS['format_float'],
                         ids=_ids('format_float'))
def test_format_float(case):
    num = int(case['num']) if case['is_int'] else float(case['num'])
    assert skyutil.format_float(num, case['precision']) == case['out']


@pytest.mark.parametrize('case', VECTORS['truncate_long_string'],
                         ids=_ids('truncate_long_string'))
def test_truncate_long_string(case):
    assert skyutil.truncate_long_string(
        case['s'], case['max_length'], case['truncate_middle']) == case['out']


def _write(tmp_path, case):
    path = tmp_path / 'f'
    if 'content_hex' in case:
        path.write_bytes(bytes.fromhex(case['content_hex']))
    else:
        path.write_bytes(case['content'].encode('utf-8'))
    return str(path)


@pytest.mark.parametrize('case', VECTORS['read_last_n_lines'],
                         ids=_ids('read_last_n_lines'))
def test_read_last_n_lines(case, tmp_path):
    path = _write(tmp_path, case)
    assert skyutil.read_last_n_lines(path, case['n']) == case['out']
    # The chunk size only changes how the file is read, never the result.
    for chunk_size in (1, 3, 64):
        assert skyutil.read_last_n_lines(path, case['n'],
                                         chunk_size=chunk_size) == case['out']


@pytest.mark.parametrize('case', VECTORS['hash_file'], ids=_ids('hash_file'))
def test_hash_file(case, tmp_path):
    path = _write(tmp_path, case)
    assert skyutil.hash_file(path, case['algo']).hexdigest() == case['hex']


@pytest.mark.parametrize('case', VECTORS['parallel_threads'],
                         ids=_ids('parallel_threads'))
def test_parallel_threads(case, monkeypatch):
    assert helpers.parallel_threads_for(case['cpu_count'],
                                        case['cloud']) == case['out']
    monkeypatch.setenv('SKYPILOT_POD_CPU_CORE_LIMIT', str(case['cpu_count']))
    assert skyutil.get_parallel_threads(case['cloud']) == case['out']


@pytest.mark.parametrize('case', VECTORS['max_workers_for_file_mounts'],
                         ids=_ids('max_workers_for_file_mounts'))
def test_max_workers_for_file_mounts(case):
    assert helpers.max_workers_for(case['nofile_soft'], case['fds_per_source'],
                                   case['cpu_count'],
                                   case['cloud']) == case['out']
