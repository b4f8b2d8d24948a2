#!/usr/bin/python3
"""Generates tests/vectors/helpers.json from upstream-equivalent code.

The vectors are shared with the C library's tests, so every expected value
comes from ``upstream_ref`` (SkyPilot's own implementations), never from
skyutil.  The only expectations not computed that way are the cases where
upstream hangs (negative hex): their expected error is skyutil's
documented ``ValueError``, written as ``"error": "EINVAL"``.

Run ``/usr/bin/python3 client/python/tests/gen_vectors.py`` after changing
the cases; ``test_vectors.py`` fails while the file is stale.
"""

import hashlib
import json
import os
import sys
import tempfile
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import upstream_ref  # noqa: E402  pylint: disable=wrong-import-position

VECTORS_PATH = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'tests',
    'vectors', 'helpers.json'))

_BASE36_INPUTS = [
    'ff', '0', '00', '1', 'a', '10', '100', 'deadbeef', 'DEADBEEF', 'DeadBeef',
    '0x10', '0X10', '0xff', '+ff', '-0', '000ff', ' ff', 'ff\n', '\tff ',
    'f_f', 'de_ad_be_ef', '0b1', '0x_ff', '7fffffffffffffff',
    'ffffffffffffffff', '10000000000000000',
    hashlib.md5(b'Cuda_11.8').hexdigest(),
    hashlib.md5(b'lora').hexdigest(),
    '0123456789abcdef0123456789abcdef',
    'ffffffffffffffffffffffffffffffff',
    '100000000000000000000000000000000',
    hashlib.sha1(b'skyutil').hexdigest(),
    hashlib.sha256(b'skyutil').hexdigest(),
]
_BASE36_INVALID = ['', ' ', '0x', '-', '+', 'g', 'z', 'xyz', 'ff_', '_ff', 'f__f',
                   '0xg', 'ff ff', '0x-1', '12.5', '-ff', '-1', '-0x10',
                   '-deadbeef']

_FORMAT_FLOATS = [
    (5, 1), (0, 1), (-7, 3), (1234567890123, 2), (5.0, 1), (0.0, 1), (-0.0, 1),
    (2.0, 3), (-3.0, 1), (1e15, 1), (1.25, 1), (1.35, 1), (0.125, 2),
    (0.375, 2), (2.5, 0), (3.5, 0), (1.5, 0), (0.05, 1), (0.15, 1), (0.1, 3),
    (1 / 3, 10), (2 / 3, 1), (-3.14159, 2), (-0.04, 1), (1234567.891, 2),
    (15.999, 1), (99.95, 1), (0.5, 1), (4.25, 1), (16.5, 1), (1e-7, 3),
    (123.456, 0),
]

_LONG_SENTENCE = 'this is a very long string that needs truncation'
_TRUNCATE_CASES = [
    ('short string', 15, False), (_LONG_SENTENCE, 20, False),
    (_LONG_SENTENCE, 35, False), (_LONG_SENTENCE, 4, False),
    (_LONG_SENTENCE, 5, False), (_LONG_SENTENCE, 0, False),
    ('us-west-2-availability-zone-1', 20, True),
    ('us-west-2-availability-zone-1', 15, True),
    ('us-west-2-availability-zone-1', 3, True),
    ('us-west-2-availability-zone-1', 0, True),
    ('us-west-2-availability-zone-1', 4, True),
    ('us-west-2-availability-zone-1', 5, True),
    ('', 10, False), ('', 0, True), ('abcde', 5, True), ('abcde', 4, True),
    ('abcdefghijklmnopqrstuvwxyz', 10, True),
    ('abcdefghijklmnopqrstuvwxyz', 11, True),
    ('abcdefghijklmnopqrstuvwxyz', 10, False),
    ('supercalifragilisticexpialidocious word', 10, False),
    ('a  b  c  d  e  f  g  h  i  j', 9, False), ('  leading spaces here', 5, False),
    ('trailing spaces here      ', 20, False),
    ('sky-storage-bucket-for-my-very-long-project-name-2024', 35, False),
    ('sky-9f2c1e7a-4d0b-4c8e-9a51-3b7c2e1f0d64-request', 36, False),
    ('one two three four five six seven eight nine ten', 35, False),
    ('one two three four five six seven eight nine ten', 12, False),
    ('one two three four five six seven eight nine ten', 13, False),
    ('one two three four five six seven eight nine ten', 14, False),
    ('héllo wörld ünïcode strings here', 12, False),
    ('héllo wörld ünïcode strings here', 12, True),
    ('😀😀😀 🎉 party time everyone', 8, False),
    ('😀😀😀 🎉 party time everyone', 8, True),
    ('日本語のテキストはスペースがありません', 7, False),
    ('日本語のテキストはスペースがありません', 7, True),
    ('cafe\u0301 cafe\u0301 cafe\u0301 cafe\u0301', 9, False),
    ('tab\tseparated\twords are not split', 10, False),
]

