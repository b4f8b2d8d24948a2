"""String and file helpers: upstream results and upstream exceptions."""

import hashlib
import os
import random
import socket

import pytest

import skyutil
import upstream_ref

RNG_SEED = 20240607


def _random_text(rng, alphabet, max_len):
    return ''.join(rng.choice(alphabet) for _ in range(rng.randrange(max_len)))


# ------------------------------------------------------------- base36


def test_base36_matches_upstream_on_random_hex():
    rng = random.Random(RNG_SEED)
    for _ in range(2000):
        hex_str = f'{rng.getrandbits(rng.randrange(1, 300)):x}'
        assert skyutil.base36_encode(hex_str) == upstream_ref.base36_encode(
            hex_str)


def test_base36_known_values_and_cluster_name_hash():
    assert skyutil.base36_encode('ff') == '73'
    assert skyutil.base36_encode('0x10') == 'g'
    assert skyutil.base36_encode('100') == '74'
    assert skyutil.base36_encode('deadbeef') == '1ps9wxb'
    # SkyPilot's make_cluster_name_on_cloud test: "cud-73-..." for Cuda_11.8.
    digest = hashlib.md5(b'Cuda_11.8').hexdigest()
    assert skyutil.base36_encode(digest)[:2] == '73'


@pytest.mark.parametrize('bad', ['-ff', '-1', '-0x10', 'xyz', '', '0x'])
def test_base36_rejects_negative_and_invalid(bad):
    with pytest.raises(ValueError):
        skyutil.base36_encode(bad)


# -------------------------------------------------------- format_float


def test_format_float_matches_upstream_on_random_values():
    rng = random.Random(RNG_SEED)
    for _ in range(2000):
        precision = rng.randrange(0, 6)
        value = rng.choice([
            rng.uniform(-1e6, 1e6), float(rng.randrange(-1000, 1000)),
            rng.randrange(-10**6, 10**6), round(rng.uniform(0, 100), 2)])
        assert skyutil.format_float(value, precision) == \
            upstream_ref.format_float(value, precision)


def test_format_float_has_no_suffixes():
    assert skyutil.format_float(1234567.89, 2) == '1234567.89'
    assert skyutil.format_float(4) == '4'
    assert skyutil.format_float(16.0) == '16'
    assert skyutil.format_float(0.5) == '0.5'


# ---------------------------------------------------------- truncate


def test_truncate_matches_upstream_on_random_sentences():
    rng = random.Random(RNG_SEED)
    alphabet = 'ab é😀日 ' * 3 + '-_'
    for _ in range(3000):
        s = _random_text(rng, alphabet, 60)
        max_length = rng.randrange(0, 50)
        middle = rng.random() < 0.5
        assert skyutil.truncate_long_string(s, max_length, middle) == \
            upstream_ref.truncate_long_string(s, max_length, middle)


def test_truncate_defaults_and_skypilot_cases():
    s = 'this is a very long string that needs truncation'
    result = skyutil.truncate_long_string(s, 20)
    assert result.endswith('...') and result.startswith('this is a very')
    assert skyutil.truncate_long_string(
        'us-west-2-availability-zone-1', 15, truncate_middle=True) == \
        'us-wes...zone-1'
    assert skyutil.truncate_long_string('x' * 35) == 'x' * 35
    assert skyutil.truncate_long_string('x' * 36) == 'x' * 35 + '...'


# --------------------------------------------------- read_last_n_lines


def test_read_last_n_lines_matches_upstream_on_random_files(tmp_path):
    rng = random.Random(RNG_SEED)
    path = tmp_path / 'log'
    pieces = [b'\n', b'\r\n', b'\r', b'abc', b'\xff', b'\xe2\x82', 'é'.encode(),
              '😀'.encode(), b' ']
    for _ in range(500):
        path.write_bytes(b''.join(rng.choice(pieces)
                                  for _ in range(rng.randrange(200))))
        n = rng.randrange(0, 30)
        chunk = rng.choice([1, 2, 7, 64, 8192])
        assert skyutil.read_last_n_lines(str(path), n, chunk) == \
            upstream_ref.read_last_n_lines(str(path), n, chunk)


def test_read_last_n_lines_keeps_newlines_but_last(tmp_path):
    path = tmp_path / 'log'
    path.write_text('one\r\ntwo\nthree\n')
    assert skyutil.read_last_n_lines(str(path), 2) == ['two\n', 'three']
    assert skyutil.read_last_n_lines(str(path), 0) == []


def test_read_last_n_lines_large_file_reads_only_the_tail(tmp_path):
    path = tmp_path / 'big'
    with open(path, 'wb') as f:
        for i in range(200_000):
            f.write(b'line %d\n' % i)
    assert skyutil.read_last_n_lines(str(path), 3) == [
        'line 199997\n', 'line 199998\n', 'line 199999']


def test_read_last_n_lines_honours_encoding_arguments(tmp_path):
    path = tmp_path / 'latin'
    path.write_bytes('café\nnaïve\n'.encode('latin-1'))
    assert skyutil.read_last_n_lines(str(path), 2, encoding='latin-1') == [
        'café\n', 'naïve']
    assert skyutil.read_last_n_lines(str(path), 1, errors='ignore') == ['nave']
    with pytest.raises(UnicodeDecodeError):
        skyutil.read_last_n_lines(str(path), 1, errors='strict')


def test_read_last_n_lines_errors_match_upstream(tmp_path):
    missing = str(tmp_path / 'missing')
    with pytest.raises(AssertionError, match='File not found'):
        skyutil.read_last_n_lines(missing, 1)
    path = tmp_path / 'f'
    path.write_text('x\n')
    with pytest.raises(AssertionError, match='non-negative'):
        skyutil.read_last_n_lines(str(path), -1)
    with pytest.raises(AssertionError, match='chunk_size'):
        skyutil.read_last_n_lines(str(path), 1, chunk_size=0)
    # A directory passes the existence check and fails in open(): upstream
    # wraps that OSError in RuntimeError.
    with pytest.raises(RuntimeError, match='Failed to read last 1 lines'):
        skyutil.read_last_n_lines(str(tmp_path), 1)
    with pytest.raises(RuntimeError):
        upstream_ref.read_last_n_lines(str(tmp_path), 1)


# ------------------------------------------------------------ hash_file


@pytest.mark.parametrize('algo', ['md5', 'sha1', 'sha256', 'sha512',
                                  'sha3_256', 'blake2b'])
def test_hash_file_returns_hash_object(tmp_path, algo):
    path = tmp_path / 'data'
    data = os.urandom(700_000)  # several 256 KiB reads
    path.write_bytes(data)
    result = skyutil.hash_file(str(path), algo)
    assert result.name == hashlib.new(algo).name
    assert result.digest() == hashlib.new(algo, data).digest()
    assert result.hexdigest() == upstream_ref.hash_file(str(path),
                                                        algo).hexdigest()


def test_hash_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        skyutil.hash_file(str(tmp_path / 'missing'), 'sha256')
    path = tmp_path / 'data'
    path.write_bytes(b'x')
    with pytest.raises(ValueError):
        skyutil.hash_file(str(path), 'no-such-hash')


# -------------------------------------------------------- find_free_port


def test_find_free_port_skips_bound_ports():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(('', 0))
        held.listen()
        port = held.getsockname()[1]
        if port >= 65534:
            pytest.skip('ephemeral port at the top of the range')
        assert skyutil.find_free_port(port) > port


def test_find_free_port_no_reuseaddr_for_time_wait():
    """A port held by a listening socket with SO_REUSEADDR is still busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(('', 0))
        held.listen()
        port = held.getsockname()[1]
        if port >= 65534:
            pytest.skip('ephemeral port at the top of the range')
        assert skyutil.find_free_port(port) != port


def test_find_free_port_exhaustion_and_bad_start():
    with pytest.raises(OSError, match='No free ports available.'):
        skyutil.find_free_port(65535)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            skyutil.find_free_port(bad)