_READ_CASES: List[Dict[str, Any]] = [
    {'content': 'a\nb\n', 'n': 1}, {'content': 'a\nb\n', 'n': 2},
    {'content': 'a\nb\n', 'n': 5}, {'content': 'a\nb\nc', 'n': 2},
    {'content': 'a\nb\nc', 'n': 1}, {'content': 'a\nb\nc', 'n': 3},
    {'content': 'a\nb\nc', 'n': 10}, {'content': 'a\nb\nc\n', 'n': 0},
    {'content': '', 'n': 0}, {'content': '', 'n': 3},
    {'content': '\n', 'n': 1}, {'content': '\n', 'n': 3},
    {'content': '\n\n\n', 'n': 2}, {'content': 'no newline', 'n': 1},
    {'content': 'no newline', 'n': 4},
    {'content': 'a\r\nb\r\nc\r\n', 'n': 2},
    {'content': 'a\r\nb\r\nc', 'n': 5}, {'content': '\r\n', 'n': 1},
    {'content': 'abc\r', 'n': 1}, {'content': 'a\rb\n', 'n': 1},
    {'content': 'a\r\r\nb', 'n': 2}, {'content': 'x\r\ny\r', 'n': 2},
    {'content': 'a\u2028b\nc\x85d\n', 'n': 2},
    {'content': 'a\x0bb\x0cc\nd', 'n': 1},
    {'content': 'héllo\nwörld\n', 'n': 2},
    {'content': '😀 emoji\n日本語\n𝄞 clef\n', 'n': 2},
    {'content': '😀\n🎉🎉\n', 'n': 5},
    {'content_hex': 'ff0a41', 'n': 2}, {'content_hex': 'ff0a41', 'n': 1},
    {'content_hex': '410a42c3', 'n': 1},
    {'content_hex': 'e282410a', 'n': 1},
    {'content_hex': 'c0af0a', 'n': 1},
    {'content_hex': 'eda0800a', 'n': 1},
    {'content_hex': 'f48f8fbf0af4908080', 'n': 2},
    {'content_hex': 'f09f98800d0af09f98', 'n': 2},
    {'content_hex': '0d0d0a0d', 'n': 2},
    {'content': 'x' * 9000 + '\ny\n', 'n': 2},
    {'content': 'a' * 10000 + '\nlast', 'n': 2},
    {'content': 'a' * 10000 + '\nlast', 'n': 1},
    {'content': ''.join(f'line {i}\n' for i in range(3000)), 'n': 3},
    {'content': ''.join(f'line {i}\n' for i in range(2000)), 'n': 1500},
    {'content': '\n'.join('é' * 3000 for _ in range(4)), 'n': 2},
]

_HASH_CONTENTS = [{'content': ''}, {'content': 'abc'},
                  {'content': 'The quick brown fox jumps over the lazy dog'},
                  {'content': 'héllo 😀\n'}, {'content_hex': '00ff10800a0d'},
                  {'content': 'x' * 1000}]
_HASH_ALGOS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']


def _raw(case: Dict[str, Any]) -> bytes:
    if 'content_hex' in case:
        return bytes.fromhex(case['content_hex'])
    return case['content'].encode('utf-8')


def base36_vectors() -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = [
        {'in': s, 'out': upstream_ref.base36_encode(s)} for s in _BASE36_INPUTS
    ]
    for s in _BASE36_INVALID:
        try:
            value = int(s, 16)
        except ValueError:
            out.append({'in': s, 'error': 'EINVAL'})
            continue
        # Valid hex but negative: upstream never returns; skyutil raises.
        assert value < 0, s
        out.append({'in': s, 'error': 'EINVAL'})
    return out


def format_float_vectors() -> List[Dict[str, Any]]:
    return [{'num': num, 'is_int': isinstance(num, int), 'precision': prec,
             'out': upstream_ref.format_float(num, prec)}
            for num, prec in _FORMAT_FLOATS]


def truncate_vectors() -> List[Dict[str, Any]]:
    return [{'s': s, 'max_length': m, 'truncate_middle': mid,
             'out': upstream_ref.truncate_long_string(s, m, mid)}
            for s, m, mid in _TRUNCATE_CASES]


def read_last_n_lines_vectors() -> List[Dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'f')
        for case in _READ_CASES:
            with open(path, 'wb') as f:
                f.write(_raw(case))
            out.append({**case,
                        'out': upstream_ref.read_last_n_lines(path, case['n'])})
    return out


def hash_vectors() -> List[Dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'f')
        for case in _HASH_CONTENTS:
            with open(path, 'wb') as f:
                f.write(_raw(case))
            for algo in _HASH_ALGOS:
                out.append({**case, 'algo': algo,
                            'hex': upstream_ref.hash_file(path,
                                                          algo).hexdigest()})
    return out


def parallel_threads_vectors() -> List[Dict[str, Any]]:
    return [{'cpu_count': cpus, 'cloud': cloud,
             'out': upstream_ref.get_parallel_threads(cpus, cloud)}
            for cpus in (1, 2, 4, 5, 6, 8, 16, 64, 192)
            for cloud in (None, 'kubernetes', 'Kubernetes', 'KUBERNETES',
                          'aws', 'gcp', '', 'k8s')]


def max_workers_vectors() -> List[Dict[str, Any]]:
    return [{'nofile_soft': soft, 'fds_per_source': fds, 'cpu_count': cpus,
             'cloud': cloud,
             'out': upstream_ref.get_max_workers_for_file_mounts(
                 soft, fds, cpus, cloud)}
            for soft in (50, 100, 101, 105, 256, 1024, 4096, 65536, 1048576)
            for fds in (5, 50, 500, 5000)
            for cpus in (1, 8, 64)
            for cloud in (None, 'kubernetes')]


def build() -> Dict[str, Any]:
    return {
        'base36_encode': base36_vectors(),
        'format_float': format_float_vectors(),
        'truncate_long_string': truncate_vectors(),
        'read_last_n_lines': read_last_n_lines_vectors(),
        'hash_file': hash_vectors(),
        'parallel_threads': parallel_threads_vectors(),
        'max_workers_for_file_mounts': max_workers_vectors(),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + '\n'


def main() -> None:
    os.makedirs(os.path.dirname(VECTORS_PATH), exist_ok=True)
    with open(VECTORS_PATH, 'w', encoding='utf-8') as f:
        f.write(render())
    print(f'wrote {VECTORS_PATH}')


if __name__ == '__main__':
    main()
